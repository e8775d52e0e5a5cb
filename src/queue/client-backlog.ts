import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client.ts';
import { quoted } from '../db/sql-lists.ts';
import { PLACED_OR_ENDED_TASK_STATES } from '../protocol/states.ts';

/**
 * How many tasks `owner` has waiting for the market (pending, queued, or waiting on
 * dependencies), counted up to `max` only: the check costs at most that many index entries.
 */
export async function waitingTasksOf(db: Db, owner: string, max: number): Promise<number> {
  const [row] = await queryRows<{ n: number | string }>(
    db,
    // Read through tasks_live_owner_idx: the owner's live tasks, not its history.
    sql`select count(*) as n from (select 1 from tasks
      where live and state not in ${sql.raw(quoted(PLACED_OR_ENDED_TASK_STATES))}
        and callback_key = ${owner} limit ${max}) x`,
  );
  return Number(row?.n ?? 0);
}
