import { and, asc, eq, gte, inArray, isNotNull, lt, type SQL, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { cancelLiveAward, endAward } from '../awards/end-award.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { DbClock } from '../db/db-clock.ts';
import { isLockNotAvailable } from '../db/errors.ts';
import { awards, tasks } from '../db/schema.ts';
import { DB_NOW, dbNowPlus } from '../db/sql-fragments.ts';
import { quoted } from '../db/sql-lists.ts';
import type { MarketMetrics } from '../observability/market-metrics.ts';
import { AUCTIONABLE_TASK_STATES, LIVE_AWARD_STATUSES, OPEN_TASK_STATES } from '../protocol/states.ts';
import { backOffUnservable, claimDueAuctions, offeredCapabilities } from '../queue/due-auctions.ts';
import { rollUpAgentStats } from '../registry/agent-stats.ts';
import type { CallbackOutbox } from '../tasks/callback-outbox.ts';
import { WAITING_READY_SQL } from '../tasks/dependencies.ts';
import { pruneEnded } from '../tasks/retention.ts';
import { ORPHANS_READY_SQL, orphanedSubtasks } from '../tasks/subtask-cascade.ts';
import { takeBatch } from '../tasks/take-batch.ts';
import { transitionTask } from '../tasks/task-store.ts';
import { type TaskRow, traceIdOf } from '../tasks/task-view.ts';
import { ClockSkewWatch } from './clock-skew.ts';
import type { SweepPort } from './sweep-port.ts';

const BATCH = 50;
/** Rows per retention statement; a full batch brings the next one a second later, not a minute. */
const PRUNE_BATCH = 500;
/**
 * A sweep still running after this long is taken for stuck (a statement the database never
 * answered, after it dropped a connection): the next sweep starts beside it rather than never.
 */
export const STUCK_SWEEP_MS = 60_000;

export type SweeperDeps = {
  database: Database;
  port: SweepPort;
  config: Config;
  metrics: MarketMetrics;
  logger: Logger;
  managerId: string;
  /** This manager's connections' name in pg_stat_activity: any other such name is a peer. */
  applicationName: string;
  callbacks: CallbackOutbox;
  /** Fed by each probe's reading of the database's clock (the rounds turn replyBy with it). */
  clock: DbClock;
};

/** Which sweep steps have work now, in one cheap statement (each test is a partial index probe). */
const PROBE_SQL = `select
  exists (select 1 from awards where status in ${quoted(LIVE_AWARD_STATUSES)} and due_at < now()
    and ($1::boolean or due_at >= $2::timestamptz)) as awards,
  exists (select 1 from tasks where deadline is not null and deadline < now()
    and state in ${quoted(OPEN_TASK_STATES)}) as deadlines,
  exists (select 1 from tasks where state = 'bidding' and round_lease_until < now()) as rounds,
  exists (select 1 from tasks where state in ${quoted(AUCTIONABLE_TASK_STATES)} and next_auction_at <= now()) as reauction,
  exists (select 1 from tasks where callback_due_at is not null and callback_due_at <= now()) as callbacks,
  exists (select 1 from agent_stat_deltas) as ledger,
  ${WAITING_READY_SQL} as waiting,
  ${ORPHANS_READY_SQL} as orphans,
  (extract(epoch from clock_timestamp()) * 1000)::float8 as db_ms`;

/** On PostgreSQL the probe also sees whether other managers' connections share the database. */
const PEERS_SQL = `,
  exists (select 1 from pg_stat_activity where datname = current_database()
    and application_name like 'contract-net/%' and application_name <> $3) as peers`;

type Probe = Record<
  'awards' | 'deadlines' | 'rounds' | 'reauction' | 'callbacks' | 'ledger' | 'waiting' | 'orphans',
  boolean
> & {
  peers?: boolean;
  /** The database's clock when it ran the probe, ms since the epoch. */
  db_ms: number;
};

/**
 * The durable backstop for every timer: awards past `dueAt` (and claim leases), task
 * deadlines, rounds whose owner died, and queued tasks due for re-auction; it also folds the
 * agent-counter ledger into `agents` and deletes what ended past its retention. Each batch is
 * taken with FOR UPDATE SKIP LOCKED, so managers sharing a database never sweep the same row twice.
 */
export class Sweeper {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private readonly startedAt = Date.now();
  private lastFold = 0;
  private nextPruneAt = 0;
  private readonly skew = new ClockSkewWatch();

  constructor(private readonly d: SweeperDeps) {}

  start(stuckMs = STUCK_SWEEP_MS): void {
    let startedAt = 0;
    this.timer = setInterval(() => {
      if (this.ticking && Date.now() - startedAt < stuckMs) return;
      if (this.ticking)
        this.d.logger.error(
          { runningMs: Date.now() - startedAt },
          'a sweep has not finished: starting the next one beside it (its steps lock what they take, so they do not overlap)',
        );
      startedAt = Date.now();
      const tick = this.tick().finally(() => {
        if (this.ticking === tick) this.ticking = undefined;
      });
      this.ticking = tick;
    }, this.d.config.SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  private get db() {
    return this.d.database.db;
  }

  /**
   * One sweep; exported for tests that want to drive time themselves. An idle sweep costs one
   * statement: a probe says which steps have work, and only those run. The ledger is folded at
   * most once a second.
   */
  async tick(): Promise<void> {
    let probe: Probe;
    try {
      const graceOver = Date.now() >= this.startedAt + this.d.config.RESTART_GRACE_MS;
      const onPostgres = this.d.database.driver === 'postgres';
      const sentAt = Date.now();
      const rows = await this.d.database.query<Probe>(onPostgres ? PROBE_SQL + PEERS_SQL : PROBE_SQL, [
        graceOver,
        this.startedAtByDb().toISOString(),
        ...(onPostgres ? [this.d.applicationName] : []),
      ]);
      if (!rows[0]) return;
      probe = rows[0];
      this.checkClock(sentAt, Date.now(), Number(probe.db_ms));
      if (probe.peers !== undefined) this.d.port.peersPresent(probe.peers);
    } catch (err) {
      this.d.logger.error({ err }, 'sweep probe failed');
      return;
    }
    const foldDue = probe.ledger && Date.now() - this.lastFold >= 1000;
    const pruneDue = this.d.config.TASK_RETENTION_MS > 0 && Date.now() >= this.nextPruneAt;
    const steps = [
      probe.awards && this.expireAwards,
      probe.deadlines && this.enforceDeadlines,
      probe.rounds && this.takeOverRounds,
      probe.reauction && this.reauction,
      probe.callbacks && this.deliverCallbacks,
      probe.waiting && this.releaseWaiting,
      probe.orphans && this.cancelOrphans,
      foldDue && this.foldAgentStats,
      pruneDue && this.pruneEnded,
    ].filter((s): s is () => Promise<void> => !!s);
    for (const step of steps) {
      try {
        await step.call(this);
      } catch (err) {
        this.d.logger.error({ err, step: step.name }, 'sweep step failed');
      }
    }
  }

  /** This manager's clock against the database's: a metric always, a warning when they disagree. */
  private checkClock(sentAt: number, answeredAt: number, dbMs: number) {
    if (!Number.isFinite(dbMs)) return;
    const skewMs = this.d.clock.reading(sentAt, answeredAt, dbMs);
    this.d.metrics.clockSkew(skewMs);
    if (this.skew.shouldWarn(skewMs, answeredAt - sentAt, answeredAt))
      this.d.logger.warn(
        { skewMs: Math.round(skewMs), roundTripMs: answeredAt - sentAt },
        "this manager's clock differs from the database's: leases and due times go by the database's clock (estimated here at every sweep), but agents judge the times they are sent by their own, so keep every clock in sync (NTP)",
      );
  }

  /** Awards and claim leases past due: the holder gets cancel; the task is requeued or fails. */
  private async expireAwards() {
    for (let i = 0; i < BATCH; i++) {
      const expired = await this.db.transaction(async (tx) => {
        const [due] = await tx
          .select({ id: awards.id, agentId: awards.agentId, taskId: awards.taskId, kind: awards.kind })
          .from(awards)
          .where(and(inArray(awards.status, [...LIVE_AWARD_STATUSES]), this.pastDue()))
          .orderBy(asc(awards.dueAt))
          .limit(1)
          .for('update', { skipLocked: true });
        if (!due) return null;
        const ended = await endAward(tx, due.id, {
          action: 'expire',
          reason: due.kind === 'claim' ? 'claim lease expired' : 'no result by dueAt',
          blame: true,
          countsAttempt: true,
        });
        return { due, ended };
      });
      if (!expired) return;
      this.d.metrics.awardExpired(expired.due.kind === 'claim' ? 'claim' : 'award');
      // After the commit: the new round must see the queued state.
      this.d.port.afterAwardEnded(expired.ended);
      this.d.port.sendCancel(expired.due);
    }
  }

  /**
   * Awards past `dueAt`. Those that fell due before this manager started wait until
   * `RESTART_GRACE_MS` after its start: their agents may be holding results, retrying against a
   * manager that was down, and would otherwise find their work thrown away on arrival.
   */
  private pastDue() {
    const due = lt(awards.dueAt, DB_NOW);
    return Date.now() >= this.startedAt + this.d.config.RESTART_GRACE_MS
      ? due
      : and(due, gte(awards.dueAt, this.startedAtByDb()));
  }

  /** When this manager started, by the database's clock (due times are written on it). */
  private startedAtByDb(): Date {
    return new Date(this.startedAt + this.d.clock.skewMs);
  }

  /** Unfinished tasks past their deadline fail with deadline_exceeded; a holder gets cancel. */
  private async enforceDeadlines() {
    for (let i = 0; i < BATCH; i++) {
      const ended = await this.db
        .transaction(async (tx) => {
          const [task] = await tx
            .select()
            .from(tasks)
            .where(
              and(
                inArray(tasks.state, [...OPEN_TASK_STATES]),
                isNotNull(tasks.deadline),
                lt(tasks.deadline, DB_NOW),
              ),
            )
            .limit(1)
            .for('update', { skipLocked: true });
          if (!task) return null;
          // Agree and complete lock the award before the task; this holds the task, so it must not
          // wait for the award: if it is busy, the next tick takes the task again.
          if (task.awardId)
            await tx
              .select({ id: awards.id })
              .from(awards)
              .where(eq(awards.id, task.awardId))
              .for('update', { noWait: true });
          const row = await transitionTask(tx, {
            taskId: task.id,
            action: 'fail',
            guard: eq(tasks.state, task.state),
            set: {
              error: {
                code: 'deadline_exceeded',
                message: `the deadline ${task.deadline!.toISOString()} passed`,
              },
            },
            event: { type: 'task.failed', data: { code: 'deadline_exceeded' } },
          });
          if (!row) return { holder: null };
          return { holder: await cancelLiveAward(tx, task.awardId, 'deadline exceeded') };
        })
        .catch((err: unknown) => {
          if (isLockNotAvailable(err)) return null; // its award is being agreed or completed now
          throw err;
        });
      if (!ended) return;
      if (ended.holder) this.d.port.sendCancel(ended.holder);
    }
  }

  /** Rounds whose owner's lease ran out (it died mid-round): this manager runs them again. */
  private async takeOverRounds() {
    const claimed = await takeBatch(this.db, {
      where: and(eq(tasks.state, 'bidding'), lt(tasks.roundLeaseUntil, DB_NOW)),
      set: {
        roundOwner: this.d.managerId,
        roundLeaseUntil: dbNowPlus(this.d.config.ROUND_LEASE_MS),
        takeovers: sql`${tasks.takeovers} + 1`,
      },
      limit: BATCH,
    });
    for (const t of claimed) {
      if (t.takeovers > this.d.config.MAX_ROUND_TAKEOVERS) {
        await this.abandon(t.id, t.round, t.takeovers);
        continue;
      }
      this.d.logger.warn(
        { taskId: t.id, traceId: traceIdOf(t.traceParent), round: t.round },
        'taking over a round whose owner stopped',
      );
      this.d.port.startRound(t.id, { state: 'bidding', round: t.round, owner: t.callbackKey });
    }
  }

  /**
   * A task whose rounds keep outliving their managers (one that brings them down, say) is not
   * run again for ever: it fails with round_takeovers_exhausted.
   */
  private async abandon(taskId: string, round: number, takeovers: number) {
    this.d.logger.error(
      { taskId, round, takeovers },
      'giving up a task whose rounds keep losing their manager',
    );
    await this.db.transaction((tx) =>
      transitionTask(tx, {
        taskId,
        action: 'fail',
        guard: and(
          eq(tasks.state, 'bidding'),
          eq(tasks.round, round),
          eq(tasks.roundOwner, this.d.managerId),
        ),
        set: {
          error: {
            code: 'round_takeovers_exhausted',
            message: `the rounds of this task lost their manager ${takeovers} times`,
          },
          roundOwner: null,
          roundLeaseUntil: null,
        },
        event: { type: 'task.failed', data: { code: 'round_takeovers_exhausted', takeovers } },
      }),
    );
  }

  /** Queued tasks due for another auction (and pending ones whose first round never opened). */
  private async reauction() {
    // Rounds already waiting for a slot come first: due tasks stay in the database meanwhile.
    const room = Math.min(BATCH, this.d.config.ROUND_QUEUE_MAX - this.d.port.roundBacklog());
    if (room <= 0) return;
    // Pushed forward so the next sweep leaves them to the round this one starts; every client's
    // first due task before anyone's second.
    const claimed = await claimDueAuctions(this.db, {
      limit: room,
      leaseMs: this.d.config.ROUND_LEASE_MS,
    });
    const queued = claimed.filter((t) => t.state === 'queued');
    const offered = await offeredCapabilities(this.db, [...new Set(queued.map((t) => t.capability))]);
    const unservable: TaskRow[] = [];
    for (const t of claimed) {
      if (t.state === 'queued' && t.round >= this.d.config.MAX_ROUNDS) {
        await this.giveUpRounds(t.id, t.round);
        continue;
      }
      if (t.state === 'queued' && !offered.bidders.has(t.capability)) {
        // No agent could be invited: checked again later, backing off; and not for ever.
        if (t.requeues >= this.d.config.MAX_ROUNDS && !offered.any.has(t.capability))
          await this.giveUpUnservable(t);
        else unservable.push(t);
        continue;
      }
      this.d.port.startRound(t.id, {
        state: t.state as 'queued' | 'pending',
        round: t.round,
        owner: t.callbackKey,
      });
    }
    await backOffUnservable(this.db, unservable, {
      baseMs: this.d.config.REAUCTION_BASE_MS,
      capMs: this.d.config.REAUCTION_CAP_MS,
    });
  }

  /**
   * A task no agent has offered to do through MAX_ROUNDS checks (backed off up to
   * REAUCTION_CAP_MS apart) fails with no_eligible_agents rather than wait for ever.
   */
  private giveUpUnservable(t: TaskRow) {
    return this.failQueued(t.id, eq(tasks.requeues, t.requeues), {
      code: 'no_eligible_agents',
      message: `no registered agent offered ${t.capability} in ${t.requeues} checks (MAX_ROUNDS)`,
      data: { checks: t.requeues },
    });
  }

  /**
   * A task whose rounds keep ending without an award (agents that never bid, or fail every
   * award) is not auctioned for ever, each round sending its input to every invitee: after
   * MAX_ROUNDS it fails with rounds_exhausted.
   */
  private giveUpRounds(taskId: string, round: number) {
    return this.failQueued(taskId, eq(tasks.round, round), {
      code: 'rounds_exhausted',
      message: `${round} rounds of this task ended without an award (MAX_ROUNDS)`,
      data: { rounds: round },
    });
  }

  /** Fails a queued task still as the sweeper saw it (`seen`), with one `task.failed` event. */
  private async failQueued(
    taskId: string,
    seen: SQL,
    why: { code: string; message: string; data: Record<string, unknown> },
  ) {
    await this.db.transaction((tx) =>
      transitionTask(tx, {
        taskId,
        action: 'fail',
        guard: and(eq(tasks.state, 'queued'), seen),
        set: { error: { code: why.code, message: why.message }, nextAuctionAt: null },
        event: { type: 'task.failed', data: { code: why.code, ...why.data } },
      }),
    );
  }

  /** Waiting tasks whose dependencies settled: released and auctioned, or failed. */
  private async releaseWaiting() {
    await this.d.port.releaseWaiting();
  }

  /** Subtasks whose parent award ended: cancelled (parent_ended), their holders told. */
  private async cancelOrphans() {
    for (const id of await orphanedSubtasks(this.d.database)) await this.d.port.cancelSubtask(id);
  }

  /** Client callbacks of tasks that ended (the outbox). */
  private async deliverCallbacks() {
    await this.d.callbacks.deliverDue();
  }

  /**
   * Deletes what ended more than TASK_RETENTION_MS ago (src/tasks/retention.ts says what is
   * kept whatever its age), so a long-running market's tables stay bounded.
   */
  private async pruneEnded() {
    const retention = this.d.config.TASK_RETENTION_MS;
    const now = Date.now();
    // Once a minute (a tenth of the retention when that is shorter): old rows are not urgent, and
    // one batch per turn leaves the sweep's other steps their time while a backlog is worked off.
    this.nextPruneAt = now + Math.min(60_000, retention / 10);
    const before = new Date(now - retention);
    const { taskIds, agentEvents } = await pruneEnded(this.d.database, before, PRUNE_BATCH);
    if (taskIds.length) this.d.port.forgetTasks(taskIds);
    this.d.metrics.pruned(taskIds.length, agentEvents);
    if (taskIds.length || agentEvents)
      this.d.logger.info(
        { tasks: taskIds.length, agentEvents, before },
        'pruned what ended before the retention',
      );
    if (taskIds.length === PRUNE_BATCH || agentEvents === PRUNE_BATCH)
      this.nextPruneAt = Math.min(this.nextPruneAt, now + 1000);
  }

  /** Keeps the ledger short, so reads that add its pending rows stay cheap. */
  private async foldAgentStats() {
    this.lastFold = Date.now();
    while ((await rollUpAgentStats(this.db, 5000)) === 5000) {}
  }
}
