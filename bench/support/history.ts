import postgres from 'postgres';

/**
 * A market's history, loaded straight into the bench database before it measures: `tasks`
 * completed tasks as the manager leaves them (one round, its bid, its completed award, the five
 * events of its trail), done by the agents registered now (in turn) twenty days ago, and the dead
 * rows the agent counters' ledger leaves behind (twelve rows a task, appended and folded). Then
 * VACUUM ANALYZE, as autovacuum would have run over old history; what the measured loads leave
 * is theirs.
 */
export async function loadHistory(url: string, tasks: number): Promise<{ seconds: number }> {
  const started = performance.now();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const agentIds = (await sql`select id from agents where status = 'active' order by id`).map(
      (r) => r.id as string,
    );
    if (!agentIds.length) throw new Error('history needs the registered agents to attribute it to');
    const agentsArray = `{${agentIds.join(',')}}`;
    const batch = 20_000;
    for (let from = 0; from < tasks; from += batch) {
      const n = Math.min(batch, tasks - from);
      await sql.begin(async (tx) => {
        await tx.unsafe(
          `create temp table h on commit drop as
           select gen_random_uuid() as task_id, gen_random_uuid() as bid_id, gen_random_uuid() as award_id,
             now() - interval '20 days' + (i * interval '1 millisecond') as at, i,
             ($2::uuid[])[1 + (i % $3::int)] as agent_id
           from generate_series(1, $1::int) i`,
          [n, agentsArray, agentIds.length],
        );
        await tx.unsafe(
          `insert into tasks (id, capability, input, bid_window_ms, max_attempts, attempts, weights, state,
             round, award_id, output, created_at, updated_at, completed_at)
           select task_id, 'history.work', jsonb_build_object('n', i), 1000, 3, 1,
             '{"cost":0.5,"time":0.3,"reputation":0.2}', 'completed', 1, award_id,
             jsonb_build_object('doubled', i * 2), at, at + interval '40 ms', at + interval '40 ms' from h`,
        );
        await tx.unsafe(
          `insert into bids (id, task_id, round, agent_id, type, cost, eta_ms, outcome, received_at)
           select bid_id, task_id, 1, agent_id, 'propose', 1, 20, 'accepted', at + interval '5 ms' from h`,
        );
        await tx.unsafe(
          `insert into awards (id, task_id, agent_id, round, bid_id, kind, cost, eta_ms, status, awarded_at,
             due_at, output, finished_at)
           select award_id, task_id, agent_id, 1, bid_id, 'bid', 1, 20, 'completed', at + interval '10 ms',
             at + interval '5 s', jsonb_build_object('doubled', i * 2), at + interval '40 ms' from h`,
        );
        await tx.unsafe(
          `insert into events (task_id, agent_id, type, data, created_at)
           select task_id, case when e.type like 'award%' or e.type = 'task.completed' then agent_id end, e.type,
             jsonb_build_object('state', e.state, 'round', 1), at + e.offset_ms * interval '1 ms'
           from h cross join (values ('task.submitted', 'pending', 0), ('round.opened', 'bidding', 1),
             ('task.awarded', 'awarded', 10), ('award.agreed', 'awarded', 12), ('task.completed', 'completed', 40))
             as e(type, state, offset_ms)
           order by at, e.offset_ms`,
        );
        // The counters' ledger as rounds leave it: appended, then folded into the agents' totals.
        const [{ first }] = (await tx.unsafe(
          `select coalesce(max(id), 0) as first from agent_stat_deltas`,
        )) as unknown as [{ first: string }];
        await tx.unsafe(
          `insert into agent_stat_deltas (agent_id, cfps, proposals, awards, completions)
           select agent_id, 1, case when k = 1 then 1 else 0 end, case when k = 2 then 1 else 0 end,
             case when k = 3 then 1 else 0 end
           from h cross join generate_series(1, 12) k`,
        );
        await tx.unsafe(
          `with folded as (delete from agent_stat_deltas where id > $1::int8 returning agent_id, cfps,
             proposals, awards, completions),
           sums as (select agent_id, sum(cfps) c, sum(proposals) p, sum(awards) a, sum(completions) d
             from folded group by agent_id)
           update agents set cfps = agents.cfps + s.c, proposals = agents.proposals + s.p,
             awards = agents.awards + s.a, completions = agents.completions + s.d
           from sums s where agents.id = s.agent_id`,
          [first],
        );
      });
    }
    await sql.unsafe('vacuum analyze');
  } finally {
    await sql.end();
  }
  return { seconds: (performance.now() - started) / 1000 };
}

/**
 * How many updates of `tasks` and `awards` PostgreSQL made HOT (no index entry written), and the
 * WAL the server has written (records and bytes, the whole server's: the bench's database is the
 * only one at work). WAL counts the rows and index entries written, whatever the machine's noise.
 */
export async function hotUpdates(
  url: string,
): Promise<
  Record<'tasks' | 'awards', { updates: number; hot: number }> & { wal: { records: number; bytes: number } }
> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select relname, n_tup_upd::int8 as upd, n_tup_hot_upd::int8 as hot
      from pg_stat_user_tables where relname in ('tasks', 'awards')`;
    const [wal] = await sql`select wal_records::int8 as records, wal_bytes::int8 as bytes from pg_stat_wal`;
    const of = (t: string) => {
      const r = rows.find((x) => x.relname === t);
      return { updates: Number(r?.upd ?? 0), hot: Number(r?.hot ?? 0) };
    };
    return {
      tasks: of('tasks'),
      awards: of('awards'),
      wal: { records: Number(wal?.records ?? 0), bytes: Number(wal?.bytes ?? 0) },
    };
  } finally {
    await sql.end();
  }
}
