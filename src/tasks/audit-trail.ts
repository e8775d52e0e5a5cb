import type { TaskState } from '../protocol/task.ts';
import { nextState, TASK_ACTIONS } from './state-machine.ts';

/** Whether some action of the state machine leads from `from` to `to`. */
export function isTransition(from: TaskState, to: TaskState): boolean {
  return TASK_ACTIONS.some((a) => nextState(from, a) === to);
}

/**
 * Checks a task's audit trail (the states its events carry, oldest first) against the state
 * machine: it starts at `pending` (or `waiting`, with dependencies), every step is a transition, and it ends in `finalState`.
 * Answers null for a valid path, or what is wrong with it. Pure: the chaos run checks every
 * task's trail with it.
 */
export function trailError(states: readonly TaskState[], finalState: TaskState): string | null {
  if (states[0] !== 'pending' && states[0] !== 'waiting')
    return `starts at ${states[0] ?? 'nothing'}, not pending (or waiting)`;
  for (let i = 1; i < states.length; i++) {
    const from = states[i - 1] as TaskState;
    const to = states[i] as TaskState;
    if (!isTransition(from, to)) return `step ${i}: ${from} -> ${to} is not a transition`;
  }
  const last = states[states.length - 1];
  if (last !== finalState) return `ends at ${last}, but the task is ${finalState}`;
  return null;
}
