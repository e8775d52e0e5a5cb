/**
 * Every state list of the market, once. The database's enums, the zod enums, the state
 * machines, the SQL guards and the partial indexes all take their lists from here, so adding
 * a state is a change in this file (and a migration for the enum).
 */

/** A task's states, in the order of the database enum `task_state` (its migrations depend on it). */
export const TASK_STATES = [
  /** Its dependsOn tasks have not all completed: no round, not in the queue. */
  'waiting',
  'pending',
  'bidding',
  'awarded',
  'queued',
  'completed',
  'failed',
  'cancelled',
] as const;
type TaskState = (typeof TASK_STATES)[number];

/** The states a task ends in: nothing happens to it after, but a retry of a failed one. */
export const ENDED_TASK_STATES = ['completed', 'failed', 'cancelled'] as const satisfies readonly TaskState[];
export type EndedTaskState = (typeof ENDED_TASK_STATES)[number];

export const isEnded = (s: string): s is EndedTaskState =>
  (ENDED_TASK_STATES as readonly string[]).includes(s);

/** Not ended: waiting for its dependencies, or in the market. */
export const LIVE_TASK_STATES = TASK_STATES.filter((s) => !isEnded(s));

/** In the market: released (its dependencies done) and not ended; its deadline is being kept. */
export const OPEN_TASK_STATES = LIVE_TASK_STATES.filter((s) => s !== 'waiting');

/** Due for a round when its `next_auction_at` comes: new, or back in the fallback queue. */
export const AUCTIONABLE_TASK_STATES = ['queued', 'pending'] as const satisfies readonly TaskState[];

/** Placed with an agent, or ended: what a client's backlog of waiting work does not count. */
export const PLACED_OR_ENDED_TASK_STATES = ['bidding', 'awarded', ...ENDED_TASK_STATES] as const;

/** An award's statuses, in the order of the database enum `award_status`. */
export const AWARD_STATUSES = [
  'offered',
  'agreed',
  'completed',
  'failed',
  'refused',
  'expired',
  'cancelled',
] as const;
export type AwardStatus = (typeof AWARD_STATUSES)[number];

/** The statuses in which an award is its task's live award (at most one per task, by index). */
export const LIVE_AWARD_STATUSES = ['offered', 'agreed'] as const satisfies readonly AwardStatus[];

/** Ended without a result: failed, refused, expired or cancelled. */
export const UNFULFILLED_AWARD_STATUSES = AWARD_STATUSES.filter(
  (s) => s !== 'completed' && !(LIVE_AWARD_STATUSES as readonly string[]).includes(s),
);

/** An agent's statuses, in the order of the database enum `agent_status`. */
export const AGENT_STATUSES = ['active', 'draining', 'deregistered', 'inactive'] as const;
