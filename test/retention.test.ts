import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder, json, RawAgent } from './support/agents.ts';
import { eventually, sleep, startManager, submitTask, type TestManager, waitEnd } from './support/harness.ts';
import { parsePrometheus } from './support/prometheus-text.ts';

/** TASK_RETENTION_MS: what ended long enough ago is deleted; what is still needed stays. */
describe('retention of ended tasks', () => {
  let m: TestManager;
  let fleet: Fleet;
  let hook: RawAgent;
  let hookTakes = false;
  beforeAll(async () => {
    m = await startManager({ TASK_RETENTION_MS: '3000', OUTBOUND_LOOPBACK: 'allow' });
    fleet = new Fleet(m.url);
    await fleet.start({ ...fixedBidder('keep-fast', 1, 20), capabilities: ['keep.fast'] });
    // Long enough that the tasks waiting on it outlive the retention several times over.
    await fleet.start({
      ...fixedBidder('keep-slow', 1, 8000),
      capabilities: ['keep.slow'],
      execute: async () => {
        await sleep(8000);
        return { slow: true };
      },
    });
    // Completes its award while the subtask it handed off still runs.
    await fleet.start({
      ...fixedBidder('keep-contractor', 1, 50),
      capabilities: ['keep.handoff'],
      execute: async (input, ctx) => {
        void ctx.subcontract('keep.slow', input).catch(() => {});
        await sleep(500);
        return { handedOff: true };
      },
    });
    hook = await RawAgent.start((_req, res) => json(res, {}, hookTakes ? 200 : 500));
  });
  afterAll(async () => {
    await fleet?.stopAll();
    await hook?.close();
    await m?.stop();
  });

  const submit = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    submitTask(m, body, headers);
  const ended = async (id: string) => {
    const t = await waitEnd(m, id, 20000);
    expect(['completed', 'failed', 'cancelled']).toContain(t.state);
    return t;
  };
  const status = async (id: string) => (await m.call('GET', `/v1/tasks/${id}`)).status;
  const rowsOf = async (id: string) => {
    const [row] = await m.manager.database.query<{ bids: number; awards: number; events: number }>(
      `select (select count(*)::int from bids where task_id = $1) as bids,
              (select count(*)::int from awards where task_id = $1) as awards,
              (select count(*)::int from events where task_id = $1) as events`,
      [id],
    );
    return row;
  };
  const gone = (id: string) => eventually(async () => (await status(id)) === 404, 20_000, `${id} pruned`);

  it('deletes an ended task with its bids, awards and trail once its retention passed; its key can be used again', async () => {
    const body = { capability: 'keep.fast', input: { n: 1 } };
    const old = await submit(body, { 'idempotency-key': 'keep-key-1' });
    await ended(old);
    expect(await rowsOf(old)).toMatchObject({ bids: 1, awards: 1 });
    expect((await rowsOf(old))?.events).toBeGreaterThan(2);
    const fresh = await submit({ capability: 'keep.slow', input: {} });

    await gone(old);
    expect(await rowsOf(old)).toEqual({ bids: 0, awards: 0, events: 0 });
    expect((await m.call('GET', `/v1/tasks/${old}/events`)).status).toBe(404);
    // The running task is untouched, and the key names a new task now.
    expect(await status(fresh)).toBe(200);
    const again = await m.call('POST', '/v1/tasks', body, { 'idempotency-key': 'keep-key-1' });
    expect(again.status).toBe(202);
    expect(again.body.id).not.toBe(old);
    // Agent events (registrations) past the retention went too, and the metric counted both.
    await eventually(async () => {
      const [r] = await m.manager.database.query<{ n: number }>(
        `select count(*)::int as n from events where task_id is null and created_at < now() - interval '4 seconds'`,
        [],
      );
      return r?.n === 0;
    });
    const metrics = parsePrometheus((await m.call('GET', '/metrics')).body as string);
    const pruned = (kind: string) =>
      metrics.find((s) => s.name === 'cnp_pruned_total' && s.labels.kind === kind)?.value ?? 0;
    expect(pruned('task')).toBeGreaterThanOrEqual(1);
    expect(pruned('agent_event')).toBeGreaterThanOrEqual(1);
  });

  it("keeps a waiting task's dependency, a parent whose subtask runs and an undelivered callback's task", async () => {
    const dependency = await submit({ capability: 'keep.fast', input: { n: 2 } });
    const slowDependency = await submit({ capability: 'keep.slow', input: {} });
    const waiting = await submit({
      capability: 'keep.fast',
      input: { n: 3 },
      dependsOn: [dependency, slowDependency],
    });
    const parent = await submit({ capability: 'keep.handoff', input: {} });
    const called = await submit({
      capability: 'keep.fast',
      input: { n: 4 },
      callbackUrl: `${hook.url}/done`,
    });
    for (const id of [dependency, parent, called]) await ended(id);
    const child = (await m.call('GET', `/v1/tasks/${parent}`)).body.children[0] as string;
    expect(child).toBeTruthy();

    // A task that ended after all three: once it is gone, their retention has passed too.
    const control = await submit({ capability: 'keep.fast', input: { n: 5 } });
    await ended(control);
    await gone(control);
    expect((await m.call('GET', `/v1/tasks/${waiting}`)).body.state).toBe('waiting');
    expect(await status(dependency)).toBe(200);
    expect((await m.call('GET', `/v1/tasks/${child}`)).body.state).not.toBe('completed');
    expect(await status(parent)).toBe(200);
    expect(await status(called)).toBe(200);

    // Once nothing needs them any more, each goes after its own retention.
    hookTakes = true;
    await ended(waiting);
    await ended(child);
    for (const id of [dependency, slowDependency, waiting, parent, child, called]) await gone(id);
  });

  it('fails a waiting task whose dependency is gone, rather than leave it waiting for ever', async () => {
    // The race retention allows: a dependency checked at submission, deleted before the insert.
    const dependency = await submit({ capability: 'keep.fast', input: { n: 6 } });
    const slow = await submit({ capability: 'keep.slow', input: {} });
    await ended(dependency);
    const waiting = await submit({ capability: 'keep.fast', input: {}, dependsOn: [dependency, slow] });
    await m.manager.database.query('delete from tasks where id = $1', [dependency]);
    const failed = await waitEnd(m, waiting, 20000);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'dependency_failed' });
    expect(failed.error.message).toContain(`${dependency} no longer exists`);
    // It was settled when the other one ended: the dependency that is left completed.
    expect((await m.call('GET', `/v1/tasks/${slow}`)).body.state).toBe('completed');
  });
});
