import type { Database } from '../db/client.ts';
import { quoted } from '../db/sql-lists.ts';
import { LIVE_TASK_STATES, UNFULFILLED_AWARD_STATUSES } from '../protocol/states.ts';
import { SWEEP_BATCH, type SweepJob } from '../sweeper/sweep-job.ts';

const ORPHANS = `from tasks c join awards a on a.id = c.parent_award_id
  where c.parent_award_id is not null and c.state in ${quoted(LIVE_TASK_STATES)}
    and a.status in ${quoted(UNFULFILLED_AWARD_STATUSES)}`;

/**
 * Unfinished subtasks whose parent award was cancelled, failed or expired: their work is no
 * longer wanted, so they are cancelled (reason parent_ended) by `cancel`, the market's own
 * cancellation, which tells their holders. A completed parent keeps them.
 */
export function orphanCascade(d: {
  database: Database;
  cancel(taskId: string, why: { code: string; message: string }): Promise<unknown>;
}): SweepJob {
  return {
    name: 'orphans',
    probe: `exists (select 1 ${ORPHANS})`,
    async run() {
      const rows = await d.database.query<{ id: string }>(`select c.id ${ORPHANS} limit $1`, [SWEEP_BATCH]);
      // One ended meanwhile is left as it is (409).
      for (const { id } of rows)
        await d
          .cancel(id, { code: 'parent_ended', message: 'the award this subtask was submitted under ended' })
          .catch(() => null);
    },
  };
}
