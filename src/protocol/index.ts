export * from './agent.ts';
export * from './common.ts';
export * from './json-schema.ts';
export * from './messages.ts';
export * from './queue.ts';
export * from './signature.ts';
export * from './states.ts';
export * from './task.ts';
