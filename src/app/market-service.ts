import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { asPaymentError, checkBudget, payerOf, unpayableCost } from '../accounts/money-rules.ts';
import { type AwardEnd, endAward } from '../awards/end-award.ts';
import type { HeldAgreements } from '../awards/held-agreements.ts';
import type { AddressBook } from '../awards/notify-holder.ts';
import type { SchemaIndex } from '../capabilities/schema-index.ts';
import type { Config } from '../config.ts';
import type { Database, Tx } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { AppError } from '../errors/app-error.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { EventSink } from '../events/event-publisher.ts';
import type { MarketMetrics } from '../observability/market-metrics.ts';
import { submittedTraceparent } from '../observability/trace-context.ts';
import type { DeferredBid, ResultReport } from '../protocol/messages.ts';
import type { ClaimedTask, ClaimRequest } from '../protocol/queue.ts';
import { isEnded } from '../protocol/states.ts';
import type { Task, TaskSubmission } from '../protocol/task.ts';
import { waitingTasksOf } from '../queue/client-backlog.ts';
import { auctionNow } from '../queue/due-auctions.ts';
import type { WorkQueue } from '../queue/work-queue.ts';
import type { AgentRow } from '../registry/agent-view.ts';
import type { AgentClient } from '../resilience/agent-client.ts';
import type { OutboundGuard } from '../resilience/outbound-guard.ts';
import { sendReject } from '../rounds/award-negotiation.ts';
import { LateBidError, submitDeferredBid } from '../rounds/deferred-bids.ts';
import { insertTask } from '../rounds/open-round.ts';
import type { RoundRunner } from '../rounds/round-runner.ts';
import { releaseWaiting } from '../tasks/dependencies.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { type TaskRow, toTaskView } from '../tasks/task-view.ts';
import { EndedViews } from './ended-views.ts';
import { type ResultReportDeps, reportResult } from './result-report.ts';
import { busy, checkCallbackUrl, requestHashOf } from './submission-checks.ts';
import { SubmittedHere } from './submitted-here.ts';
import type { SubtaskParent } from './subtasks.ts';
import { cancelTask, deregisterAgent, retryTask } from './task-control.ts';
import { storeWaitingTask } from './waiting-tasks.ts';

export type MarketServiceDeps = {
  /** Agreements held back for their holders' reports: a result records its award's agreement. */
  agreements: HeldAgreements;
  database: Database;
  events: EventSink;
  store: TaskStore;
  runner: RoundRunner;
  queue: WorkQueue;
  client: AgentClient;
  book: AddressBook;
  hub: EventHub;
  logger: Logger;
  config: Pick<
    Config,
    | 'ACCOUNTS'
    | 'DEFAULT_BID_WINDOW_MS'
    | 'DEPENDENCY_OUTPUT_MAX_BYTES'
    | 'MAX_WAITING_TASKS_PER_CLIENT'
    | 'ROUND_LEASE_MS'
    | 'ROUND_QUEUE_MAX'
  >;
  /** Where callbacks may go (stricter than agent calls: no loopback unless OUTBOUND_LOOPBACK=allow). */
  callbackGuard: OutboundGuard;
  /** The key a task's callbacks are signed with when API keys are off (returned at submission). */
  callbackSecretOf(taskId: string): string;
  metrics: MarketMetrics;
  /** The capabilities' schemas: an input no offering agent takes is refused before it is stored. */
  schemas: SchemaIndex;
};

/** Why a long-poll's own waits are stopped: a reason of our own, so abort() builds no DOMException per poll. */
const POLL_OVER = new Error('the long-poll is over');

/**
 * The application layer: what clients and agents ask of the marketplace, as the HTTP routes call
 * it. Each use case is a few statements over the round, award, task and queue modules.
 */
export class MarketService {
  readonly ended = new EndedViews();
  private readonly submittedHere = new SubmittedHere();
  private readonly reports: ResultReportDeps;

