import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from './support/agents.ts';
import { eventually, sleep, startManager, type TestManager } from './support/harness.ts';
import { blockedBy, createTestDatabase, onPostgres } from './support/test-database.ts';

/** Tasks that wait for others (dependsOn) and get their outputs. */
describe('task dependencies', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
    const bid = () => ({ type: 'propose' as const, cost: 1, etaMs: 50 });
    await fleet.start({
      name: 'pipe-fetcher',
      capabilities: ['pipe.fetch'],
      bid,
      // Not instant: the stages after it are submitted while it still runs.
      execute: async (input: { doc: string }) => {
        await sleep(400);
        return { text: `the text of ${input.doc} has five words` };
      },
    });
    await fleet.start({
      name: 'pipe-counter',
      capabilities: ['pipe.count'],
      bid,
      execute: (_input, { task }) => {
        const [fetched] = Object.values(task.dependencies ?? {}) as { text: string }[];
        return { words: fetched!.text.split(' ').length };
      },
    });
    await fleet.start({
      name: 'pipe-reporter',
      capabilities: ['pipe.report'],
      bid,
      execute: (_input, { task }) => ({ report: task.dependencies }),
    });
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  const submit = (body: Record<string, unknown>) => m.call('POST', '/v1/tasks', body);
  const ended = (id: string) => m.call('GET', `/v1/tasks/${id}?waitMs=15000`).then((r) => r.body);

  it('runs a three-task pipeline, each stage given the outputs of the ones it depends on', async () => {
    const fetch = await submit({ capability: 'pipe.fetch', input: { doc: 'a.txt' } });
    const count = await submit({ capability: 'pipe.count', input: {}, dependsOn: [fetch.body.id] });
    expect(count.status).toBe(202);
    expect(count.body).toMatchObject({ state: 'waiting', dependsOn: [fetch.body.id] });
    const report = await submit({
      capability: 'pipe.report',
      input: {},
      dependsOn: [fetch.body.id, count.body.id],
    });
    const done = await eventually(async () => {
      const r = await ended(report.body.id);
      return r.state === 'completed' ? r : null;
    }, 20_000);
    const fetched = (await ended(fetch.body.id)).output;
    expect(done.output.report).toEqual({ [fetch.body.id]: fetched, [count.body.id]: { words: 7 } });
    // Its trail: waiting, released, then a round like any task.
    const types = (await m.call('GET', `/v1/tasks/${report.body.id}/events`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(types.slice(0, 3)).toEqual(['task.submitted', 'task.released', 'round.opened']);
    expect(types.at(-1)).toBe('task.completed');
  });

  it('fails a dependent when a dependency is cancelled, with dependency_failed', async () => {
    const never = await submit({ capability: 'pipe.nobody', input: {} });
    const dependent = await submit({ capability: 'pipe.count', input: {}, dependsOn: [never.body.id] });
    expect(dependent.body.state).toBe('waiting');
    // Waiting: no round, not in the queue, not claimable.
    expect((await m.call('GET', `/v1/tasks/${dependent.body.id}/bids`)).body.items).toEqual([]);
    await m.call('POST', `/v1/tasks/${never.body.id}/cancel`);
    const failed = await eventually(async () => {
      const r = (await m.call('GET', `/v1/tasks/${dependent.body.id}`)).body;
      return r.state === 'failed' ? r : null;
    });
    expect(failed.error).toMatchObject({ code: 'dependency_failed' });
    expect(failed.error.message).toContain(never.body.id);
  });

  it('starts at once when its dependencies have all completed already, and can be cancelled while waiting', async () => {
    const first = await submit({ capability: 'pipe.fetch', input: { doc: 'b.txt' } });
    expect((await ended(first.body.id)).state).toBe('completed');
    const after = await submit({ capability: 'pipe.count', input: {}, dependsOn: [first.body.id] });
    expect(after.body.state).not.toBe('waiting');
    expect((await ended(after.body.id)).output).toEqual({ words: 7 });

    const blocker = await submit({ capability: 'pipe.nobody', input: {} });
    const waiting = await submit({ capability: 'pipe.count', input: {}, dependsOn: [blocker.body.id] });
    expect((await m.call('POST', `/v1/tasks/${waiting.body.id}/cancel`)).body.state).toBe('cancelled');
    expect(
      (await m.call('GET', '/v1/tasks?state=waiting&limit=200')).body.items.map((t: { id: string }) => t.id),
    ).not.toContain(waiting.body.id);
  });

  it('refuses dependencies that do not exist, too many, or repeated, naming dependsOn', async () => {
    const ghost = '01900000-0000-7000-8000-000000000000';
    const missing = await submit({ capability: 'pipe.count', input: {}, dependsOn: [ghost] });
    expect(missing.status).toBe(422);
    expect(missing.body.error.details[0]).toMatchObject({ field: 'dependsOn' });
    expect(missing.body.error.message).toContain(ghost);
    const many = Array.from(
      { length: 33 },
      (_, i) => `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    );
    expect(
      (await submit({ capability: 'pipe.count', input: {}, dependsOn: many })).body.error.details[0].field,
    ).toBe('dependsOn');
    const t = await submit({ capability: 'pipe.nobody', input: {} });
    const twice = await submit({ capability: 'pipe.count', input: {}, dependsOn: [t.body.id, t.body.id] });
    expect(twice.status).toBe(422);
  });
});

/**
 * A submission releases its own task when its dependencies have completed; a sweep may have
 * taken the task's row first. Needs a second connection holding that row, so PostgreSQL only.
 */
describe.skipIf(!onPostgres())('a waiting task held by a sweep', () => {
  let m: TestManager;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pg: postgres.Sql;
  let fleet: Fleet;
  let open = () => {};
  const gate = new Promise<void>((r) => {
    open = r;
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    m = await startManager({}, db);
    pg = postgres(db.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
    fleet = new Fleet(m.url);
    const bid = () => ({ type: 'propose' as const, cost: 1, etaMs: 50 });
    await fleet.start({
      name: 'gated-fetcher',
      capabilities: ['held.fetch'],
      bid,
      execute: async () => {
        await gate;
        return { text: 'fetched' };
      },
    });
    await fleet.start({ name: 'held-counter', capabilities: ['held.count'], bid, execute: () => ({ n: 1 }) });
  });
  afterAll(async () => {
    open();
    await fleet?.stopAll();
    await pg?.end();
    await m?.stop();
    await db?.drop();
  });

  it('waits for the sweep holding it rather than skipping it, and releases it when the sweep let it be', async () => {
    const first = await m.call('POST', '/v1/tasks', { capability: 'held.fetch', input: {} });
    const after = await m.call('POST', '/v1/tasks', {
      capability: 'held.count',
      input: {},
      dependsOn: [first.body.id],
    });
    expect(after.body.state).toBe('waiting');
    const id = after.body.id as string;

    let released: Promise<{ id: string }[]> | undefined;
    await pg
      .begin(async (tx) => {
        // As a sweep holds it: locked while its dependency completes, the manager's sweeps skip it.
        await tx`select id from tasks where id = ${id} for update`;
        open();
        const done = await m.call('GET', `/v1/tasks/${first.body.id}?waitMs=15000`);
        expect(done.body.state).toBe('completed');
        released = m.manager.market.releaseWaiting(id);
        await blockedBy(tx); // the release is queued behind this lock
        throw new Error('let it be');
      })
      .catch((e: Error) => expect(e.message).toBe('let it be'));
    expect((await released)?.map((t) => t.id)).toEqual([id]);
    const ended = await m.call('GET', `/v1/tasks/${id}?waitMs=15000`);
    expect(ended.body).toMatchObject({ state: 'completed', output: { n: 1 } });
  });
});
