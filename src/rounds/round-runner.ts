import type { Logger } from 'pino';
import { unpayableCost } from '../accounts/money-rules.ts';
import type { AwardTiming } from '../awards/award-timing.ts';
import type { AwardEndResult, RequeuePolicy } from '../awards/end-award.ts';
import type { HeldAgreements } from '../awards/held-agreements.ts';
import type { AddressBook } from '../awards/notify-holder.ts';
import type { SchemaIndex } from '../capabilities/schema-index.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { DbClock } from '../db/db-clock.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { EventSink } from '../events/event-publisher.ts';
import type { MarketMetrics } from '../observability/market-metrics.ts';
import { parseTraceparent, type TraceContext } from '../observability/trace-context.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { Cfp, CfpReply, RejectReason } from '../protocol/messages.ts';
import type { AgentAddress, AgentClient } from '../resilience/agent-client.ts';
import { InvalidAgentReplyError } from '../resilience/agent-errors.ts';
import { type TaskRow, toTaskSpec, traceIdOf } from '../tasks/task-view.ts';
import { Admission, ANONYMOUS, type SlotStatus } from './admission.ts';
import { negotiateAward, sendReject } from './award-negotiation.ts';
import { closeRound, readPostedBids } from './close-round.ts';
import { type CfpSender, collectBids } from './collect-bids.ts';
import { type FinalBid, finaliseBids } from './finalise-bids.ts';
import { iterate } from './iterate-round.ts';
import { type Opening, type OpenPolicy, openRound, type RoundStart } from './open-round.ts';
import type { Invitee } from './round-types.ts';

export type RoundRunnerDeps = {
  /** Agreements held back for their holders' reports (one statement records both). */
  agreements: HeldAgreements;
  database: Database;
  events: EventSink;
  client: AgentClient;
  hub: EventHub;
  logger: Logger;
  config: Pick<
    Config,
    | 'ACCOUNTS'
    | 'ADMISSION_TARGET_LAG_MS'
    | 'AWARD_RETRIES'
    | 'AWARD_TIMEOUT_MS'
    | 'DUE_GRACE_FACTOR'
    | 'DUE_GRACE_MS'
    | 'MAX_CONCURRENT_ROUNDS'
    | 'MAX_INVITEES'
    | 'REAUCTION_BASE_MS'
    | 'REAUCTION_CAP_MS'
    | 'RETRY_MAX_MS'
    | 'ROUND_LEASE_MS'
  >;
  managerId: string;
  book: AddressBook;
  tokenOf(agentId: string, kid: string | null): string;
  resultUrl(taskId: string): string;
  metrics: MarketMetrics;
  tracing: Tracing;
  /** The database's clock as this process sees it: rounds' replyBy are written by it. */
  clock: DbClock;
  /** Agents' input schemas: an invitee whose schema refuses the task's input is not sent the cfp. */
  schemas: SchemaIndex;
};

const STATE_SQL = 'select state from tasks where id = $1';

/**
 * Runs contract-net rounds: open (one statement) -> cfp to every invitee and collect -> close and
 * rank (one statement) -> award negotiation. Only the bidding phase holds one of
 * `MAX_CONCURRENT_ROUNDS` slots; awarding, which may wait on retries, does not.
 */
export class RoundRunner {
  private readonly running = new Set<Promise<unknown>>();
  private readonly slots: Admission;
  readonly timing: AwardTiming;
  readonly requeue: RequeuePolicy;

  constructor(private readonly d: RoundRunnerDeps) {
    const c = d.config;
    this.slots = new Admission({
      // A floor: a loop made late by intake (a burst of submissions), not by rounds, must not
      // starve the rounds to a trickle.
      min: Math.min(c.MAX_CONCURRENT_ROUNDS, Math.max(2, Math.ceil(c.MAX_CONCURRENT_ROUNDS / 8))),
      max: c.MAX_CONCURRENT_ROUNDS,
      targetLagMs: c.ADMISSION_TARGET_LAG_MS,
    });
    this.timing = {
      grace: { factor: c.DUE_GRACE_FACTOR, ms: c.DUE_GRACE_MS },
      callBudgetMs: c.AWARD_TIMEOUT_MS * (c.AWARD_RETRIES + 1) + c.RETRY_MAX_MS * c.AWARD_RETRIES,
      now: () => d.clock.now(),
    };
    this.requeue = { baseMs: c.REAUCTION_BASE_MS, capMs: c.REAUCTION_CAP_MS };
  }

  /** What opening a round needs to know now (who may be invited, lease and backoff). */
  openPolicy(): OpenPolicy {
    return {
      managerId: this.d.managerId,
      uninvitable: this.d.client.uninvitable(),
      leaseSlackMs: this.d.config.ROUND_LEASE_MS,
      requeueBaseMs: this.requeue.baseMs,
      requeueCapMs: this.requeue.capMs,
      maxInvitees: this.d.config.MAX_INVITEES,
    };
  }

