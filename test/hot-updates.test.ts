import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/db/client.ts';
import { startManager, submitTask, type TestManager } from './support/harness.ts';

/**
 * The schema keeps a round's steps HOT updates (docs/BENCHMARKS.md): no index of `tasks` reads
 * the task's state and no index of `awards` the award's status (the indexes of live work read
 * the derived `live` columns instead), and the churning tables leave room on their pages.
 */
describe('a schema for HOT updates', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m?.stop());

  it('has no index that reads a task state or an award status, and room on the pages', async () => {
    const db = m.manager.database.db;
    const indexes = await queryRows<{ tablename: string; indexdef: string }>(
      db,
      sql`select tablename, indexdef from pg_indexes where tablename in ('tasks', 'awards') order by indexname`,
    );
    expect(indexes.length).toBeGreaterThan(5);
    // Nor whether an award is live: its completion, like its agreement, changes no indexed column.
    for (const { tablename, indexdef } of indexes)
      expect(indexdef, `${tablename}: ${indexdef}`).not.toMatch(
        tablename === 'tasks' ? /\bstate\b/ : /\b(status|live)\b/,
      );
    // The one index of an award's outcome is there, on the derived column that completion keeps.
    expect(indexes.map((i) => i.indexdef).join('\n')).toMatch(
      /UNIQUE INDEX awards_one_open_per_task .* WHERE open/,
    );
    const options = await queryRows<{ relname: string; reloptions: string[] | string | null }>(
      db,
      sql`select relname, reloptions from pg_class where relname in ('tasks', 'awards', 'bids') and relkind = 'r'`,
    );
    expect(options).toHaveLength(3);
    for (const o of options) expect(String(o.reloptions), o.relname).toContain('fillfactor=70');
  });

  it('keeps a task in the live indexes until it ends', async () => {
    const db = m.manager.database.db;
    const liveOf = async (id: string) =>
      (await queryRows<{ live: boolean }>(db, sql`select live from tasks where id = ${id}`))[0]?.live;
    // No agent offers it: queued, live.
    const id = await submitTask(m, { capability: 'nobody.offers', input: {} });
    expect((await m.call('GET', `/v1/tasks/${id}`)).body.state).toBe('queued');
    expect(await liveOf(id)).toBe(true);
    expect((await m.call('POST', `/v1/tasks/${id}/cancel`, {})).status).toBe(200);
    expect(await liveOf(id)).toBe(false);
    // Listing a live state reads the live indexes and still finds what it should.
    const other = await submitTask(m, { capability: 'nobody.offers', input: {} });
    const queued = await m.call('GET', '/v1/tasks?state=queued');
    expect(queued.body.items.map((t: { id: string }) => t.id)).toEqual([other]);
  });
});
