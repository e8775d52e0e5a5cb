import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startManager, type TestManager } from './support/harness.ts';

/**
 * The churning tables are vacuumed by the manager itself once their dead rows pile up, whether
 * or not autovacuum runs (the CI's server has it off), so a market does not slow down with its
 * history. Real dead rows, a real VACUUM, read back from the server's own statistics.
 */
describe('dead rows', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({ DEAD_ROW_CHECK_MS: '200' });
  });
  afterAll(() => m.stop());

  const stats = async () =>
    (
      await m.manager.database.query<{ dead: string; vacuums: string }>(
        `select n_dead_tup::int8 as dead, vacuum_count::int8 as vacuums from pg_stat_user_tables
         where relname = 'agent_stat_deltas'`,
        [],
      )
    )[0];

  it('vacuums a churning table once its dead rows reach a tenth of its live ones', async () => {
    const before = Number((await stats())?.vacuums ?? 0);
    // The ledger as rounds leave it: appended, then folded away (deleted): 5000 dead rows.
    await m.manager.database.query(
      `insert into agent_stat_deltas (agent_id, cfps) select gen_random_uuid(), 1 from generate_series(1, 5000)`,
      [],
    );
    await m.manager.database.query(`delete from agent_stat_deltas`, []);
    await eventually(async () => Number((await stats())?.vacuums ?? 0) > before, 30_000, 'a vacuum');
    expect(Number((await stats())?.dead)).toBeLessThan(2000);
  }, 60_000);
});
