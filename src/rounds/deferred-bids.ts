import { and, eq, gte } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { bids, tasks } from '../db/schema.ts';
import { DB_NOW } from '../db/sql-fragments.ts';
import { AppError } from '../errors/app-error.ts';
import { recordEvent } from '../events/event-log.ts';
import type { DeferredBid } from '../protocol/messages.ts';

/** What became of a deferred bid that was not taken: late (the agent is sent reject-proposal). */
export type DeferredBidOutcome = { accepted: true } | { accepted: false; late: boolean };

/**
 * A deferred bid posted before the round's `replyBy` fills the agent's invitation row and writes
 * `bid.received` (which wakes the round). Not invited: 403; already bid: 409; after `replyBy`:
 * kept as `late` and 409 `bid_too_late`.
 */
export async function submitDeferredBid(
  db: Db,
  agentId: string,
  taskId: string,
  bid: DeferredBid,
): Promise<void> {
  const now = new Date();
  const values =
    bid.type === 'propose'
      ? {
          type: 'propose' as const,
          cost: bid.cost,
          etaMs: bid.etaMs,
          confidence: bid.confidence ?? null,
          validUntil: bid.validUntil ? new Date(bid.validUntil) : null,
        }
      : { type: 'refuse' as const, reason: bid.reason ?? null };
  const accepted = await db.transaction(async (tx) => {
    const [task] = await tx
      .select({ id: tasks.id, capability: tasks.capability })
      .from(tasks)
      .where(
        and(
          eq(tasks.id, taskId),
          eq(tasks.state, 'bidding'),
          eq(tasks.round, bid.round),
          // replyBy was written by the database's clock: judged by it too.
          gte(tasks.replyBy, DB_NOW),
        ),
      );
    if (!task) return false;
    const [row] = await tx
      .update(bids)
      .set({ ...values, receivedAt: now })
      .where(
        and(
          eq(bids.taskId, taskId),
          eq(bids.round, bid.round),
          eq(bids.agentId, agentId),
          eq(bids.outcome, 'pending'),
          eq(bids.type, 'no_reply'),
        ),
      )
      .returning();
    if (!row) return false;
    await recordEvent(tx, {
      taskId,
      agentId,
      type: 'bid.received',
      data: { round: bid.round, ...values },
      capability: task.capability,
    });
    return true;
  });
  if (accepted) return;
  const [task] = await db.select({ replyBy: tasks.replyBy }).from(tasks).where(eq(tasks.id, taskId));
  if (!task) throw new AppError(404, 'not_found', `task ${taskId} does not exist`);
  const [invitation] = await db
    .select()
    .from(bids)
    .where(and(eq(bids.taskId, taskId), eq(bids.round, bid.round), eq(bids.agentId, agentId)));
  if (!invitation)
    throw new AppError(
      403,
      'not_invited',
      `agent ${agentId} was not invited to round ${bid.round} of task ${taskId}`,
    );
  if (invitation.type !== 'no_reply')
    throw new AppError(409, 'already_bid', `a bid for round ${bid.round} was already received`);
  // Late: keep the bid with its outcome; the caller tells the agent.
  await db
    .update(bids)
    .set({ ...values, receivedAt: now, outcome: 'late' })
    .where(and(eq(bids.id, invitation.id), eq(bids.type, 'no_reply')));
  throw new LateBidError(
    `round ${bid.round} of task ${taskId} closed${task.replyBy ? ` at ${task.replyBy.toISOString()}` : ''}; bids must arrive before replyBy`,
    bid.type === 'propose',
  );
}

/** 409 bid_too_late; `wasProposal` says whether the agent is owed a reject-proposal. */
export class LateBidError extends AppError {
  constructor(
    message: string,
    readonly wasProposal: boolean,
  ) {
    super(409, 'bid_too_late', message);
  }
}
