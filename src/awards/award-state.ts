import { literals } from '../db/sql-lists.ts';
import { AWARD_STATUSES, type AwardStatus } from '../protocol/states.ts';

/** An award's life: offered to the winner, agreed (or claimed from the queue), then one end. */
export type { AwardStatus };

/** Everything that can happen to an award. */
export type AwardAction =
  | 'agree' // the winner answered agree
  | 'complete' // its holder informed a result
  | 'refuse' // the winner refused the offer
  | 'fail' // the holder reported failure, or the award call failed after its retries
  | 'expire' // no result by dueAt, or a claim lease ran out
  | 'cancel'; // the task was cancelled, passed its deadline, or the holder deregistered

/** The next status, or null if `action` is not allowed from `status`. Pure. */
export function nextAwardStatus(status: AwardStatus, action: AwardAction): AwardStatus | null {
  switch (status) {
    case 'offered':
      return {
        agree: 'agreed',
        complete: 'completed',
        refuse: 'refused',
        fail: 'failed',
        expire: 'expired',
        cancel: 'cancelled',
      }[action] as AwardStatus;
    case 'agreed':
      return action === 'agree' || action === 'refuse'
        ? null
        : ({ complete: 'completed', fail: 'failed', expire: 'expired', cancel: 'cancelled' }[
            action
          ] as AwardStatus);
    case 'completed':
    case 'failed':
    case 'refused':
    case 'expired':
    case 'cancelled':
      return null;
  }
}

/** The statuses from which `action` is allowed: the guard of every award write. */
export function awardStatusesAllowing(action: AwardAction): AwardStatus[] {
  return AWARD_STATUSES.filter((s) => nextAwardStatus(s, action) !== null);
}

/** The status `action` leads to (one per action, from whichever status allows it; checked at load). */
export function statusAfter(action: AwardAction): AwardStatus {
  const targets = [...new Set(awardStatusesAllowing(action).map((s) => nextAwardStatus(s, action)))];
  if (targets.length !== 1 || !targets[0]) throw new Error(`award action ${action} has no single target`);
  return targets[0];
}

/** `'completed'`: the status `action` writes, as a SQL literal. */
export const awardTarget = (action: AwardAction): string => literals([statusAfter(action)]);

/** `'offered','agreed'`: the guard as SQL literal list. */
export const awardGuard = (action: AwardAction): string => literals(awardStatusesAllowing(action));