  /** Rounds waiting for a bidding slot: intake and the sweeper keep it under ROUND_QUEUE_MAX. */
  backlog(): number {
    return this.slots.backlog;
  }

  /** The bidding slots now: the adaptive limit, the rounds in them, the rounds waiting (metrics). */
  slotStatus(): SlotStatus {
    return this.slots.status();
  }

  /** Whether a round of `owner`'s could start bidding at once (a submission may then open it itself). */
  hasFreeSlot(owner: string | null): boolean {
    return this.slots.hasFreeSlot(owner ?? ANONYMOUS);
  }

  private track(p: Promise<unknown>, task: { id: string; traceParent?: string | null }): void {
    const guarded = p.catch((err) =>
      this.d.logger.error({ err, taskId: task.id, traceId: traceIdOf(task.traceParent) }, 'round failed'),
    );
    this.running.add(guarded);
    void guarded.finally(() => this.running.delete(guarded));
  }

  /** How many rounds this process is running now (opening, bidding, closing, awarding). */
  get inFlight(): number {
    return this.running.size;
  }

  /** Waits for the rounds this process is running (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
    this.slots.close();
  }

  /** Opens a round from where the caller saw the task; anything else moved it first and wins. */
  startRound(taskId: string, from: RoundStart): void {
    this.track(
      this.run(from.owner, async () => {
        const opening = await openRound(this.d.database, this.d.events, taskId, from, this.openPolicy());
        return opening.kind === 'opened' ? opening : null;
      }),
      { id: taskId },
    );
  }

  /** After the commit that ended an award: a task it sent back to the queue is auctioned again. */
  afterAwardEnded(ended: AwardEndResult): void {
    if (ended?.next === 'requeued')
      this.startRound(ended.task.id, {
        state: 'queued',
        round: ended.task.round,
        owner: ended.task.callbackKey,
      });
  }

  /** Runs a round that a submission already opened in its own statement. */
  continueOpened(opening: Extract<Opening, { kind: 'opened' }>): void {
    this.track(
      this.run(opening.task.callbackKey, async () => opening),
      opening.task,
    );
  }

  private async run(
    owner: string | null,
    open: () => Promise<Extract<Opening, { kind: 'opened' }> | null>,
  ): Promise<void> {
    const closed = await this.slots.execute(owner ?? ANONYMOUS, async (release) => {
      const opened = await open();
      if (!opened) return null;
      const { task, invitees } = opened;
      // One span per round, in the trace the task was submitted with.
      return this.d.tracing.span(
        'cnp.round',
        parseTraceparent(task.traceParent),
        { 'cnp.task_id': task.id, 'cnp.round': task.round, 'cnp.invitees': invitees.length },
        (trace) => this.bid(task, invitees, trace, release),
      );
    });
    if (!closed) return;
    await this.d.tracing.span(
      'cnp.award',
      closed.trace,
      { 'cnp.task_id': closed.task.id, 'cnp.round': closed.task.round, 'cnp.ranked': closed.ranked.length },
      (trace) => this.negotiate(closed, trace),
    );
  }

  private negotiate(closed: NonNullable<Awaited<ReturnType<RoundRunner['bid']>>>, trace: TraceContext) {
    return negotiateAward(
      {
        agreements: this.d.agreements,
        database: this.d.database,
        events: this.d.events,
        db: this.d.database.db,
        client: this.d.client,
        logger: this.d.logger,
        timing: this.timing,
        requeue: this.requeue,
        address: (i) => this.address(i, trace),
        book: this.d.book,
        resultUrl: this.d.resultUrl,
        metrics: this.d.metrics,
        schemas: this.d.schemas,
      },
      closed.task,
      closed.award,
      closed.ranked,
      closed.invitees,
    );
  }

  private address(a: Pick<Invitee, 'id' | 'endpoint' | 'kid' | 'a2a'>, trace: TraceContext): AgentAddress {
    return {
      id: a.id,
      endpoint: a.endpoint,
      token: this.d.tokenOf(a.id, a.kid),
      trace,
      ...(a.a2a ? { a2a: a.a2a } : {}),
    };
  }

  /**
   * A round whose task was cancelled while it bid: every invitee that may still stand by a
   * proposal (it proposed, deferred, or has not answered) is told, reason `cancelled`.
   */
  private async rejectIfCancelled(
    task: TaskRow,
    finals: FinalBid[],
    unranked: readonly { bid: { agentId: string } }[],
    rejecter: Parameters<typeof sendReject>[0],
    byAgent: Map<string, Invitee>,
  ) {
    const [row] = await this.d.database.query<{ state: string }>(STATE_SQL, [task.id]);
    if (row?.state !== 'cancelled') return;
    const told = new Set(unranked.map((u) => u.bid.agentId));
    const standing = finals.filter((f) => f.type !== 'refuse' && !told.has(f.agentId));
    sendReject(
      rejecter,
      standing.map((f) => byAgent.get(f.agentId)),
      task.id,
      task.round,
      'cancelled',
    );
  }

