import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { Fleet, fixedBidder } from './support/agents.ts';
import { client, eventually, sleep } from './support/harness.ts';
import { startManagerProcess } from './support/processes.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

// Two processes on one embedded PGlite cannot be: this runs on PostgreSQL (CI's second pass).
describe.skipIf(!onPostgres())('two manager processes on one PostgreSQL', () => {
  it('share 1,000 tasks over 5 agents: every task completed exactly once', async () => {
    const db = await createTestDatabase();
    // CI runs this beside other test files on two cores: a generous grace keeps a starved
    // event loop from expiring awards whose results are already on their way.
    const env = {
      ...db.env,
      PORT: '0',
      PG_POOL_MAX: '8',
      DUE_GRACE_MS: '10000',
    };
    const a = await startManagerProcess(env);
    const b = await startManagerProcess(env);
    const fleet = new Fleet(a.url);
    try {
      for (let i = 0; i < 5; i++) {
        await fleet.start({
          ...fixedBidder(`shared-${i}`, 1 + i, 100 + 20 * i),
          capabilities: ['shared.work'],
          maxConcurrency: 32,
          bid: (_cfp, ctx) => ({ type: 'propose', cost: 1 + i + ctx.running, etaMs: 200 }),
          execute: async (input: { n: number }) => {
            await sleep(2);
            return { doubled: input.n * 2 };
          },
        });
      }
      const calls = [client(a.url), client(b.url)];
      const ids: string[] = [];
      for (let start = 0; start < 1000; start += 100) {
        const batch = await Promise.all(
          Array.from({ length: 100 }, (_, k) =>
            calls[(start + k) % 2]!('POST', '/v1/tasks', {
              capability: 'shared.work',
              input: { n: start + k },
              bidWindowMs: 1000,
            }),
          ),
        );
        ids.push(...batch.map((r) => r.body.id as string));
      }
      const sql = postgres(db.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
      // What the unfinished tasks are doing: printed on a timeout (and every 10 s with DEBUG_MULTI).
      const unfinished = async () =>
        JSON.stringify(
          await sql`select state, coalesce(queued_reason, error->>'code', '') as reason, max(attempts)::int as attempts, count(*)::int as n, min(updated_at) as oldest
            from tasks where state <> 'completed' group by 1, 2 order by 1, 2`,
        );
      const debug = process.env.DEBUG_MULTI
        ? setInterval(
            async () => console.log(new Date().toISOString().slice(11, 19), await unfinished()),
            10_000,
          )
        : undefined;
      try {
        await eventually(
          async () => {
            const [row] =
              await sql`select count(*)::int as n from tasks where state not in ('completed', 'failed', 'cancelled')`;
            if (row!.n === 0) return true;
            throw new Error(`${row!.n} not ended yet: ${await unfinished()}`);
          },
          240_000,
          'every task to end',
        );
        expect(await unfinished()).toBe('[]');
        const perTask = await sql`
          select t.id, t.state, t.output, t.award_id,
            (select count(*)::int from awards a where a.task_id = t.id and a.status = 'completed') as completed_awards,
            (select count(*)::int from events e where e.task_id = t.id and e.type = 'task.completed') as completed_events
          from tasks t`;
        expect(perTask).toHaveLength(1000);
        for (const t of perTask) {
          expect(t.completed_awards).toBe(1);
          expect(t.completed_events).toBe(1);
        }
        const expectedOutputs = new Map(ids.map((id, n) => [id, { doubled: n * 2 }]));
        for (const t of perTask) expect(t.output).toEqual(expectedOutputs.get(t.id));
        // Both managers ran rounds (the owner of a task's last round stays on it).
        const owners = await sql`select distinct round_owner from tasks`;
        // Two managers, each with a name of its own (host-pid-random).
        expect(owners.map((o) => o.round_owner).filter(Boolean)).toHaveLength(2);
      } finally {
        clearInterval(debug);
        await sql.end();
      }
    } finally {
      await fleet.stopAll();
      a.proc.child.kill('SIGTERM');
      b.proc.child.kill('SIGTERM');
      await Promise.all([a.proc.exited, b.proc.exited]);
      await db.drop();
    }
  }, 300_000);
});
