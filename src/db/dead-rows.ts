import type { Logger } from 'pino';
import type { SweepJob } from '../sweeper/sweep-job.ts';
import type { Database } from './client.ts';

/**
 * The tables every round updates or appends to and deletes from: dead row versions pile up in
 * them (and in their indexes) fastest. Probes and hot statements walk past them until a VACUUM
 * clears them, so a market whose database does not vacuum them got slower with every load.
 */
const CHURNING = ['tasks', 'awards', 'bids', 'agents', 'agent_stat_deltas'];

/** A table is vacuumed once its dead rows are this share of its live ones (and at least MIN_DEAD). */
const DEAD_SHARE = 0.1;
const MIN_DEAD = 2000;

const DEAD_SQL = `select relname::text as table, n_dead_tup::int8 as dead, n_live_tup::int8 as live
  from pg_stat_user_tables where schemaname = current_schema() and relname = any($1::text[])`;

/** Whether a table's dead rows call for a VACUUM now (pure: the rule, tested beside it). */
export const needsVacuum = (dead: number, live: number): boolean =>
  dead >= MIN_DEAD && dead >= DEAD_SHARE * live;

/**
 * Keeps the churning tables' dead rows few, whatever autovacuum is set to (it may be off, or
 * tuned for large tables, where its default waits for a fifth of the table to be dead): every
 * `checkEveryMs` (10 s), a table whose dead rows reach a tenth of its live ones is vacuumed (SKIP_LOCKED:
 * a table another manager or autovacuum is vacuuming is left to it). Plain VACUUM takes no lock
 * that blocks reads or writes.
 */
export function deadRowCleanup(d: { database: Database; logger: Logger; checkEveryMs: number }): SweepJob {
  let nextCheck = 0;
  return {
    name: 'vacuum',
    ready: (now) => now >= nextCheck,
    async run() {
      nextCheck = Date.now() + d.checkEveryMs;
      const rows = await d.database.query<{ table: string; dead: string | number; live: string | number }>(
        DEAD_SQL,
        [`{${CHURNING.join(',')}}`],
      );
      for (const r of rows) {
        if (!needsVacuum(Number(r.dead), Number(r.live)) || !CHURNING.includes(r.table)) continue;
        const started = Date.now();
        await d.database.utility(`vacuum (skip_locked) ${r.table}`);
        d.logger.debug({ table: r.table, dead: Number(r.dead), ms: Date.now() - started }, 'vacuumed');
      }
    },
  };
}
