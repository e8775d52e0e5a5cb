import { and, eq, type SQL } from 'drizzle-orm';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { tasks } from '../db/schema.ts';
import { quoted } from '../db/sql-lists.ts';
import { AUCTIONABLE_TASK_STATES } from '../protocol/states.ts';
import { backOffUnservable, claimDueAuctions, offeredCapabilities } from '../queue/due-auctions.ts';
import { SWEEP_BATCH, type SweepJob } from '../sweeper/sweep-job.ts';
import { transitionTask } from '../tasks/task-store.ts';
import type { TaskRow } from '../tasks/task-view.ts';
import type { RoundStart } from './open-round.ts';

export type ReauctionDeps = {
  database: Database;
  config: Pick<
    Config,
    'ROUND_QUEUE_MAX' | 'ROUND_LEASE_MS' | 'MAX_ROUNDS' | 'REAUCTION_BASE_MS' | 'REAUCTION_CAP_MS'
  >;
  /** Rounds waiting for a bidding slot in this manager: re-auctions leave room under the cap. */
  backlog(): number;
  startRound(taskId: string, from: RoundStart): void;
};

/**
 * Queued tasks due for another auction (and pending ones whose first round never opened). A task
 * no agent offers to bid on is checked again later, backing off, and fails with
 * no_eligible_agents after MAX_ROUNDS checks; one whose rounds keep ending without an award fails
 * with rounds_exhausted after MAX_ROUNDS rounds, rather than send its input to every invitee for
 * ever.
 */
export function reauction(d: ReauctionDeps): SweepJob {
  const c = d.config;
  /** Fails a queued task still as the sweep saw it (`seen`), with one `task.failed` event. */
  const failQueued = (
    taskId: string,
    seen: SQL,
    code: string,
    message: string,
    data: Record<string, unknown>,
  ) =>
    d.database.db.transaction((tx) =>
      transitionTask(tx, {
        taskId,
        action: 'fail',
        guard: and(eq(tasks.state, 'queued'), seen),
        set: { error: { code, message }, nextAuctionAt: null },
        event: { type: 'task.failed', data: { code, ...data } },
      }),
    );
  return {
    name: 'reauction',
    probe: `exists (select 1 from tasks where live and state in ${quoted(AUCTIONABLE_TASK_STATES)} and next_auction_at <= now())`,
    async run() {
      // Rounds already waiting for a slot come first: due tasks stay in the database meanwhile.
      const room = Math.min(SWEEP_BATCH, c.ROUND_QUEUE_MAX - d.backlog());
      if (room <= 0) return;
      // Pushed forward so the next sweep leaves them to the round this one starts; every client's
      // first due task before anyone's second.
      const claimed = await claimDueAuctions(d.database.db, { limit: room, leaseMs: c.ROUND_LEASE_MS });
      const queued = claimed.filter((t) => t.state === 'queued');
      const offered = await offeredCapabilities(d.database.db, [...new Set(queued.map((t) => t.capability))]);
      const unservable: TaskRow[] = [];
      for (const t of claimed) {
        if (t.state === 'queued' && t.round >= c.MAX_ROUNDS) {
          await failQueued(
            t.id,
            eq(tasks.round, t.round),
            'rounds_exhausted',
            `${t.round} rounds of this task ended without an award (MAX_ROUNDS)`,
            { rounds: t.round },
          );
          continue;
        }
        if (t.state === 'queued' && !offered.bidders.has(t.capability)) {
          if (t.requeues >= c.MAX_ROUNDS && !offered.any.has(t.capability))
            await failQueued(
              t.id,
              eq(tasks.requeues, t.requeues),
              'no_eligible_agents',
              `no registered agent offered ${t.capability} in ${t.requeues} checks (MAX_ROUNDS)`,
              { checks: t.requeues },
            );
          else unservable.push(t);
          continue;
        }
        d.startRound(t.id, { state: t.state as 'queued' | 'pending', round: t.round, owner: t.callbackKey });
      }
      await backOffUnservable(d.database.db, unservable, {
        baseMs: c.REAUCTION_BASE_MS,
        capMs: c.REAUCTION_CAP_MS,
      });
    },
  };
}
