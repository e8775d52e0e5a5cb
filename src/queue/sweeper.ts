import { and, asc, desc, eq, gte, inArray, isNotNull, lt, lte } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { agents, awards, tasks } from '../db/schema.ts';
import type { Market } from '../market/market.ts';
import { LIVE_AWARD } from '../market/settlement.ts';
import { rollUpAgentStats } from '../registry/agent-stats.ts';
import type { AgentAddress, AgentClient } from '../resilience/agent-client.ts';
import type { CallbackOutbox } from '../tasks/callback-outbox.ts';
import { transitionTask } from '../tasks/task-store.ts';
import { claimTasks } from './claim-tasks.ts';

const BATCH = 50;
const OPEN_STATES = ['pending', 'bidding', 'awarded', 'queued'] as const;

export type SweeperDeps = {
  db: Db;
  market: Market;
  client: AgentClient;
  config: Config;
  logger: Logger;
  managerId: string;
  tokenOf(agentId: string): string;
  callbacks: CallbackOutbox;
};

/**
 * The durable backstop for every timer: awards past `dueAt` (and claim leases), task
 * deadlines, rounds whose owner died, and queued tasks due for re-auction; it also folds the
 * agent-counter ledger into `agents`. Each batch is taken
 * with FOR UPDATE SKIP LOCKED, so managers sharing a database never sweep the same row twice.
 */
export class Sweeper {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private readonly startedAt = Date.now();

  constructor(private readonly d: SweeperDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().finally(() => (this.ticking = undefined));
    }, this.d.config.SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One sweep; exported for tests that want to drive time themselves. */
  async tick(): Promise<void> {
    for (const step of [
      this.expireAwards,
      this.enforceDeadlines,
      this.takeOverRounds,
      this.reauction,
      this.deliverCallbacks,
      this.foldAgentStats,
    ]) {
      try {
        await step.call(this);
      } catch (err) {
        this.d.logger.error({ err, step: step.name }, 'sweep step failed');
      }
    }
  }

  /** Awards and claim leases past due: the holder gets cancel; the task is requeued or fails. */
  private async expireAwards() {
    for (let i = 0; i < BATCH; i++) {
      const expired = await this.d.db.transaction(async (tx) => {
        const [due] = await tx
          .select({ id: awards.id, agentId: awards.agentId, taskId: awards.taskId, kind: awards.kind })
          .from(awards)
          .where(and(inArray(awards.status, [...LIVE_AWARD]), this.pastDue()))
          .orderBy(asc(awards.dueAt))
          .limit(1)
          .for('update', { skipLocked: true });
        if (!due) return null;
        await this.d.market.endAndRequeue(
          due.id,
          {
            status: 'expired',
            reason: due.kind === 'claim' ? 'claim lease expired' : 'no result by dueAt',
            blame: true,
            countsAttempt: true,
          },
          tx,
        );
        return due;
      });
      if (!expired) return;
      void this.notifyCancel(expired.agentId, expired.taskId, expired.id);
    }
  }

  /**
   * Awards past `dueAt`. Those that fell due before this manager started wait until
   * `RESTART_GRACE_MS` after its start: their agents may be holding results, retrying against a
   * manager that was down, and would otherwise find their work thrown away on arrival.
   */
  private pastDue() {
    const now = Date.now();
    const due = lt(awards.dueAt, new Date(now));
    return now >= this.startedAt + this.d.config.RESTART_GRACE_MS
      ? due
      : and(due, gte(awards.dueAt, new Date(this.startedAt)));
  }

  /** Unfinished tasks past their deadline fail with deadline_exceeded; a holder gets cancel. */
  private async enforceDeadlines() {
    for (let i = 0; i < BATCH; i++) {
      const ended = await this.d.db.transaction(async (tx) => {
        const [task] = await tx
          .select()
          .from(tasks)
          .where(
            and(
              inArray(tasks.state, [...OPEN_STATES]),
              isNotNull(tasks.deadline),
              lt(tasks.deadline, new Date()),
            ),
          )
          .limit(1)
          .for('update', { skipLocked: true });
        if (!task) return null;
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
        if (!row || !task.awardId) return { holder: null };
        const [held] = await tx
          .update(awards)
          .set({ status: 'cancelled', reason: 'deadline exceeded', finishedAt: new Date() })
          .where(and(eq(awards.id, task.awardId), inArray(awards.status, [...LIVE_AWARD])))
          .returning();
        return { holder: held ?? null };
      });
      if (!ended) return;
      if (ended.holder) void this.notifyCancel(ended.holder.agentId, ended.holder.taskId, ended.holder.id);
    }
  }

  /** Rounds whose owner's lease ran out (it died mid-round): this manager runs them again. */
  private async takeOverRounds() {
    const now = new Date();
    const claimed = await claimTasks(this.d.db, {
      where: and(eq(tasks.state, 'bidding'), lt(tasks.roundLeaseUntil, now)),
      set: {
        roundOwner: this.d.managerId,
        roundLeaseUntil: new Date(now.getTime() + this.d.config.ROUND_LEASE_SLACK_MS),
      },
      limit: BATCH,
    });
    for (const t of claimed) {
      this.d.logger.warn({ taskId: t.id, round: t.round }, 'taking over a round whose owner stopped');
      this.d.market.startRound(t.id, { state: 'bidding', round: t.round });
    }
  }

  /** Queued tasks due for another auction (and pending ones whose first round never opened). */
  private async reauction() {
    const now = new Date();
    const claimed = await claimTasks(this.d.db, {
      where: and(inArray(tasks.state, ['queued', 'pending']), lte(tasks.nextAuctionAt, now)),
      // Pushed forward so the next sweep leaves them to the round this one starts.
      set: { nextAuctionAt: new Date(now.getTime() + this.d.config.ROUND_LEASE_SLACK_MS) },
      orderBy: [desc(tasks.priority), asc(tasks.createdAt)],
      limit: BATCH,
    });
    for (const t of claimed) {
      this.d.market.startRound(t.id, { state: t.state as 'queued' | 'pending', round: t.round });
    }
  }

  /** Client callbacks of tasks that ended (the outbox). */
  private async deliverCallbacks() {
    await this.d.callbacks.deliverDue();
  }

  private async notifyCancel(agentId: string, taskId: string, awardId: string) {
    const [agent] = await this.d.db
      .select({ id: agents.id, endpoint: agents.endpoint })
      .from(agents)
      .where(eq(agents.id, agentId));
    if (!agent) return;
    const address: AgentAddress = { ...agent, token: this.d.tokenOf(agentId) };
    await this.d.client.notify(address, '/cancel', { type: 'cancel', conversationId: taskId, awardId });
  }

  /** Keeps the ledger short, so reads that add its pending rows stay cheap. */
  private async foldAgentStats() {
    while ((await rollUpAgentStats(this.d.db, 5000)) === 5000) {}
  }
}
