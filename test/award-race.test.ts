import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, json } from './support/agents.ts';
import { eventually, sleep, startManager, type TestManager } from './support/harness.ts';
import { blockedBy, createTestDatabase, onPostgres } from './support/test-database.ts';

/**
 * Races that need a second connection holding locks, so PostgreSQL only (PGlite has one
 * connection and runs statements one at a time).
 */
describe.skipIf(!onPostgres())('an award raced by its own result', () => {
  let m: TestManager;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: postgres.Sql;
  let fleet: Fleet;

  beforeAll(async () => {
    db = await createTestDatabase();
    m = await startManager({ AWARD_TIMEOUT_MS: '30000', AWARD_RETRIES: '0' }, db);
    sql = postgres(db.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
    fleet = new Fleet(m.url);
  });
  afterAll(async () => {
    await fleet?.stopAll();
    await sql?.end();
    await m?.stop();
    await db?.drop();
  });

  it('counts the attempt once when the result arrives while the agreement commits', async () => {
    let releaseAward = () => {};
    const awardHeld = new Promise<void>((r) => {
      releaseAward = r;
    });
    const agent = await fleet.raw('racer', 'race.work', async (req, res) => {
      if (req.path === '/cfp') return json(res, { type: 'propose', cost: 1, etaMs: 50 });
      if (req.path === '/award') {
        await awardHeld; // the award stays `offered` until the test lets the answer go
        return json(res, { type: 'agree' });
      }
      return json(res, {});
    });
    const submitted = await m.call('POST', '/v1/tasks', { capability: 'race.work', input: {} });
    const id = submitted.body.id as string;
    const awardId = await eventually(
      async () => agent.requests.find((r) => r.path === '/award')?.body.awardId,
    );

    // The agreement, as the manager writes it, in a transaction left open on a second connection.
    let result: ReturnType<typeof m.call> | undefined;
    await sql.begin(async (tx) => {
      await tx`update awards set status = 'agreed' where id = ${awardId}`;
      await tx`update tasks set attempts = attempts + 1 where id = ${id}`;
      result = m.call(
        'POST',
        `/v1/tasks/${id}/result`,
        { awardId, type: 'inform-result', output: 'done' },
        { authorization: `Bearer ${agent.token}` },
      );
      // Commit only once the result's statement is waiting on the agreement's locks.
      await blockedBy(tx);
    });
    expect((await result)?.status).toBe(200);
    const done = await eventually(async () => {
      const t = (await m.call('GET', `/v1/tasks/${id}`)).body;
      return t.state === 'completed' ? t : null;
    });
    releaseAward();
    expect(done.attempts).toBe(1);
  });

  it('fails a task past its deadline without deadlocking against an agreement in flight', async () => {
    let releaseAward = () => {};
    const awardHeld = new Promise<void>((r) => {
      releaseAward = r;
    });
    const agent = await fleet.raw('late-racer', 'race.deadline', async (req, res) => {
      if (req.path === '/cfp') return json(res, { type: 'propose', cost: 1, etaMs: 50 });
      if (req.path === '/award') {
        await awardHeld;
        return json(res, { type: 'agree' });
      }
      return json(res, {});
    });
    const deadline = Date.now() + 2500;
    const submitted = await m.call('POST', '/v1/tasks', {
      capability: 'race.deadline',
      input: {},
      bidWindowMs: 300,
      deadline: new Date(deadline).toISOString(),
    });
    const id = submitted.body.id as string;
    const awardId = await eventually(
      async () => agent.requests.find((r) => r.path === '/award')?.body.awardId,
    );
    const deadlocks = async () =>
      Number(
        (await sql`select deadlocks from pg_stat_database where datname = current_database()`)[0]?.deadlocks,
      );
    const before = await deadlocks();
    // An agreement in flight: the award is locked, then (after the deadline sweep has taken the
    // task) the task, in the order the manager's own agreement takes them.
    await sql.begin(async (tx) => {
      await tx`update awards set status = 'agreed' where id = ${awardId}`;
      await sleep(Math.max(0, deadline - Date.now()) + 400);
      await tx`update tasks set attempts = attempts + 1 where id = ${id}`;
    });
    const ended = await eventually(async () => {
      const t = (await m.call('GET', `/v1/tasks/${id}`)).body;
      return t.state === 'failed' ? t : null;
    });
    releaseAward();
    expect(ended.error.code).toBe('deadline_exceeded');
    await sleep(3000); // backends report their statistics at most once a second
    expect(await deadlocks()).toBe(before);
  });
});
