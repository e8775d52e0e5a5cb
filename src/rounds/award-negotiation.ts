import type { Logger } from 'pino';
import { agreeAward } from '../awards/agree-award.ts';
import type { AwardTiming } from '../awards/award-timing.ts';
import { awardDueAt } from '../awards/award-timing.ts';
import { completeAward } from '../awards/complete-award.ts';
import { moveAward, type RequeuePolicy } from '../awards/end-award.ts';
import type { HeldAgreements } from '../awards/held-agreements.ts';
import { type AddressBook, sendCancel } from '../awards/notify-holder.ts';
import type { SchemaIndex } from '../capabilities/schema-index.ts';
import type { Database, Db } from '../db/client.ts';
import type { EventSink } from '../events/event-publisher.ts';
import type { MarketMetrics } from '../observability/market-metrics.ts';
import type { AcceptProposal, AwardReply, RejectReason } from '../protocol/messages.ts';
import type { AgentAddress, AgentClient } from '../resilience/agent-client.ts';
import type { TaskRow } from '../tasks/task-view.ts';
import { toTaskSpec } from '../tasks/task-view.ts';
import type { Invitee } from './round-types.ts';
import type { RankedBid } from './scoring.ts';

export type NegotiationDeps = {
  agreements: HeldAgreements;
  database: Database;
  events: EventSink;
  db: Db;
  client: AgentClient;
  logger: Logger;
  timing: AwardTiming;
  requeue: RequeuePolicy;
  address(i: Invitee): AgentAddress;
  book: AddressBook;
  resultUrl(taskId: string): string;
  metrics: MarketMetrics;
  schemas: SchemaIndex;
};

/** reject-proposal to bidders, best effort, off the hot path: one message, one deadline for all. */
export function sendReject(
  d: Pick<NegotiationDeps, 'client' | 'address'>,
  invitees: readonly (Invitee | undefined)[],
  taskId: string,
  round: number,
  reason: RejectReason,
) {
  const to = invitees.filter((i): i is Invitee => i !== undefined).map((i) => d.address(i));
  if (to.length === 0) return;
  void d.client.notifyEach(to, { type: 'reject-proposal', conversationId: taskId, round, reason });
}

/**
 * Sends accept-proposal to the current winner. `agree`: the losers are told and the agreement
 * recorded (the losers' bids become rejected in the same statement), by the winner's result if
 * it follows within AGREEMENT_HOLD_MS, else on its own; `inform-result`: the task completes;
 * refusal, error or timeout: the award moves to the next-ranked bid in the transaction that ends
 * the failed one, and with none left the task is queued.
 */
export async function negotiateAward(
  d: NegotiationDeps,
  task: TaskRow,
  first: { awardId: string; workDue: Date },
  ranked: RankedBid[],
  invitees: Map<string, Invitee>,
): Promise<void> {
  let { awardId, workDue } = first;
  const rejectFrom = (i: number) =>
    sendReject(
      d,
      ranked.slice(i + 1).map((l) => invitees.get(l.agentId)),
      task.id,
      task.round,
      'another_bid_accepted',
    );
  for (let i = 0; i < ranked.length; i++) {
    const bid = ranked[i];
    const invitee = bid && invitees.get(bid.agentId);
    if (!bid || !invitee) return;
    const msg: AcceptProposal = {
      type: 'accept-proposal',
      conversationId: task.id,
      round: task.round,
      awardId,
      task: toTaskSpec(task),
      dueAt: workDue.toISOString(),
      resultUrl: d.resultUrl(task.id),
      cost: bid.cost,
    };
    let reply: AwardReply | { type: 'error'; reason: string };
    try {
      reply = await d.client.award(d.address(invitee), msg);
    } catch (err) {
      reply = { type: 'error', reason: err instanceof Error ? err.message : String(err) };
    }
    // An inline output that breaks the winner's outputSchema is its failure, as a late one is.
    if (reply.type === 'inform-result') {
      const unfit = await d.schemas.outputRefusal(bid.agentId, async () => task.capability, reply.output);
      if (unfit) reply = { type: 'error', reason: unfit };
    }
    if (reply.type === 'agree') {
      // The agent's estimate runs from its agreement, not from when the award was offered.
      const due = new Date(
        awardDueAt(d.timing.now(), bid.etaMs, d.timing.grace, task.deadline?.getTime() ?? null),
      );
      // Held a moment: a result that follows at once records the agreement with it.
      const held = d.agreements.hold(awardId, due);
      rejectFrom(i);
      if ((await held) === 'taken') return d.metrics.agreementRecorded('with_report');
      const agreement = await agreeAward(d.database, d.events, awardId, due);
      if (agreement.agreed) d.metrics.agreementRecorded('alone');
      // Not agreed and not completed by the winner's own result: tell the agent to stop.
      if (!agreement.agreed && agreement.status !== 'completed')
        void sendCancel(d.client, d.book, d.logger, { id: awardId, agentId: bid.agentId, taskId: task.id });
      return;
    }
    if (reply.type === 'inform-result') {
      const done = await completeAward(d.database, d.events, task.id, awardId, null, reply.output);
      if (done.done) rejectFrom(i);
      return;
    }
    const reason = reply.type === 'refuse' ? `refused: ${reply.reason ?? 'no reason'}` : reply.reason;
    // It may have got the award before the call failed.
    if (reply.type === 'error')
      void sendCancel(d.client, d.book, d.logger, { id: awardId, agentId: bid.agentId, taskId: task.id });
    // The next-best bid that is still valid; those past their validUntil are passed over.
    let j = i + 1;
    const now = Date.now();
    while (ranked[j] && ranked[j]!.validUntil != null && ranked[j]!.validUntil! <= now) j++;
    const expired = ranked.slice(i + 1, j);
    const moved = await d.db.transaction((tx) =>
      moveAward(tx, task, awardId, { refused: reply.type === 'refuse', reason }, ranked[j], {
        requeue: d.requeue,
        timing: d.timing,
        expiredBids: expired.map((b) => b.id),
      }),
    );
    sendReject(
      d,
      expired.map((b) => invitees.get(b.agentId)),
      task.id,
      task.round,
      'expired',
    );
    if (!moved) return;
    if (ranked[j]) d.metrics.awardMovedOn();
    ({ awardId, workDue } = moved);
    i = j - 1;
  }
}
