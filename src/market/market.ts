import { bulkhead } from 'cockatiel';
import { and, eq, gte, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from '../config.ts';
import type { Db, Tx } from '../db/client.ts';
import { agents, awards, bids, tasks } from '../db/schema.ts';
import type { EventHub } from '../events/event-hub.ts';
import { recordEvent } from '../events/event-log.ts';
import { ApiError } from '../http/api-error.ts';
import type { MarketPort } from '../http/deps.ts';
import type {
  AcceptProposal,
  AwardReply,
  Cfp,
  DeferredBid,
  RejectReason,
  ResultReport,
} from '../protocol/messages.ts';
import type { TaskState } from '../protocol/task.ts';
import type { AgentRegistry } from '../registry/agent-registry.ts';
import { addAgentStats, selectAgentRecords } from '../registry/agent-stats.ts';
import type { AgentRow } from '../registry/agent-view.ts';
import { reputation } from '../registry/reputation.ts';
import type { AgentAddress, AgentClient } from '../resilience/agent-client.ts';
import { type TaskStore, transitionTask } from '../tasks/task-store.ts';
import { type TaskRow, toTaskSpec } from '../tasks/task-view.ts';
import { awardDueAt } from './backoff.ts';
import { collectBids } from './collect-bids.ts';
import type { CfpAnswer, Invitee } from './round-types.ts';
import { type RankedBid, rankBids } from './scoring.ts';
import {
  type AwardEnd,
  chargeAwardFailure,
  completeAward,
  endAward,
  enqueueTask,
  LIVE_AWARD,
} from './settlement.ts';

export type MarketDeps = {
  db: Db;
  store: TaskStore;
  registry: AgentRegistry;
  client: AgentClient;
  hub: EventHub;
  logger: Logger;
  config: Config;
  managerId: string;
};

/** How a round may be opened: from the state (and round) the caller saw. */
export type RoundStart = { state: Extract<TaskState, 'pending' | 'queued' | 'bidding'>; round: number };

/**
 * The contract-net market: opens rounds, sends cfps, ranks proposals, awards the best one and
 * falls back to the next-best, settles results, and queues what finds no taker. Every state
 * change is one guarded transaction, so rounds in several managers can never award twice.
 */
export class Market implements MarketPort {
  /** Rounds running in this process, so shutdown can wait for them. */
  private readonly running = new Set<Promise<unknown>>();

  /** Bidding phases running at once in this manager; the rest wait their turn (still pending). */
  private readonly roundSlots;

  constructor(private readonly d: MarketDeps) {
    this.roundSlots = bulkhead(d.config.MAX_CONCURRENT_ROUNDS, Number.POSITIVE_INFINITY);
  }

  private get requeue() {
    return { baseMs: this.d.config.REAUCTION_BASE_MS, capMs: this.d.config.REAUCTION_CAP_MS };
  }

  private address(a: { id: string; endpoint: string }): AgentAddress {
    return { id: a.id, endpoint: a.endpoint, token: this.d.registry.tokenOf(a.id) };
  }

  private track<T>(p: Promise<T>): void {
    const guarded = p.catch((err) => this.d.logger.error({ err }, 'market operation failed'));
    this.running.add(guarded);
    void guarded.finally(() => this.running.delete(guarded));
  }

  /** Waits for the rounds this process is running (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  announce(taskId: string): void {
    this.track(this.runRound(taskId, { state: 'pending', round: 0 }));
  }

  /** Opens a round from where the caller saw the task; anything else moved it first and wins. */
  startRound(taskId: string, from: RoundStart): void {
    this.track(this.runRound(taskId, from));
  }

  private async eligibleAgents(task: TaskRow): Promise<Invitee[]> {
    const rows = await selectAgentRecords(this.d.db).where(
      and(eq(agents.status, 'active'), sql`${task.capability} = any(${agents.capabilityNames})`),
    );
    const now = Date.now();
    return rows
      .filter((a) => !task.excludedAgents.includes(a.id) && this.d.client.mayInvite(a.id, now))
      .map((a) => ({ id: a.id, endpoint: a.endpoint, reputation: reputation(a.completions, a.failures) }));
  }

  private guardFor(from: RoundStart) {
    const base = and(eq(tasks.state, from.state), eq(tasks.round, from.round));
    // Taking over a round: only once its owner's lease ran out, or the sweeper claimed it for us.
    return from.state === 'bidding' ? and(base, eq(tasks.roundOwner, this.d.managerId)) : base;
  }

  /** One whole contract-net round: open, cfp, close, rank, award. */
  async runRound(taskId: string, from: RoundStart): Promise<void> {
    // Only the bidding phase holds a slot; awarding (which may wait on retries) does not.
    const awarded = await this.roundSlots.execute(() => this.bidPhase(taskId, from));
    if (awarded) await this.awardLoop(awarded.task, awarded, awarded.ranked, awarded.invitees);
  }

  /** Open, cfp, close: the part of a round that is bounded by `MAX_CONCURRENT_ROUNDS`. */
  private async bidPhase(taskId: string, from: RoundStart) {
    const task = await this.d.store.getRow(taskId);
    if (task.state !== from.state || task.round !== from.round) return;
    const invitees = await this.eligibleAgents(task);
    if (invitees.length === 0) {
      await this.d.db.transaction((tx) =>
        enqueueTask(tx, task, 'no_eligible_agents', this.guardFor(from), this.requeue),
      );
      return;
    }
    const round = task.round + 1;
    let replyBy = new Date();
    const opened = await this.d.db.transaction(async (tx) => {
      // The window starts when the round really opens, not when it began to wait for the database.
      replyBy = new Date(Date.now() + task.bidWindowMs);
      const row = await transitionTask(tx, {
        taskId,
        action: 'announce',
        guard: this.guardFor(from),
        set: {
          round,
          replyBy,
          roundOwner: this.d.managerId,
          roundLeaseUntil: new Date(replyBy.getTime() + this.d.config.ROUND_LEASE_SLACK_MS),
          queuedReason: null,
          nextAuctionAt: null,
        },
        event: {
          type: 'round.opened',
          data: { invited: invitees.map((i) => i.id), replyBy: replyBy.toISOString() },
        },
      });
      if (!row) return null;
      // The invitations: a deferred bid must find its row, and a round's bids stay listed.
      await tx.insert(bids).values(
        invitees.map((i) => ({
          id: uuidv7(),
          taskId,
          round,
          agentId: i.id,
          type: 'no_reply' as const,
          outcome: 'pending',
        })),
      );
      await addAgentStats(
        tx,
        invitees.map((i) => ({ agentId: i.id, cfps: 1 })),
      );
      return row;
    });
    if (!opened) return;
    const cfp: Cfp = {
      type: 'cfp',
      conversationId: taskId,
      round,
      replyBy: replyBy.toISOString(),
      task: toTaskSpec(opened),
    };
    const answers = await collectBids(this.d.client, this.d.hub, cfp, invitees, (i) => this.address(i));
    return this.closeRound(opened, invitees, answers);
  }

  /** Records every bid's outcome, ranks the proposals and awards the first, or queues the task. */
  private async closeRound(task: TaskRow, invitees: Invitee[], answers: Map<string, CfpAnswer>) {
    const round = task.round;
    const now = Date.now();
    const rows = await this.d.db
      .select()
      .from(bids)
      .where(and(eq(bids.taskId, task.id), eq(bids.round, round)));
    const byAgent = new Map(invitees.map((i) => [i.id, i]));
    const finals: FinalBid[] = rows.map((r) => {
      const a = answers.get(r.agentId);
      const base = { id: r.id, agentId: r.agentId, cost: null, etaMs: null, confidence: null, reason: null };
      if (a?.type === 'propose') {
        return {
          ...base,
          type: 'propose',
          cost: a.cost,
          etaMs: a.etaMs,
          confidence: a.confidence ?? null,
          receivedAt: a.receivedAt,
          outcome: 'pending',
        };
      }
      if (a?.type === 'refuse')
        return {
          ...base,
          type: 'refuse',
          reason: a.reason ?? null,
          receivedAt: a.receivedAt,
          outcome: 'refused',
        };
      if (a?.type === 'invalid')
        return { ...base, type: 'invalid', reason: a.reason, receivedAt: a.receivedAt, outcome: 'invalid' };
      // deferred: whatever the agent posted before replyBy is in the row already.
      if (a?.type === 'deferred' && r.type === 'propose') {
        return {
          ...base,
          type: 'propose',
          cost: r.cost,
          etaMs: r.etaMs,
          confidence: r.confidence,
          receivedAt: r.receivedAt.getTime(),
          outcome: 'pending',
        };
      }
      if (a?.type === 'deferred' && r.type === 'refuse') {
        return {
          ...base,
          type: 'refuse',
          reason: r.reason,
          receivedAt: r.receivedAt.getTime(),
          outcome: 'refused',
        };
      }
      return {
        ...base,
        type: 'no_reply',
        reason: a && 'reason' in a ? (a.reason ?? null) : null,
        receivedAt: a?.receivedAt ?? now,
        outcome: 'no_reply',
      };
    });
    const proposals = finals
      .filter((f) => f.type === 'propose')
      .map((f) => ({
        id: f.id,
        agentId: f.agentId,
        cost: f.cost!,
        etaMs: f.etaMs!,
        reputation: byAgent.get(f.agentId)?.reputation ?? 0.5,
        receivedAt: f.receivedAt,
      }));
    const ranking = rankBids(
      proposals,
      { budget: task.budget, deadline: task.deadline?.getTime() ?? null, weights: task.weights },
      now,
    );
    const outcome = new Map<string, string>([
      ...ranking.ranked.map((b) => [b.id, 'ranked'] as const),
      ...ranking.unranked.map((u) => [u.bid.id, u.reason] as const),
    ]);
    for (const f of finals) f.outcome = outcome.get(f.id) ?? f.outcome;

    const best = ranking.ranked[0];
    const awarded = await this.d.db.transaction(async (tx) => {
      await writeBidOutcomes(tx, finals);
      const guard = and(
        eq(tasks.state, 'bidding'),
        eq(tasks.round, round),
        eq(tasks.roundOwner, this.d.managerId),
      );
      if (!best) {
        const counts = countBy(finals.map((f) => f.outcome));
        await enqueueTask(
          tx,
          task,
          proposals.length ? 'no_acceptable_bids' : 'no_bids',
          guard,
          this.requeue,
          { bids: counts },
        );
        return null;
      }
      return this.offerAward(tx, task, best, guard, 'task.awarded');
    });
    for (const u of ranking.unranked) this.reject(byAgent.get(u.bid.agentId), task.id, round, u.reason);
    return awarded ? { ...awarded, ranked: ranking.ranked, invitees: byAgent } : null;
  }

  /** Awards `bid` in the caller's transaction: the guarded transition and the award row. */
  private async offerAward(
    tx: Tx,
    task: TaskRow,
    bid: RankedBid,
    guard: ReturnType<typeof and>,
    eventType: string,
  ) {
    const awardId = uuidv7();
    const now = Date.now();
    // The agent is told when its work is due if it agrees now; until it answers, the award may
    // also take the award call's whole retry budget (it can wait behind cfps in the agent's
    // bulkhead). On agree, dueAt restarts from the agreement.
    const workDue = awardDueAt(now, bid.etaMs, this.grace, task.deadline?.getTime() ?? null);
    const dueAt = new Date(
      Math.min(workDue + this.awardBudgetMs, task.deadline?.getTime() ?? Number.POSITIVE_INFINITY),
    );
    const row = await transitionTask(tx, {
      taskId: task.id,
      action: 'award',
      guard,
      set: { awardId, roundLeaseUntil: null },
      event: {
        type: eventType,
        agentId: bid.agentId,
        data: { awardId, cost: bid.cost, etaMs: bid.etaMs, dueAt: new Date(workDue).toISOString() },
      },
    });
    if (!row) return null;
    await tx.insert(awards).values({
      id: awardId,
      taskId: task.id,
      agentId: bid.agentId,
      round: task.round,
      bidId: bid.id,
      kind: 'bid',
      cost: bid.cost,
      etaMs: bid.etaMs,
      awardedAt: new Date(now),
      dueAt,
    });
    await addAgentStats(tx, [{ agentId: bid.agentId, awards: 1 }]);
    return { task: row, awardId, dueAt: new Date(workDue) };
  }

  /**
   * Sends accept-proposal to the current winner; on refusal, error or timeout moves the award to
   * the next-ranked bid in the same transaction that ends the failed one; none left: queued.
   */
  private async awardLoop(
    task: TaskRow,
    first: { awardId: string; dueAt: Date },
    ranked: RankedBid[],
    invitees: Map<string, Invitee>,
  ) {
    let { awardId, dueAt } = first;
    for (let i = 0; i < ranked.length; i++) {
      const bid = ranked[i]!;
      const invitee = invitees.get(bid.agentId)!;
      const msg: AcceptProposal = {
        type: 'accept-proposal',
        conversationId: task.id,
        round: task.round,
        awardId,
        task: toTaskSpec(task),
        dueAt: dueAt.toISOString(),
        resultUrl: `${this.publicUrl()}/v1/tasks/${task.id}/result`,
      };
      let reply: AwardReply | { type: 'error'; reason: string };
      try {
        reply = await this.d.client.award(this.address(invitee), msg);
      } catch (err) {
        reply = { type: 'error', reason: err instanceof Error ? err.message : String(err) };
      }
      if (reply.type === 'agree') {
        // The agent's estimate runs from its agreement, not from when the award was offered.
        const due = new Date(awardDueAt(Date.now(), bid.etaMs, this.grace, task.deadline?.getTime() ?? null));
        const ok = await this.d.db.transaction((tx) => this.agree(tx, awardId, due));
        if (!ok) this.cancelHolder(invitee, task.id, awardId); // cancelled or expired meanwhile
        this.rejectLosers(ranked.slice(i + 1), invitees, task);
        return;
      }
      if (reply.type === 'inform-result') {
        const done = await this.d.db.transaction((tx) => completeAward(tx, awardId, reply.output));
        if (done) this.rejectLosers(ranked.slice(i + 1), invitees, task);
        return;
      }
      const failed = reply.type === 'refuse' ? `refused: ${reply.reason ?? 'no reason'}` : reply.reason;
      if (reply.type === 'error') this.cancelHolder(invitee, task.id, awardId); // it may have got it
      const next = ranked[i + 1];
      const moved = await this.d.db.transaction(async (tx) => {
        const [ended] = await tx
          .update(awards)
          .set({
            status: reply.type === 'refuse' ? 'refused' : 'failed',
            reason: failed,
            finishedAt: new Date(),
          })
          .where(and(eq(awards.id, awardId), eq(awards.status, 'offered')))
          .returning();
        if (!ended) return null;
        await chargeAwardFailure(tx, ended, reply.type === 'refuse' ? 'award_refused' : 'award_failed');
        const guard = and(eq(tasks.state, 'awarded'), eq(tasks.awardId, awardId));
        if (next) return this.offerAward(tx, task, next, guard, 'award.moved');
        await enqueueTask(tx, task, 'awards_failed', guard, this.requeue, { lastFailure: failed });
        return null;
      });
      if (!moved) return;
      ({ awardId, dueAt } = moved);
    }
  }

  private async agree(tx: Tx, awardId: string, dueAt: Date): Promise<boolean> {
    const [a] = await tx
      .update(awards)
      .set({ status: 'agreed', dueAt })
      .where(and(eq(awards.id, awardId), eq(awards.status, 'offered')))
      .returning();
    if (!a) return false;
    const [t] = await tx
      .update(tasks)
      .set({ attempts: sql`${tasks.attempts} + 1`, updatedAt: new Date() })
      .where(and(eq(tasks.id, a.taskId), eq(tasks.state, 'awarded'), eq(tasks.awardId, awardId)))
      .returning();
    if (!t) return false;
    await recordEvent(tx, {
      taskId: a.taskId,
      agentId: a.agentId,
      type: 'award.agreed',
      data: { awardId, attempts: t.attempts, dueAt: dueAt.toISOString() },
      capability: t.capability,
    });
    return true;
  }

  private get grace() {
    return { factor: this.d.config.DUE_GRACE_FACTOR, ms: this.d.config.DUE_GRACE_MS };
  }

  /** The longest an award call can take: every try timing out, with the longest backoffs between. */
  private get awardBudgetMs() {
    const c = this.d.config;
    return c.AWARD_TIMEOUT_MS * (c.AWARD_RETRIES + 1) + c.RETRY_MAX_MS * c.AWARD_RETRIES;
  }

  private publicUrl() {
    return this.d.config.PUBLIC_URL ?? `http://${this.d.config.HOST}:${this.boundPort ?? this.d.config.PORT}`;
  }

  /** The port actually bound (PORT=0 picks one), for `resultUrl`. */
  boundPort?: number;

  private reject(
    invitee: { id: string; endpoint: string } | undefined,
    taskId: string,
    round: number,
    reason: RejectReason,
  ) {
    if (!invitee) return;
    void this.d.client.notify(this.address(invitee), '/reject', {
      type: 'reject-proposal',
      conversationId: taskId,
      round,
      reason,
    });
  }

  private rejectLosers(losers: RankedBid[], invitees: Map<string, Invitee>, task: TaskRow) {
    if (!losers.length) return;
    for (const l of losers) this.reject(invitees.get(l.agentId), task.id, task.round, 'another_bid_accepted');
    void this.d.db
      .update(bids)
      .set({ outcome: 'rejected' })
      .where(
        and(
          inArray(
            bids.id,
            losers.map((l) => l.id),
          ),
          eq(bids.outcome, 'ranked'),
        ),
      )
      .catch((err) => this.d.logger.warn({ err }, 'could not record rejected bids'));
  }

  private cancelHolder(agent: { id: string; endpoint: string } | undefined, taskId: string, awardId: string) {
    if (!agent) return;
    void this.d.client.notify(this.address(agent), '/cancel', {
      type: 'cancel',
      conversationId: taskId,
      awardId,
    });
  }

  private async agentById(id: string): Promise<AgentRow | undefined> {
    const [row] = await this.d.db.select().from(agents).where(eq(agents.id, id));
    return row;
  }

  /** A deferred bid posted before `replyBy`; 409 bid_too_late after it. */
  async submitDeferredBid(agent: AgentRow, taskId: string, bid: DeferredBid): Promise<void> {
    const now = new Date();
    const values =
      bid.type === 'propose'
        ? { type: 'propose' as const, cost: bid.cost, etaMs: bid.etaMs, confidence: bid.confidence ?? null }
        : { type: 'refuse' as const, reason: bid.reason ?? null };
    const accepted = await this.d.db.transaction(async (tx) => {
      const [task] = await tx
        .select({ id: tasks.id, capability: tasks.capability })
        .from(tasks)
        .where(
          and(
            eq(tasks.id, taskId),
            eq(tasks.state, 'bidding'),
            eq(tasks.round, bid.round),
            gte(tasks.replyBy, now),
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
            eq(bids.agentId, agent.id),
            eq(bids.outcome, 'pending'),
            eq(bids.type, 'no_reply'),
          ),
        )
        .returning();
      if (!row) return false;
      await recordEvent(tx, {
        taskId,
        agentId: agent.id,
        type: 'bid.received',
        data: { round: bid.round, ...values },
        capability: task.capability,
      });
      return true;
    });
    if (accepted) return;
    const task = await this.d.store.getRow(taskId);
    const [invitation] = await this.d.db
      .select()
      .from(bids)
      .where(and(eq(bids.taskId, taskId), eq(bids.round, bid.round), eq(bids.agentId, agent.id)));
    if (!invitation)
      throw new ApiError(
        403,
        'not_invited',
        `agent ${agent.id} was not invited to round ${bid.round} of task ${taskId}`,
      );
    if (invitation.type !== 'no_reply')
      throw new ApiError(409, 'already_bid', `a bid for round ${bid.round} was already received`);
    // Late: keep the bid with its outcome, and tell the agent.
    await this.d.db
      .update(bids)
      .set({ ...values, receivedAt: now, outcome: 'late' })
      .where(and(eq(bids.id, invitation.id), eq(bids.type, 'no_reply')));
    if (bid.type === 'propose') this.reject(agent, taskId, bid.round, 'late');
    throw new ApiError(
      409,
      'bid_too_late',
      `round ${bid.round} of task ${taskId} closed${task.replyBy ? ` at ${task.replyBy.toISOString()}` : ''}; bids must arrive before replyBy`,
    );
  }

  /**
   * The award holder's result. A repeat of an accepted result is 200 and changes nothing; an
   * award that is no longer the task's is 409 stale_award; another agent's award is 403.
   */
  async reportResult(agent: AgentRow, taskId: string, report: ResultReport): Promise<TaskRow> {
    const award = await this.d.store.getAward(report.awardId);
    if (!award || award.taskId !== taskId) {
      throw new ApiError(409, 'stale_award', `award ${report.awardId} is not an award of task ${taskId}`);
    }
    if (award.agentId !== agent.id)
      throw new ApiError(403, 'forbidden', 'this award belongs to another agent');
    const repeat =
      (award.status === 'completed' && report.type === 'inform-result') ||
      (award.status === 'failed' && report.type === 'failure' && award.reason === report.reason);
    if (repeat) return this.d.store.getRow(taskId);
    const stale = () =>
      new ApiError(
        409,
        'stale_award',
        `award ${award.id} is no longer the current award of task ${taskId} (${award.status}); the result was not kept`,
      );
    if (!LIVE_AWARD.includes(award.status as never)) throw stale();
    if (report.type === 'inform-result') {
      const row = await this.d.db.transaction((tx) => completeAward(tx, award.id, report.output));
      if (!row) throw stale();
      return row;
    }
    const ended = await this.endAndRequeue(award.id, {
      status: 'failed',
      reason: report.reason,
      blame: true,
      countsAttempt: true,
    });
    if (!ended) throw stale();
    return ended.task;
  }

  /** Ends an award and, when the task went back to the queue, auctions it again at once. */
  async endAndRequeue(awardId: string, end: AwardEnd, tx?: Tx) {
    const ended = tx
      ? await endAward(tx, awardId, end)
      : await this.d.db.transaction((t) => endAward(t, awardId, end));
    if (ended?.next === 'requeued') {
      // After the caller's transaction commits: the new round must see the queued state.
      const start = () => this.startRound(ended.task.id, { state: 'queued', round: ended.task.round });
      if (tx) setImmediate(start);
      else start();
    }
    return ended;
  }

  async cancel(taskId: string): Promise<TaskRow> {
    const result = await this.d.db.transaction(async (tx) => {
      const row = await transitionTask(tx, { taskId, action: 'cancel', event: { type: 'task.cancelled' } });
      if (!row?.awardId) return row ? { row, holder: null } : null;
      const [held] = await tx
        .update(awards)
        .set({ status: 'cancelled', reason: 'task cancelled', finishedAt: new Date() })
        .where(and(eq(awards.id, row.awardId), inArray(awards.status, [...LIVE_AWARD])))
        .returning();
      return { row, holder: held ?? null };
    });
    if (!result) {
      const current = await this.d.store.getRow(taskId);
      throw new ApiError(
        409,
        'task_ended',
        `task ${taskId} has already ended (${current.state}); nothing to cancel`,
      );
    }
    if (result.holder)
      this.cancelHolder(await this.agentById(result.holder.agentId), taskId, result.holder.id);
    return result.row;
  }

  async retry(taskId: string): Promise<TaskRow> {
    const row = await this.d.db.transaction((tx) =>
      transitionTask(tx, {
        taskId,
        action: 'retry',
        set: {
          attempts: 0,
          error: null,
          completedAt: null,
          excludedAgents: [],
          requeues: 0,
          awardId: null,
          output: null,
        },
        event: { type: 'task.retried' },
      }),
    );
    if (!row) {
      const current = await this.d.store.getRow(taskId);
      throw new ApiError(
        409,
        'task_not_failed',
        `only a failed task can be retried; task ${taskId} is ${current.state}`,
      );
    }
    this.startRound(taskId, { state: 'pending', round: row.round });
    return row;
  }

  /** A deregistered agent's live awards end without blame; their tasks go back to bidding. */
  async releaseAgent(agentId: string, taskIds: string[]): Promise<void> {
    if (!taskIds.length) return;
    const live = await this.d.db
      .select({ id: awards.id })
      .from(awards)
      .where(
        and(
          eq(awards.agentId, agentId),
          inArray(awards.status, [...LIVE_AWARD]),
          inArray(awards.taskId, taskIds),
        ),
      );
    for (const a of live) {
      await this.endAndRequeue(a.id, {
        status: 'cancelled',
        reason: 'agent deregistered',
        blame: false,
        countsAttempt: false,
      });
    }
  }

  /** Tasks queued with no eligible agent that this agent could serve: auction them now. */
  async wakeQueued(capabilities: string[]): Promise<void> {
    await this.d.db
      .update(tasks)
      .set({ nextAuctionAt: new Date() })
      .where(and(eq(tasks.state, 'queued'), inArray(tasks.capability, capabilities)));
  }
}

/** A bid as the round closed it: what the agent answered and the outcome it gets. */
type FinalBid = {
  id: string;
  agentId: string;
  type: string;
  cost: number | null;
  etaMs: number | null;
  confidence: number | null;
  reason: string | null;
  receivedAt: number;
  outcome: string;
};

/** Writes a round's bid outcomes in one statement, whatever the number of bids. */
async function writeBidOutcomes(tx: Tx, finals: FinalBid[]) {
  if (!finals.length) return;
  const payload = JSON.stringify(
    finals.map((f) => ({
      ...f,
      receivedAt: new Date(f.receivedAt).toISOString(),
      reason: f.reason?.slice(0, 500) ?? null,
    })),
  );
  await tx.execute(sql`
    update bids b set type = x.type, cost = x.cost, eta_ms = x."etaMs", confidence = x.confidence,
      reason = x.reason, outcome = x.outcome, received_at = x."receivedAt"
    from jsonb_to_recordset(${payload}::jsonb)
      as x(id uuid, type text, cost float8, "etaMs" int, confidence float8, reason text, outcome text, "receivedAt" timestamptz)
    where b.id = x.id`);
  await addAgentStats(
    tx,
    finals.map((f) => ({
      agentId: f.agentId,
      proposals: f.type === 'propose' ? 1 : 0,
      refusals: f.type === 'refuse' ? 1 : 0,
      noReplies: f.type === 'no_reply' || f.type === 'invalid' ? 1 : 0,
    })),
  );
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