  /**
   * How this round's cfps go out: an invitee whose inputSchema refuses the task's input is
   * answered a refusal in its name and never sees the cfp. (A task with dependencies gets the
   * rest of its input from them, so its input is not checked.)
   */
  private cfpSender(task: TaskRow, trace: TraceContext): CfpSender {
    return (invitee, cfp, replyBy, deadline) =>
      (task.dependsOn?.length
        ? Promise.resolve(null)
        : this.d.schemas.inputRefusal(invitee.id, task.capability, task.input)
      ).then((unfit) =>
        unfit
          ? { type: 'refuse', reason: unfit }
          : this.payable(this.d.client.cfp(this.address(invitee, trace), cfp, replyBy, deadline)),
      );
  }

  /** With accounts on, a proposal the market cannot pay (a fraction of a unit) is no bid. */
  private payable(reply: Promise<CfpReply>): Promise<CfpReply> {
    if (!this.d.config.ACCOUNTS) return reply;
    return reply.then((r) => {
      const unpayable = r.type === 'propose' && unpayableCost(true, r.cost);
      if (unpayable) throw new InvalidAgentReplyError(unpayable);
      return r;
    });
  }

  /**
   * cfp, collect, close and rank. The slot bounds the cfps in flight: once every invitee has
   * answered, a round that only waits for deferred bids gives it back (`release`), so rounds with
   * long windows and deferring agents do not hold slots they do no work in.
   */
  private async bid(task: TaskRow, invitees: Invitee[], trace: TraceContext, release: () => void) {
    const started = performance.now();
    const cfp: Cfp = {
      type: 'cfp',
      conversationId: task.id,
      round: task.round,
      replyBy: (task.replyBy ?? new Date()).toISOString(),
      task: toTaskSpec(task),
    };
    const send = this.cfpSender(task, trace);
    const answers = await collectBids(send, this.d.hub, cfp, invitees, this.d.clock, release);
    release();
    const deferred = invitees.filter((i) => answers.get(i.id)?.type === 'deferred').map((i) => i.bidId);
    const posted = await readPostedBids(this.d.database, deferred);
    const first = finaliseBids(invitees, answers, posted, Date.now());
    // Iterated Contract Net: revised cfps to the best proposers before the round closes.
    const finals =
      task.iterations > 1
        ? await iterate(
            {
              database: this.d.database,
              events: this.d.events,
              client: this.d.client,
              hub: this.d.hub,
              managerId: this.d.managerId,
              leaseSlackMs: this.d.config.ROUND_LEASE_MS,
              address: (i) => this.address(i, trace),
              send,
              clock: this.d.clock,
            },
            task,
            cfp,
            invitees,
            first,
          )
        : first;
    const closing = await closeRound(this.d.database, this.d.events, task, invitees, finals, {
      managerId: this.d.managerId,
      timing: this.timing,
      requeueBaseMs: this.requeue.baseMs,
      requeueCapMs: this.requeue.capMs,
    });
    const outcome = closing.award
      ? 'awarded'
      : !closing.task
        ? 'superseded'
        : finals.some((f) => f.type === 'propose')
          ? 'no_acceptable_bids'
          : 'no_bids';
    this.d.metrics.roundClosed(
      outcome,
      performance.now() - started,
      finals.map((f) => f.type),
    );
    if (closing.award && closing.task) this.d.metrics.awarded(Date.now() - closing.task.createdAt.getTime());
    const byAgent = new Map(invitees.map((i) => [i.id, i]));
    const rejecter = {
      client: this.d.client,
      address: (i: Invitee) => this.address(i, trace),
    };
    // One batch per reason: each reason is one message.
    const byReason = new Map<RejectReason, (Invitee | undefined)[]>();
    for (const u of closing.ranking.unranked) {
      const to = byReason.get(u.reason) ?? [];
      to.push(byAgent.get(u.bid.agentId));
      byReason.set(u.reason, to);
    }
    for (const [reason, to] of byReason) sendReject(rejecter, to, task.id, task.round, reason);
    if (!closing.task)
      await this.rejectIfCancelled(task, finals, closing.ranking.unranked, rejecter, byAgent);
    if (!closing.task || !closing.award || closing.task.state !== 'awarded') return null;
    return {
      task: closing.task,
      award: closing.award,
      ranked: closing.ranking.ranked,
      invitees: byAgent,
      trace,
    };
  }
}
