import type { AgentExecutor } from '@a2a-js/sdk/server';
import { dataOf, dataPart, serveA2A, TaskState, taskEvents } from '../../agents/a2a-kit.ts';

/**
 * What a real A2A agent does with a message, built only with the official @a2a-js/sdk server
 * classes (DefaultRequestHandler, InMemoryTaskStore, the Express JSON-RPC and card handlers):
 * - `complete`: works `delayMs`, then one artifact (a data part) and COMPLETED;
 * - `fail`: FAILED with a status message;
 * - `input-required`: stops in INPUT_REQUIRED, asking for more;
 * - `hang`: stays WORKING until it is cancelled;
 * - `reply`: answers with a Message (no task at all).
 */
export type A2ABehaviour = 'complete' | 'fail' | 'input-required' | 'hang' | 'reply';

export type RunningA2AAgent = {
  url: string;
  /** The card as the agent serves it (its JSON form, as a user would register it). */
  card: Record<string, unknown>;
  /** The inputs it was sent (the data part of each message), and the tasks it was asked to cancel. */
  received: unknown[];
  cancelled: string[];
  stop(): Promise<void>;
};

export async function startA2AAgent(opts: {
  name: string;
  skills: string[];
  behaviour: A2ABehaviour;
  /** Declares streaming in its card (the manager then follows its tasks by SubscribeToTask). */
  streaming?: boolean;
  delayMs?: number;
  /** The work: from the message's data part to the artifact's. */
  work?: (input: unknown) => unknown;
  /** Also serves A2A v0.3 (the SDK's compatibility layer) at the same URL. */
  legacy?: boolean;
}): Promise<RunningA2AAgent> {
  const received: unknown[] = [];
  const cancelled: string[] = [];
  const running = new Map<string, () => void>();
  const executor: AgentExecutor = {
    async execute(ctx, bus) {
      const input = dataOf(ctx.userMessage);
      received.push(input);
      const events = taskEvents(ctx, bus);
      if (opts.behaviour === 'reply') {
        events.reply([dataPart(opts.work?.(input) ?? input)]);
        bus.finished();
        return;
      }
      events.task(TaskState.TASK_STATE_SUBMITTED);
      events.status(TaskState.TASK_STATE_WORKING);
      const stopped = new Promise<boolean>((resolve) => {
        running.set(ctx.taskId, () => resolve(true));
        if (opts.behaviour !== 'hang') setTimeout(() => resolve(false), opts.delayMs ?? 20);
      });
      if (await stopped) events.status(TaskState.TASK_STATE_CANCELED, 'cancelled by the client');
      else if (opts.behaviour === 'fail')
        events.status(TaskState.TASK_STATE_FAILED, 'the model refused this input');
      else if (opts.behaviour === 'input-required')
        events.status(TaskState.TASK_STATE_INPUT_REQUIRED, 'which currency?');
      else {
        events.artifact('result', [dataPart(opts.work ? opts.work(input) : { echoed: input })]);
        events.status(TaskState.TASK_STATE_COMPLETED);
      }
      running.delete(ctx.taskId);
      bus.finished();
    },
    async cancelTask(taskId) {
      cancelled.push(taskId);
      running.get(taskId)?.();
    },
  };
  const served = await serveA2A({
    name: opts.name,
    description: `an A2A agent that ${opts.behaviour}s`,
    skills: opts.skills.map((id) => ({ id, name: id, description: `does ${id}` })),
    executor,
    ...(opts.streaming ? { streaming: true } : {}),
    ...(opts.legacy ? { legacy: true } : {}),
  });
  const card = (await (await fetch(`${served.url}/.well-known/agent-card.json`)).json()) as Record<
    string,
    unknown
  >;
  return {
    url: served.url,
    card,
    received,
    cancelled,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const stop of running.values()) stop();
        served.server.closeAllConnections();
        served.server.close(() => resolve());
      }),
  };
}
