import { inArray, type SQL } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Db } from '../db/client.ts';
import { tasks } from '../db/schema.ts';

/**
 * Takes a batch of task rows for this manager in one statement: the rows matching `where` are
 * locked with FOR UPDATE SKIP LOCKED and updated with `set` (which should push them out of
 * `where`), so managers sweeping the same database never take the same row.
 */
export function takeBatch(
  db: Db,
  opts: { where: SQL | undefined; set: PgUpdateSetSource<typeof tasks>; orderBy?: SQL[]; limit: number },
) {
  return db
    .update(tasks)
    .set(opts.set)
    .where(
      inArray(
        tasks.id,
        db
          .select({ id: tasks.id })
          .from(tasks)
          .where(opts.where)
          .orderBy(...(opts.orderBy ?? []))
          .limit(opts.limit)
          .for('update', { skipLocked: true }),
      ),
    )
    .returning();
}
