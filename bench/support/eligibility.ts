import { type DatabaseTarget, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { eligibleAgentsCte } from '../../src/db/sql-fragments.ts';
import { percentile } from './http.ts';

/**
 * The time to pick a round's eligible agents among `agents` registered ones: the very CTE the
 * opening statement uses, on its own, for a capability offered by `rare` agents and one offered
 * by `common` agents (every agent also offers a capability of its own, and every tenth has
 * ledger rows not yet folded, as under load).
 */
export async function runEligibility(target: DatabaseTarget, agents: number, runs = 200) {
  const database = await openDatabase(target);
  try {
    await migrateDatabase(database, target);
    await database.query(
      `insert into agents (id, name, endpoint, capabilities, capability_names, max_concurrency, token_hash)
       select gen_random_uuid(), 'agent-' || i, 'http://10.0.0.' || (i % 250) || ':8080', '[]'::jsonb,
         array['own.' || i, case when i % 2000 = 0 then 'rare' else 'other' end,
               case when i % 10 = 0 then 'common' else 'uncommon' end], 4,
         md5(i::text)
       from generate_series(1, $1::int) i`,
      [agents],
    );
    await database.query(
      `insert into agent_stat_deltas (agent_id, completions) select id, 1 from agents where name like '%0'`,
      [],
    );
    await database.query('analyze', []);
    // As a round picks them: at most MAX_INVITEES (default 50) at random among the eligible.
    const sql = `with ${eligibleAgentsCte('e', '$1::text', "'{}'::uuid[]", '50')} select count(*)::int as n from e`;
    const measure = async (cap: string) => {
      const times: number[] = [];
      let found = 0;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const [row] = await database.query<{ n: number }>(sql, [cap]);
        times.push(performance.now() - t0);
        found = Number(row?.n ?? 0);
      }
      times.sort((a, b) => a - b);
      return { found, p50: percentile(times, 50), p99: percentile(times, 99) };
    };
    await measure('rare'); // warm-up
    return { rare: await measure('rare'), common: await measure('common') };
  } finally {
    await database.close();
  }
}
