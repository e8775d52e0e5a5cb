import { and, eq, lt, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { tasks } from '../db/schema.ts';
import { DB_NOW, dbNowPlus } from '../db/sql-fragments.ts';
import { SWEEP_BATCH, type SweepJob } from '../sweeper/sweep-job.ts';
import { takeBatch } from '../tasks/take-batch.ts';
import { transitionTask } from '../tasks/task-store.ts';
import { traceIdOf } from '../tasks/task-view.ts';
import type { RoundStart } from './open-round.ts';

export type RoundTakeoverDeps = {
  database: Database;
  managerId: string;
  logger: Logger;
  /** How long a taken-over round is held before it starts (ROUND_LEASE_MS). */
  leaseMs: number;
  maxTakeovers: number;
  startRound(taskId: string, from: RoundStart): void;
};

/**
 * Rounds whose owner's lease ran out (it died mid-round): this manager runs them again. A task
 * whose rounds keep outliving their managers (one that brings them down, say) is not run again
 * for ever: past `maxTakeovers` it fails with round_takeovers_exhausted.
 */
export function roundTakeover(d: RoundTakeoverDeps): SweepJob {
  const abandon = async (taskId: string, round: number, takeovers: number) => {
    d.logger.error({ taskId, round, takeovers }, 'giving up a task whose rounds keep losing their manager');
    await d.database.db.transaction((tx) =>
      transitionTask(tx, {
        taskId,
        action: 'fail',
        guard: and(eq(tasks.state, 'bidding'), eq(tasks.round, round), eq(tasks.roundOwner, d.managerId)),
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
  };
  return {
    name: 'rounds',
    probe: `exists (select 1 from tasks where live and state = 'bidding' and round_lease_until < now())`,
    async run() {
      const claimed = await takeBatch(d.database.db, {
        where: and(sql`${tasks.live}`, eq(tasks.state, 'bidding'), lt(tasks.roundLeaseUntil, DB_NOW)),
        set: {
          roundOwner: d.managerId,
          roundLeaseUntil: dbNowPlus(d.leaseMs),
          takeovers: sql`${tasks.takeovers} + 1`,
        },
        limit: SWEEP_BATCH,
      });
      for (const t of claimed) {
        if (t.takeovers > d.maxTakeovers) {
          await abandon(t.id, t.round, t.takeovers);
          continue;
        }
        d.logger.warn(
          { taskId: t.id, traceId: traceIdOf(t.traceParent), round: t.round },
          'taking over a round whose owner stopped',
        );
        d.startRound(t.id, { state: 'bidding', round: t.round, owner: t.callbackKey });
      }
    },
  };
}
