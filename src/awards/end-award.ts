import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { awards, bids, tasks } from '../db/schema.ts';
import { DB_NOW, dbNowPlus } from '../db/sql-fragments.ts';
import { cleanText } from '../protocol/common.ts';
import { addAgentStats } from '../registry/agent-stats.ts';
import { backoffDelay } from '../resilience/backoff.ts';
import { transitionTask } from '../tasks/task-store.ts';
import type { AwardRow, TaskRow } from '../tasks/task-view.ts';
import { type AwardAction, type AwardStatus, awardStatusesAllowing, nextAwardStatus } from './award-state.ts';
import type { AwardTiming } from './award-timing.ts';
import { type NextBid, offerAward } from './offer-award.ts';

/** Requeue timing, from configuration. */
export type RequeuePolicy = { baseMs: number; capMs: number };

/** How a live award ends when it will not deliver. */
export type AwardEnd = {
  action: Extract<AwardAction, 'fail' | 'expire' | 'cancel'>;
  reason: string;
  /** Counts against the agent's reputation and excludes it from this task's next rounds. */
  blame: boolean;
  /** Counts an attempt (the agent had agreed, or claimed). */
  countsAttempt: boolean;
};

export type AwardEndResult = { task: TaskRow; next: 'requeued' | 'failed' } | null;

/** The award, locked, if `action` may still apply to it. */
async function lockAward(tx: Tx, awardId: string, action: AwardAction): Promise<AwardRow | null> {
  const [award] = await tx
    .select()
    .from(awards)
    .where(and(eq(awards.id, awardId), inArray(awards.status, awardStatusesAllowing(action))))
    .for('update');
  return award ?? null;
}

/** An award that did not deliver counts against its agent's reputation and marks its bid. */
async function chargeFailure(
  tx: Tx,
  award: Pick<AwardRow, 'agentId' | 'bidId'>,
  outcome: 'award_failed' | 'award_refused',
) {
  await addAgentStats(tx, [{ agentId: award.agentId, failures: 1 }]);
  if (award.bidId) await tx.update(bids).set({ outcome }).where(eq(bids.id, award.bidId));
}

/**
 * Ends a live award that will not deliver (failure report, missed dueAt, lease expiry, agent
 * gone) and, in the caller's transaction, requeues the task for a new round without that agent,
 * or fails it once its attempts are exhausted. The task is checked first: an award the task no
 * longer points at is left alone and nobody is blamed. The caller starts the new round after
 * its commit.
 */
export async function endAward(tx: Tx, awardId: string, given: AwardEnd): Promise<AwardEndResult> {
  const end = { ...given, reason: cleanText(given.reason).slice(0, 2000) };
  const award = await lockAward(tx, awardId, end.action);
  if (!award) return null;
  const [task] = await tx.select().from(tasks).where(eq(tasks.id, award.taskId)).for('update');
  // Never null: lockAward took the award only in a status that allows the action.
  const status = nextAwardStatus(award.status, end.action) as AwardStatus;
  await tx
    .update(awards)
    .set({ status, reason: end.reason, finishedAt: new Date(), watchLeaseUntil: null })
    .where(eq(awards.id, award.id));
  // An award its task no longer points at ends without blame: the agent is not at fault.
  if (task?.state !== 'awarded' || task.awardId !== award.id) return null;
  if (end.blame) await chargeFailure(tx, award, 'award_failed');
  const attempts = task.attempts + (end.countsAttempt && award.status === 'offered' ? 1 : 0);
  const excludedAgents = end.blame
    ? [...new Set([...task.excludedAgents, award.agentId])]
    : task.excludedAgents;
  const guard = eq(tasks.awardId, award.id);
  if (attempts >= task.maxAttempts && end.countsAttempt) {
    const row = await transitionTask(tx, {
      taskId: task.id,
      action: 'fail',
      guard,
      set: {
        attempts,
        excludedAgents,
        error: {
          code: 'attempts_exhausted',
          message: `all ${task.maxAttempts} attempts failed; last: ${end.reason}`,
        },
      },
      event: {
        type: 'task.failed',
        agentId: award.agentId,
        data: { code: 'attempts_exhausted', reason: end.reason },
      },
    });
    return row ? { task: row, next: 'failed' } : null;
  }
  const row = await transitionTask(tx, {
    taskId: task.id,
    action: 'enqueue',
    guard,
    set: {
      attempts,
      excludedAgents,
      queuedReason: `award_${status}`,
      nextAuctionAt: DB_NOW,
      requeues: sql`${tasks.requeues} + 1`,
      roundLeaseUntil: null,
    },
    event: {
      type: 'task.queued',
      agentId: award.agentId,
      data: { reason: `award_${status}`, detail: end.reason, awardId: award.id, attempts },
    },
  });
  return row ? { task: row, next: 'requeued' } : null;
}

