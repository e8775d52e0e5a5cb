import type { Database } from '../db/client.ts';
import { quoted } from '../db/sql-lists.ts';
import { LIVE_TASK_STATES, UNFULFILLED_AWARD_STATUSES } from '../protocol/states.ts';

const ORPHANS = `from tasks c join awards a on a.id = c.parent_award_id
  where c.parent_award_id is not null and c.state in ${quoted(LIVE_TASK_STATES)}
    and a.status in ${quoted(UNFULFILLED_AWARD_STATUSES)}`;

/** Whether some unfinished subtask's parent award has ended (the sweeper's probe). */
export const ORPHANS_READY_SQL = `exists (select 1 ${ORPHANS})`;

/**
 * Unfinished subtasks whose parent award was cancelled, failed or expired: their work is no
 * longer wanted, so they are cancelled (reason parent_ended). A completed parent keeps them.
 */
export async function orphanedSubtasks(database: Database, limit = 50): Promise<string[]> {
  const rows = await database.query<{ id: string }>(`select c.id ${ORPHANS} limit $1`, [limit]);
  return rows.map((r) => r.id);
}
