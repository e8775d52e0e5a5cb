import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder } from './support/agents.ts';
import { client, eventually, sleep } from './support/harness.ts';
import { freePort, startManagerProcess } from './support/processes.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

describe('a manager killed with SIGKILL during rounds', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('comes back on the same database and brings every task to a terminal state, none completed twice', async () => {
    const db = await createTestDatabase();
    const env: Record<string, string> = {
      ...db.env,
      PORT: String(await freePort()),
      ROUND_LEASE_MS: '1000',
      // Results held up by the restart still arrive before dueAt: the work ends 1 s after the kill,
      // due 3 s x 2 + 6 s after the agreement (a restarted PGlite manager on a loaded 2-core
      // machine took several seconds to take each of 60 results: 3 s was not always enough).
      DUE_GRACE_MS: '6000',
      REAUCTION_CAP_MS: '500',
    };
    if (!onPostgres()) {
      const dir = mkdtempSync(join(tmpdir(), 'cnp-crash-'));
      dirs.push(dir);
      env.PGLITE_DATA_DIR = dir;
    }
    let manager = await startManagerProcess(env);
    // The work waits for the kill, so every task is unfinished when the manager dies.
    let killed!: () => void;
    const afterKill = new Promise<void>((resolve) => {
      killed = resolve;
    });
    const call = client(manager.url);
    const fleet = new Fleet(manager.url);
    try {
      for (let i = 0; i < 3; i++) {
        await fleet.start(
          {
            ...fixedBidder(`crash-${i}`, 1 + i, 3000),
            capabilities: ['crash.work'],
            maxConcurrency: 20,
            execute: async (input: { n: number }) => {
              await afterKill;
              await sleep(1000);
              return { doubled: input.n * 2 };
            },
          },
          { reportAttempts: 10 },
        );
      }
      const ids = await Promise.all(
        Array.from(
          { length: 60 },
          async (_, n) =>
            (await call('POST', '/v1/tasks', { capability: 'crash.work', input: { n }, bidWindowMs: 1500 }))
              .body.id as string,
        ),
      );
      // Kill it while rounds are open and awards are out.
      await sleep(200);
      const before = await Promise.all(
        ids.map(async (id) => (await call('GET', `/v1/tasks/${id}`)).body.state),
      );
      manager.proc.child.kill('SIGKILL');
      expect(before.filter((s) => ['pending', 'bidding', 'awarded', 'queued'].includes(s))).toHaveLength(60);
      await manager.proc.exited;
      killed();
      await sleep(500);
      manager = await startManagerProcess(env);

      const ends = await eventually(
        async () => {
          const states = await Promise.all(
            ids.map(async (id) => (await call('GET', `/v1/tasks/${id}`)).body),
          );
          const open = states.filter((t) => !['completed', 'failed', 'cancelled'].includes(t.state));
          if (!open.length) return states;
          // What is left, for the timeout's message.
          throw new Error(
            JSON.stringify(
              open.slice(0, 5).map((t) => [t.state, t.round, t.attempts, t.award?.dueAt, t.updatedAt]),
            ),
          );
        },
        120_000,
        'every task to end',
      );
      const unfinished = ends.filter((t) => t.state !== 'completed');
      // On failure, say what happened to them: their audit trails.
      const trails = await Promise.all(
        unfinished
          .slice(0, 2)
          .map(async (t) =>
            (await call('GET', `/v1/tasks/${t.id}/events`)).body.items.map(
              (e: { type: string; createdAt: string; data: unknown }) =>
                `${e.createdAt} ${e.type} ${JSON.stringify(e.data)}`,
            ),
          ),
      );
      expect(
        unfinished.map((t) => [t.id, t.state, t.error]),
        JSON.stringify(trails, null, 1).slice(0, 4000),
      ).toEqual([]);
      for (const [n, t] of ends.entries()) {
        expect(t.output).toEqual({ doubled: n * 2 });
        const events = (await call('GET', `/v1/tasks/${t.id}/events`)).body.items;
        expect(events.filter((e: { type: string }) => e.type === 'task.completed')).toHaveLength(1);
      }
      // The database's own record, with the manager stopped: one completed award per task,
      // no award left live, and no more awards that the agents agreed to than attempts counted.
      await fleet.stopAll();
      manager.proc.child.kill('SIGTERM');
      await manager.proc.exited;
      const rows = await queryDatabase(
        env,
        `select t.id, t.attempts,
           (select count(*)::int from awards a where a.task_id = t.id and a.status = 'completed') as completed,
           (select count(*)::int from awards a where a.task_id = t.id and a.status in ('offered', 'agreed')) as live
         from tasks t`,
      );
      expect(rows).toHaveLength(60);
      for (const r of rows) {
        expect(r.completed, String(r.id)).toBe(1);
        expect(r.live, String(r.id)).toBe(0);
      }
    } finally {
      await fleet.stopAll();
      manager.proc.child.kill('SIGTERM');
      await manager.proc.exited;
      await db.drop();
    }
  }, 180_000);
});

/** Runs a query on the database a manager process used (its PGlite directory, or PostgreSQL). */
async function queryDatabase(env: Record<string, string>, query: string): Promise<Record<string, unknown>[]> {
  if (env.DATABASE_URL) {
    const sql = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      return [...(await sql.unsafe(query))];
    } finally {
      await sql.end();
    }
  }
  const pg = await PGlite.create(env.PGLITE_DATA_DIR!);
  try {
    return (await pg.query<Record<string, unknown>>(query)).rows;
  } finally {
    await pg.close();
  }
}
