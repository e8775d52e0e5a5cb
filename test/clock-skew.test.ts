import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { Fleet, fixedBidder } from './support/agents.ts';
import { client, eventually, sleep } from './support/harness.ts';
import { freePort, type Proc, ROOT, startManagerProcess } from './support/processes.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

const SKEWED_CLOCK = join(ROOT, 'test/fixtures/skewed-clock.mjs');

/** The agents, then the manager process, then its database. */
async function stopAll(fleet: Fleet, proc: Proc, db: { drop(): Promise<void> }) {
  await fleet.stopAll();
  proc.child.kill('SIGTERM');
  await proc.exited;
  await db.drop();
}

/**
 * Round leases and re-auction times are written and judged by the database's clock, so a
 * manager whose own clock is far behind still takes over a dead manager's round once its lease
 * has run out, not minutes later (it used to judge the lease by its own clock). Only on
 * PostgreSQL: PGlite runs inside the manager's process, and its clock is that process's.
 */
describe.skipIf(!onPostgres())('a manager whose clock runs two minutes behind the database', () => {
  it("takes over a killed manager's round when its lease runs out by the database's clock", async () => {
    const db = await createTestDatabase();
    const env: Record<string, string> = {
      ...db.env,
      PORT: String(await freePort()),
      ROUND_LEASE_MS: '1000',
      REAUCTION_CAP_MS: '500',
    };
    let manager = await startManagerProcess(env);
    const call = client(manager.url);
    const fleet = new Fleet(manager.url);
    // The bid waits for the kill: the round is still bidding when its manager dies.
    let killed!: () => void;
    const afterKill = new Promise<void>((resolve) => {
      killed = resolve;
    });
    try {
      await fleet.start({
        ...fixedBidder('skew-bidder', 1, 50),
        capabilities: ['skew.work'],
        bid: async () => {
          await afterKill;
          return { type: 'propose', cost: 1, etaMs: 50 };
        },
      });
      const { body: task } = await call('POST', '/v1/tasks', {
        capability: 'skew.work',
        input: { n: 21 },
        bidWindowMs: 1000,
      });
      await eventually(async () => (await call('GET', `/v1/tasks/${task.id}`)).body.state === 'bidding');
      manager.proc.child.kill('SIGKILL');
      await manager.proc.exited;
      killed();
      await sleep(300);
      // Its successor's wall clock is 120 s behind: by it, the lease (1 s window + 1 s slack, by
      // the database's clock) has two minutes to go.
      manager = await startManagerProcess({
        ...env,
        NODE_OPTIONS: `--import=${SKEWED_CLOCK}`,
        CLOCK_SKEW_MS: '-120000',
      });
      const done = await eventually(
        async () => {
          const t = (await call('GET', `/v1/tasks/${task.id}`)).body;
          if (t.state === 'completed') return t;
          const trail = (await call('GET', `/v1/tasks/${task.id}/events`)).body.items as { type: string }[];
          throw new Error(`${t.state}: ${trail.map((e) => e.type).join(', ')}`);
        },
        30_000,
        'the task to complete after the takeover',
      );
      expect(done.output).toMatchObject({ doubled: 42 });
      const events = (await call('GET', `/v1/tasks/${task.id}/events`)).body.items as { type: string }[];
      expect(events.filter((e) => e.type === 'task.completed')).toHaveLength(1);
      // It did run two minutes behind (the database two minutes ahead): its sweeper warned.
      await eventually(
        () => /"skewMs":1[12]\d{4}/.test(manager.proc.stdout()),
        10_000,
        'the clock-skew warning',
      );
    } finally {
      await stopAll(fleet, manager.proc, db);
    }
  }, 90_000);

  // A bid window of 1 s with one invitee that never answers: the round must close after about
  // a second and award the other, with a due time on the database's clock. By a clock 2 minutes ahead the window (written by the
  // database's clock) looked spent before it began, so no cfp went out; by one 2 minutes
  // behind, the round waited 2 minutes for the silent one.
  for (const skewMs of [120_000, -120_000])
    it(`closes a bid window on time with its clock ${skewMs > 0 ? 'ahead of' : 'behind'} the database's by 2 minutes`, async () => {
      const db = await createTestDatabase();
      const manager = await startManagerProcess({
        ...db.env,
        NODE_OPTIONS: `--import=${SKEWED_CLOCK}`,
        CLOCK_SKEW_MS: String(skewMs),
      });
      const call = client(manager.url);
      const fleet = new Fleet(manager.url);
      try {
        await fleet.raw('silent', 'skew.window', () => {}); // takes the cfp, never answers
        await fleet.start({ ...fixedBidder('answers', 2, 50), capabilities: ['skew.window'] });
        const { body: task } = await call('POST', '/v1/tasks', {
          capability: 'skew.window',
          input: { n: 5 },
          bidWindowMs: 1000,
        });
        const done = (await call('GET', `/v1/tasks/${task.id}?waitMs=20000`)).body;
        const trail = (await call('GET', `/v1/tasks/${task.id}/events`)).body.items as { type: string }[];
        expect(done.state, trail.map((e) => e.type).join(', ')).toBe('completed');
        expect(done.output).toMatchObject({ doubled: 10 });
        expect(done.round).toBe(1);
        // The award's due time is on the database's clock too: a few seconds after the award
        // (its estimate and grace), not two minutes off (it was set by the manager's clock).
        const sql = postgres(db.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
        try {
          const rows = await sql<{ s: number }[]>`select extract(epoch from due_at - awarded_at)::float8 as s
            from awards where task_id = ${task.id}`;
          expect(rows).toHaveLength(1);
          expect(rows[0]!.s).toBeGreaterThan(0);
          expect(rows[0]!.s).toBeLessThan(60);
        } finally {
          await sql.end();
        }
      } finally {
        await stopAll(fleet, manager.proc, db);
      }
    }, 60_000);
});