  constructor(private readonly d: MarketServiceDeps) {
    this.reports = { ...d, endAward: (awardId, end) => this.endAward(awardId, end) };
    d.hub.onAny((n) => {
      if (!n.taskId) return;
      if (n.type === 'task.retried') this.ended.forget(n.taskId);
      if (n.state && isEnded(n.state as never)) this.submittedHere.ended(n.taskId);
      // A completion written here carries its view: waiting clients get it without another read.
      if (n.view) {
        this.ended.remember(n.view);
        if (n.view.state === 'completed') d.metrics.completed(Date.now() - Date.parse(n.view.createdAt));
      }
    });
  }

  private get db() {
    return this.d.database.db;
  }

  /**
   * A task with dependencies: stored `waiting` (waiting-tasks.ts), and released at once if they
   * have all completed already; else the sweeper releases it (or fails it) when they settle.
   */
  private async submitWaiting(
    body: TaskSubmission,
    requestHash: string | null,
    idempotencyKey: string | undefined,
    owner: string | null,
    traceparent: string | undefined,
    payer: string | null,
  ): Promise<{ view: Task; created: boolean }> {
    const stored = await storeWaitingTask(this.db, this.d.store, {
      payer,
      body,
      requestHash,
      idempotencyKey,
      owner,
      traceparent,
      bidWindowMs: body.bidWindowMs ?? this.d.config.DEFAULT_BID_WINDOW_MS,
      maxDependencyOutputBytes: this.d.config.DEPENDENCY_OUTPUT_MAX_BYTES,
    });
    if (!stored.created) return { view: await this.d.store.viewOf(stored.row), created: false };
    this.submittedHere.add(stored.row.id);
    const [released] = await this.releaseWaiting(stored.row.id);
    // Not released here: still waiting, or released (or failed) by a sweep that took it first.
    const row = released ?? (await this.d.store.getRow(stored.row.id));
    return { view: toTaskView(row, null), created: true };
  }

  /** Releases settled waiting tasks (one, or a batch) and auctions the released ones. */
  async releaseWaiting(only?: string): Promise<TaskRow[]> {
    const released = await releaseWaiting(this.db, {
      only,
      backstopMs: this.d.config.ROUND_LEASE_MS,
      maxOutputBytes: this.d.config.DEPENDENCY_OUTPUT_MAX_BYTES,
    });
    for (const t of released)
      this.d.runner.startRound(t.id, { state: 'pending', round: t.round, owner: t.callbackKey });
    return released;
  }

  /** Tasks deleted past their retention: their ended views are not served from memory. */
  forgetTasks(taskIds: readonly string[]): void {
    for (const id of taskIds) this.ended.forget(id);
  }

  /** The secret a task's callbacks are signed with when API keys are off. */
  callbackSecretOf(taskId: string): string {
    return this.d.callbackSecretOf(taskId);
  }

  /**
   * A client key may have at most MAX_WAITING_TASKS_PER_CLIENT tasks waiting for the market
   * (pending, queued, waiting on dependencies): its backlog, however large, cannot crowd out
   * another's. Keys off, every client is one: no share to keep.
   */
  private async checkWaitingShare(owner: string): Promise<void> {
    const max = this.d.config.MAX_WAITING_TASKS_PER_CLIENT;
    if ((await waitingTasksOf(this.db, owner, max)) >= max)
      throw new AppError(
        429,
        'too_many_waiting',
        `this client has ${max} tasks waiting for the market already, the most it may (MAX_WAITING_TASKS_PER_CLIENT); wait for some to be taken`,
        undefined,
        { retryAfterS: 5 },
      );
  }

  /** The task an earlier submission with this idempotency key and body made, if any. */
  findSubmitted(idempotencyKey: string, rawBody: unknown): Promise<Task | null> {
    return this.submitted(idempotencyKey, requestHashOf(rawBody));
  }