/**
 * Locks the task's live award, if any, before the task itself: the order agree and complete
 * take their locks in, so a cancel racing an agreement waits for it instead of deadlocking.
 */
export async function lockLiveAwardOf(tx: Tx, taskId: string): Promise<string[]> {
  const locked = await tx
    .select({ id: awards.id })
    .from(awards)
    .where(and(eq(awards.taskId, taskId), inArray(awards.status, awardStatusesAllowing('cancel'))))
    .for('update');
  return locked.map((a) => a.id);
}

/**
 * Locks an award the task took after `lockLiveAwardOf` ran (a round closed meanwhile) without
 * waiting: this transaction holds the task, so waiting for the award could deadlock with the
 * award's own negotiation, which locks it first. 55P03 (lock not available): try it all again.
 */
export async function lockLateAward(tx: Tx, awardId: string | null, locked: string[]): Promise<void> {
  if (!awardId || locked.includes(awardId)) return;
  await tx
    .select({ id: awards.id })
    .from(awards)
    .where(eq(awards.id, awardId))
    .for('update', { noWait: true });
}

/**
 * Cancels the task's live award, if any, in the caller's transaction (the task was cancelled or
 * passed its deadline). Returns it, so the holder can be sent `cancel` after the commit.
 */
export async function cancelLiveAward(
  tx: Tx,
  awardId: string | null,
  reason: string,
): Promise<AwardRow | null> {
  if (!awardId) return null;
  const [held] = await tx
    .update(awards)
    .set({ status: 'cancelled', reason, finishedAt: new Date(), watchLeaseUntil: null })
    .where(and(eq(awards.id, awardId), inArray(awards.status, awardStatusesAllowing('cancel'))))
    .returning();
  return held ?? null;
}

/**
 * The offered award was refused, or its call failed after retries: in one transaction it ends,
 * its agent is charged, and the award moves to `next` (`award.moved`), or with none left the
 * task is queued (`awards_failed`). Returns the new offer, or null.
 */
export async function moveAward(
  tx: Tx,
  task: TaskRow,
  awardId: string,
  failure: { refused: boolean; reason: string },
  next: NextBid | undefined,
  policy: { requeue: RequeuePolicy; timing: AwardTiming; expiredBids?: string[] },
): Promise<{ awardId: string; workDue: Date } | null> {
  failure = { ...failure, reason: cleanText(failure.reason).slice(0, 2000) };
  const [ended] = await tx
    .update(awards)
    .set({
      status: failure.refused ? 'refused' : 'failed',
      reason: failure.reason,
      finishedAt: new Date(),
      watchLeaseUntil: null,
    })
    .where(and(eq(awards.id, awardId), inArray(awards.status, awardStatusesAllowing('refuse'))))
    .returning();
  if (!ended) return null;
  await chargeFailure(tx, ended, failure.refused ? 'award_refused' : 'award_failed');
  // Bids passed over because their validUntil had passed: recorded as such, in the same commit.
  if (policy.expiredBids?.length)
    await tx.update(bids).set({ outcome: 'expired' }).where(inArray(bids.id, policy.expiredBids));
  const guard = and(eq(tasks.state, 'awarded'), eq(tasks.awardId, awardId));
  if (next) return offerAward(tx, task, next, guard, policy.timing, 'award.moved');
  const delay = backoffDelay(task.requeues, policy.requeue);
  await transitionTask(tx, {
    taskId: task.id,
    action: 'enqueue',
    guard,
    set: {
      queuedReason: 'awards_failed',
      nextAuctionAt: dbNowPlus(delay),
      requeues: sql`${tasks.requeues} + 1`,
      roundOwner: null,
      roundLeaseUntil: null,
    },
    event: {
      type: 'task.queued',
      data: { reason: 'awards_failed', retryInMs: delay, lastFailure: failure.reason },
    },
  });
  return null;
}
