export * from './agent.ts';
export * from './common.ts';
export * from './messages.ts';
export * from './queue.ts';
export * from './signature.ts';
export * from './task.ts';