  private async submitted(idempotencyKey: string, requestHash: string): Promise<Task | null> {
    const existing = await this.d.store.findByKey(idempotencyKey, requestHash);
    return existing ? this.d.store.viewOf(existing) : null;
  }

  /**
   * Submits a task: one statement that inserts it and, when a round slot is free, opens its
   * first round. The same idempotency key and body answer the first task (created=false).
   */
  async submit(
    body: TaskSubmission,
    rawBody: unknown,
    idempotencyKey: string | undefined,
    callbackKey: string | null,
    traceparent?: string,
    parent?: SubtaskParent,
  ): Promise<{ view: Task; created: boolean }> {
    if (body.callbackUrl) await checkCallbackUrl(this.d.callbackGuard, body.callbackUrl);
    const requestHash = idempotencyKey ? requestHashOf(rawBody) : null;
    if (idempotencyKey) {
      const existing = await this.submitted(idempotencyKey, requestHash ?? '');
      if (existing) return { view: existing, created: false };
    }
    if (callbackKey) await this.checkWaitingShare(callbackKey);
    checkBudget(this.d.config.ACCOUNTS, body.budget);
    const payer = this.d.config.ACCOUNTS ? payerOf(callbackKey, parent?.agentId) : null;
    // A task with dependencies gets the rest of its input from them: its agents check it then.
    if (body.dependsOn?.length)
      return this.submitWaiting(body, requestHash, idempotencyKey, callbackKey, traceparent, payer).catch(
        (err: unknown) => {
          throw asPaymentError(err);
        },
      );
    const { unfit } = await this.d.schemas.checkInput(body.capability, body.input);
    // Backpressure: past the round queue, a task that would wait for a slot is refused and
    // nothing is stored (one no agent can bid on is still queued: it needs no slot).
    const mayWait = this.d.runner.backlog() < this.d.config.ROUND_QUEUE_MAX;
    const open = mayWait && this.d.runner.hasFreeSlot(callbackKey);
    let opening: Awaited<ReturnType<typeof insertTask>>;
    try {
      opening = await insertTask(
        this.d.database,
        this.d.events,
        {
          id: uuidv7(),
          body,
          bidWindowMs: body.bidWindowMs ?? this.d.config.DEFAULT_BID_WINDOW_MS,
          callbackKey,
          idempotencyKey: idempotencyKey ?? null,
          requestHash,
          traceParent: submittedTraceparent(traceparent),
          ...(parent ? { parent } : {}),
          payer,
        },
        open,
        mayWait,
        this.submitPolicy(unfit),
      );
    } catch (err) {
      if (!isUniqueViolation(err)) throw asPaymentError(err);
      opening = { kind: 'skipped' };
    }
    if (opening.kind === 'skipped') {
      // A concurrent (or earlier) submission with this key won the insert.
      const existing = idempotencyKey
        ? await this.d.store.findByKey(idempotencyKey, requestHash ?? '')
        : null;
      if (!existing) {
        if (!mayWait) throw busy(this.d.runner.backlog());
        throw new AppError(409, 'conflict', 'the task could not be stored; submit it again');
      }
      return { view: await this.d.store.viewOf(existing), created: false };
    }
    if (!isEnded(opening.task.state)) this.submittedHere.add(opening.task.id);
    if (opening.kind === 'opened') this.d.runner.continueOpened(opening);
    else if (opening.kind === 'pending')
      this.d.runner.startRound(opening.task.id, {
        state: 'pending',
        round: 0,
        owner: opening.task.callbackKey,
      });
    return { view: toTaskView(opening.task, null), created: true };
  }

  /** The first round's policy: agents whose inputSchema refuses the input are not invited. */
  private submitPolicy(unfit: string[]) {
    const policy = this.d.runner.openPolicy();
    return {
      ...policy,
      uninvitable: unfit.length ? [...policy.uninvitable, ...unfit] : policy.uninvitable,
      backstopMs: this.d.config.ROUND_LEASE_MS,
    };
  }

