import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import type { DbClock } from '../db/db-clock.ts';
import { awards, tasks } from '../db/schema.ts';
import { DB_NOW } from '../db/sql-fragments.ts';
import type { MarketMetrics } from '../observability/market-metrics.ts';
import { SWEEP_BATCH, type SweepJob } from '../sweeper/sweep-job.ts';
import { type AwardEndResult, endAward } from './end-award.ts';
import type { HolderNotice } from './notify-holder.ts';

export type AwardExpiryDeps = {
  database: Database;
  clock: DbClock;
  /** Awards that fell due while this manager was down wait this long after it starts. */
  restartGraceMs: number;
  metrics: MarketMetrics;
  /** After the commit that ended an award: its task, requeued, is auctioned again. */
  requeued(ended: AwardEndResult): void;
  notice: HolderNotice;
};

/**
 * Awards and claim leases past `dueAt`: the holder is sent `cancel`, the task is requeued or
 * fails (end-award.ts decides). Awards that fell due before this manager started wait until
 * `restartGraceMs` after its start: their agents may be holding results, retrying against a
 * manager that was down, and would otherwise find their work thrown away on arrival.
 */
export function awardExpiry(d: AwardExpiryDeps): SweepJob {
  const startedAt = Date.now();
  /** When this manager started, by the database's clock (due times are written on it). */
  const startedAtByDb = () => new Date(startedAt + d.clock.skewMs);
  const pastDue = () => {
    const due = lt(awards.dueAt, DB_NOW);
    return Date.now() >= startedAt + d.restartGraceMs ? due : and(due, gte(awards.dueAt, startedAtByDb()));
  };
  return {
    name: 'awards',
    // Through the tasks holding a lease (bidding or awarded, bounded by the rounds and the agents'
    // slots): no index of awards reads whether one is live, so its completion is a HOT update.
    probe: `exists (select 1 from tasks t join awards a on a.id = t.award_id
      where t.live and t.round_lease_until is not null and t.state = 'awarded' and a.live and a.due_at < now())`,
    async run() {
      for (let i = 0; i < SWEEP_BATCH; i++) {
        const expired = await d.database.db.transaction(async (tx) => {
          const [due] = await tx
            .select({ id: awards.id, agentId: awards.agentId, taskId: awards.taskId, kind: awards.kind })
            .from(tasks)
            .innerJoin(awards, eq(awards.id, tasks.awardId))
            .where(
              and(
                sql`${tasks.live} and ${tasks.roundLeaseUntil} is not null`,
                eq(tasks.state, 'awarded'),
                sql`${awards.live}`,
                pastDue(),
              ),
            )
            .orderBy(asc(awards.dueAt))
            .limit(1)
            .for('update', { of: awards, skipLocked: true });
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
        d.metrics.awardExpired(expired.due.kind === 'claim' ? 'claim' : 'award');
        // After the commit: the new round must see the queued state.
        d.requeued(expired.ended);
        d.notice.cancel(expired.due);
      }
    },
  };
}
