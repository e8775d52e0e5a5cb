import { randomUUID } from 'node:crypto';
import { isEnded } from '../protocol/states.ts';
import type { Task, TaskSubmission } from '../protocol/task.ts';
import type { ManagerClient } from './manager-client.ts';

/** What `subcontract` may set on the subtask besides its capability and input. */
export type SubcontractOptions = Partial<
  Omit<TaskSubmission, 'capability' | 'input' | 'parent' | 'dependsOn'>
>;

/**
 * Submits a subtask of the award being worked on (through the same market: the manager caps
 * its budget at the award's cost and its deadline at the award's dueAt, and never invites this
 * agent to it), waits for it by long-poll, and answers its output; a subtask that fails or is
 * cancelled throws. When the parent's work is aborted (`signal`), the subtask is cancelled.
 * The submission carries an idempotency key of its own, so a try cut off by a manager restart
 * or a database outage is made again without ever making the subtask twice.
 */
export async function subcontract(
  manager: ManagerClient,
  parent: { taskId: string; awardId: string },
  signal: AbortSignal,
  capability: string,
  input: unknown,
  options: SubcontractOptions = {},
): Promise<unknown> {
  signal.throwIfAborted();
  const body = { ...options, capability, input, parent } as TaskSubmission;
  let task = await manager.submitTask(body, `subtask-${randomUUID()}`);
  const cancel = () => void manager.cancelTask(task.id).catch(() => {});
  signal.addEventListener('abort', cancel, { once: true });
  try {
    while (!isEnded(task.state)) {
      signal.throwIfAborted();
      task = await manager.getTask(task.id, 20_000, signal);
    }
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  if (task.state !== 'completed')
    throw new Error(`subtask ${task.id} (${capability}) ${task.state}${failure(task)}`);
  return task.output;
}

const failure = (t: Task) => (t.error ? `: ${t.error.code}: ${t.error.message}` : '');
