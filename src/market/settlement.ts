import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { awards, bids, tasks } from '../db/schema.ts';
import { addAgentStats } from '../registry/agent-stats.ts';
import { transitionTask } from '../tasks/task-store.ts';
import type { AwardRow, TaskRow } from '../tasks/task-view.ts';
import { reauctionDelay } from './backoff.ts';

export const LIVE_AWARD = ['offered', 'agreed'] as const;

/** Requeue timing, from configuration. */
export type RequeuePolicy = { baseMs: number; capMs: number };

/**
 * Completes a task with its award holder's result: one transaction that completes the task
 * (guarded by the award being current), closes the award and credits the agent. Null if the
 * award is no longer the task's live award.
 */
export async function completeAward(tx: Tx, awardId: string, output: unknown): Promise<TaskRow | null> {
  const award = await lockLiveAward(tx, awardId);
  if (!award) return null;
  const row = await transitionTask(tx, {
    taskId: award.taskId,
    action: 'complete',
    guard: eq(tasks.awardId, award.id),
    // An award answered with inform-result at once never passed through agree: count its attempt here.
    set: {
      output: output ?? null,
      ...(award.status === 'offered' ? { attempts: sql`${tasks.attempts} + 1` } : {}),
    },
    event: { type: 'task.completed', agentId: award.agentId, data: { awardId: award.id } },
  });
  if (!row) return null;
  await tx
    .update(awards)
    .set({ status: 'completed', output: output ?? null, finishedAt: new Date() })
    .where(eq(awards.id, award.id));
  await addAgentStats(tx, [{ agentId: award.agentId, completions: 1 }]);
  if (award.bidId) await tx.update(bids).set({ outcome: 'accepted' }).where(eq(bids.id, award.bidId));
  return row;
}

/** The award, locked, if it is still live. */
export async function lockLiveAward(tx: Tx, awardId: string): Promise<AwardRow | null> {
  const [award] = await tx
    .select()
    .from(awards)
    .where(and(eq(awards.id, awardId), inArray(awards.status, [...LIVE_AWARD])))
    .for('update');
  return award ?? null;
}

/** An award that did not deliver counts against its agent's reputation and marks its bid. */
export async function chargeAwardFailure(
  tx: Tx,
  award: Pick<AwardRow, 'agentId' | 'bidId'>,
  outcome: 'award_failed' | 'award_refused',
): Promise<void> {
  await addAgentStats(tx, [{ agentId: award.agentId, failures: 1 }]);
  if (award.bidId) await tx.update(bids).set({ outcome }).where(eq(bids.id, award.bidId));
}

export type AwardEnd = {
  status: 'failed' | 'expired' | 'cancelled' | 'refused';
  reason: string;
  /** Counts against the agent's reputation and excludes it from this task's next rounds. */
  blame: boolean;
  /** Counts an attempt (the agent had agreed, or claimed). */
  countsAttempt: boolean;
};

export type AwardEndResult = { task: TaskRow; next: 'requeued' | 'failed' } | null;

/**
 * Ends a live award that will not deliver (failure report, missed dueAt, lease expiry, agent
 * gone), and in the same transaction requeues the task for a new round without that agent, or
 * fails it once its attempts are exhausted.
 */
export async function endAward(tx: Tx, awardId: string, end: AwardEnd): Promise<AwardEndResult> {
  const award = await lockLiveAward(tx, awardId);
  if (!award) return null;
  await tx
    .update(awards)
    .set({ status: end.status, reason: end.reason, finishedAt: new Date() })
    .where(eq(awards.id, award.id));
  if (end.blame) await chargeAwardFailure(tx, award, 'award_failed');
  const [task] = await tx.select().from(tasks).where(eq(tasks.id, award.taskId)).for('update');
  if (task?.state !== 'awarded' || task.awardId !== award.id) return null;
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
      queuedReason: `award_${end.status}`,
      nextAuctionAt: new Date(),
      requeues: sql`${tasks.requeues} + 1`,
    },
    event: {
      type: 'task.queued',
      agentId: award.agentId,
      data: { reason: `award_${end.status}`, detail: end.reason, awardId: award.id, attempts },
    },
  });
  return row ? { task: row, next: 'requeued' } : null;
}

/** Queues a task that found no taker, to be auctioned again after a backoff delay. */
export async function enqueueTask(
  tx: Tx,
  task: TaskRow,
  reason: string,
  guard: ReturnType<typeof and>,
  requeue: RequeuePolicy,
  data: Record<string, unknown> = {},
): Promise<TaskRow | null> {
  const delay = reauctionDelay(task.requeues, requeue.baseMs, requeue.capMs);
  return transitionTask(tx, {
    taskId: task.id,
    action: 'enqueue',
    guard,
    set: {
      queuedReason: reason,
      nextAuctionAt: new Date(Date.now() + delay),
      requeues: sql`${tasks.requeues} + 1`,
      roundOwner: null,
      roundLeaseUntil: null,
    },
    event: { type: 'task.queued', data: { reason, retryInMs: delay, ...data } },
  });
}