  /**
   * The task; with `waitMs`, answers as soon as it is terminal. It listens before it reads, so an
   * end between the two is not missed, and an end this manager wrote is answered from memory.
   */
  async getTask(id: string, waitMs: number, signal?: AbortSignal): Promise<Task> {
    const known = this.ended.get(id);
    if (known) return known;
    if (waitMs <= 0) return this.d.store.readView(id);
    const stop = new AbortController();
    const onClose = () => stop.abort(POLL_OVER);
    signal?.addEventListener('abort', onClose, { once: true });
    try {
      const ended = this.d.hub.waitForTask(
        id,
        waitMs,
        (n) => !!n.state && isEnded(n.state as never),
        stop.signal,
      );
      if (!this.submittedHere.has(id)) {
        const view = await this.d.store.readView(id);
        if (isEnded(view.state)) return view;
      }
      const notice = await ended;
      return notice?.view ?? this.d.store.readView(id);
    } finally {
      stop.abort(POLL_OVER);
      signal?.removeEventListener('abort', onClose);
    }
  }

  /** The award holder's result (result-report.ts). */
  reportResult(agentId: string, taskId: string, report: ResultReport): Promise<Task> {
    return reportResult(this.reports, agentId, taskId, report);
  }

  /**
   * Ends an award and, when its task went back to the queue, auctions it again once the
   * transaction has committed. With `tx`, the caller commits and then calls `afterCommit`.
   */
  async endAward(awardId: string, end: AwardEnd) {
    const ended = await this.db.transaction((tx) => endAward(tx, awardId, end));
    this.d.runner.afterAwardEnded(ended);
    return ended;
  }

  /** A deferred bid before replyBy; a late one is kept as `late` and its agent is sent a reject. */
  async submitDeferredBid(agentId: string, taskId: string, bid: DeferredBid): Promise<void> {
    const unpayable = bid.type === 'propose' && unpayableCost(this.d.config.ACCOUNTS, bid.cost);
    if (unpayable)
      throw new AppError(422, 'invalid_request', unpayable, [{ field: 'cost', message: unpayable }]);
    try {
      await submitDeferredBid(this.db, agentId, taskId, bid);
    } catch (err) {
      if (err instanceof LateBidError && err.wasProposal) {
        const address = await this.d.book.addressOf(agentId);
        if (address)
          sendReject(
            { client: this.d.client, address: () => address },
            [{ ...address, kid: null, reputation: 0, bidId: '' }],
            taskId,
            bid.round,
            'late',
          );
      }
      throw err;
    }
  }

  /** Cancels a task that has not ended (409 if it has); its holder is sent `cancel`. */
  cancel(taskId: string, why?: { code: string; message: string }): Promise<Task> {
    return cancelTask(this.d, taskId, why);
  }

  /** Puts a failed task back with fresh attempts (409 unless failed). */
  async retry(taskId: string): Promise<Task> {
    const view = await retryTask(this.d, taskId);
    this.ended.forget(taskId);
    return view;
  }

  /**
   * Deregisters an agent and, in the same transaction, ends its live awards without blame; their
   * tasks go back to bidding once it has committed.
   */
  deregister(agentId: string, deregisterIn: (tx: Tx) => Promise<string[]>): Promise<void> {
    return deregisterAgent(this.d, agentId, deregisterIn);
  }

  /** Tasks queued with no eligible agent that this agent could serve: auction them now. */
  wakeQueued(capabilities: string[]): Promise<void> {
    return auctionNow(this.db, capabilities);
  }

  /** Pulls queued tasks for an agent (a long-poll with `waitMs`). */
  claim(
    agent: AgentRow,
    req: ClaimRequest & { waitMs?: number },
    signal?: AbortSignal,
  ): Promise<ClaimedTask[]> {
    return this.d.queue.claim(agent, req, signal);
  }
}

export type { Tx };
