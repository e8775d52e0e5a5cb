import { TASK_STATES } from '../protocol/states.ts';
import type { TaskState } from '../protocol/task.ts';

/** Everything that can happen to a task. Each maps to exactly one audit event type. */
export type TaskAction =
  | 'release' // every task it depends on completed: it may be auctioned
  | 'announce' // open a (new) contract-net round
  | 'award' // a bid was accepted, or the award moved to the next-best bid
  | 'claim' // an agent pulled the task from the work queue
  | 'complete' // the award holder informed a result
  | 'enqueue' // no acceptable bid / no eligible agent / awards all failed
  | 'fail' // attempts exhausted or deadline exceeded
  | 'cancel' // the client cancelled
  | 'retry'; // the client revived a failed task

/** Every action, for code that asks what any action could do (the audit-trail check). */
export const TASK_ACTIONS: readonly TaskAction[] = [
  'release',
  'announce',
  'award',
  'claim',
  'complete',
  'enqueue',
  'fail',
  'cancel',
  'retry',
];

/**
 * The whole lifecycle as one pure function: the next state, or null if the action is not
 * allowed from `state`. Persistence derives its guarded `where state in (...)` from this.
 */
export function nextState(state: TaskState, action: TaskAction): TaskState | null {
  switch (state) {
    case 'waiting':
      // fail: a dependency failed or was cancelled (dependency_failed).
      return pick(action, { release: 'pending', fail: 'failed', cancel: 'cancelled' });
    case 'pending':
      return pick(action, { announce: 'bidding', enqueue: 'queued', fail: 'failed', cancel: 'cancelled' });
    case 'bidding':
      // announce from bidding: a survivor takes over a round whose owner died.
      return pick(action, {
        announce: 'bidding',
        award: 'awarded',
        enqueue: 'queued',
        fail: 'failed',
        cancel: 'cancelled',
      });
    case 'awarded':
      // award from awarded: the award moves to the next-best bid. A failed award goes through
      // queued (durable) before its next round, so there is no awarded -> bidding.
      return pick(action, {
        award: 'awarded',
        complete: 'completed',
        enqueue: 'queued',
        fail: 'failed',
        cancel: 'cancelled',
      });
    case 'queued':
      return pick(action, { announce: 'bidding', claim: 'awarded', fail: 'failed', cancel: 'cancelled' });
    case 'failed':
      return pick(action, { retry: 'pending' });
    case 'completed':
    case 'cancelled':
      return null;
  }
}

function pick(action: TaskAction, table: Partial<Record<TaskAction, TaskState>>): TaskState | null {
  return table[action] ?? null;
}

/** The states from which `action` is allowed: the guard of every persisted transition. */
export function statesAllowing(action: TaskAction): TaskState[] {
  return TASK_STATES.filter((s) => nextState(s, action) !== null);
}

/**
 * The state `action` leads to: the target every persisted transition writes. Each action has one
 * target from whichever state allows it; a machine where that stops holding fails here, at load.
 */
export function stateAfter(action: TaskAction): TaskState {
  const targets = [...new Set(statesAllowing(action).map((s) => nextState(s, action)))];
  if (targets.length !== 1 || !targets[0]) throw new Error(`task action ${action} has no single target`);
  return targets[0];
}
