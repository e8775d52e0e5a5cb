import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder, json } from './support/agents.ts';
import { claimQueued, eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';

let m: TestManager;
let fleet: Fleet;
beforeAll(async () => {
  m = await startManager({ REAUCTION_BASE_MS: '60000', REAUCTION_CAP_MS: '60000' });
});
afterAll(() => m.stop());
afterEach(() => fleet?.stopAll());

const state = async (id: string) => (await m.call('GET', `/v1/tasks/${id}`)).body;
const queued = (id: string) =>
  eventually(async () => ((await state(id)).state === 'queued' ? state(id) : null), 10_000, 'queued');
const reasonOf = async (id: string) =>
  (await m.call('GET', `/v1/tasks/${id}/events`)).body.items
    .filter((e: { type: string }) => e.type === 'task.queued')
    .at(-1)?.data.reason;

/** An agent that is invited but never bids: bidding times out and the task is queued. */
const silentBidder = (name: string, cap: string) =>
  fleet.raw(name, cap, (req, res) => (req.path === '/cfp' ? json(res, { type: 'deferred' }) : json(res, {})));
const claim = (token: string, body: Record<string, unknown>) => claimQueued(m, token, body);

describe('fallback work queue', () => {
  it('never sends a cfp to a pull-only agent (registered without endpoint); it claims instead', async () => {
    fleet = new Fleet(m.url);
    const reg = await m.call('POST', '/v1/agents', { name: 'pull-only', capabilities: [{ name: 'q.pull' }] });
    expect(reg.status).toBe(201);
    expect(reg.body.agent.endpoint).toBeNull();
    const t = await m.call('POST', '/v1/tasks', { capability: 'q.pull', input: { n: 1 } });
    // Nobody can be invited: queued at once, not after a bid window.
    expect(t.body.state).toBe('queued');
    expect(await reasonOf(t.body.id)).toBe('no_eligible_agents');
    const res = await claim(reg.body.token, { capabilities: ['q.pull'], limit: 50 });
    expect(res.body.tasks.map((c: { task: { id: string } }) => c.task.id)).toEqual([t.body.id]);
    const done = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/result`,
      { awardId: res.body.tasks[0].awardId, type: 'inform-result', output: 2 },
      { authorization: `Bearer ${reg.body.token}` },
    );
    expect(done.body).toMatchObject({ state: 'completed', output: 2, attempts: 1 });
    const events = (await m.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items;
    expect(events.map((e: { type: string }) => e.type)).toContain('task.claimed');
  });

  it("tells this manager's listeners of every task one batch claim took", async () => {
    fleet = new Fleet(m.url);
    const reg = await m.call('POST', '/v1/agents', {
      name: 'batch-puller',
      capabilities: [{ name: 'q.batch' }],
    });
    const ids: string[] = [];
    for (let n = 0; n < 6; n++)
      ids.push((await m.call('POST', '/v1/tasks', { capability: 'q.batch', input: { n } })).body.id);
    // All queued in the same instant: the claim's order falls back to the task ids.
    await m.manager.database.query(
      `update tasks set created_at = (select min(created_at) from tasks where capability = 'q.batch')
       where capability = 'q.batch'`,
      [],
    );
    const claimedHere = new Set<string>();
    const off = m.manager.hub.onAny((n) => {
      if (n.type === 'task.claimed' && n.taskId) claimedHere.add(n.taskId);
    });
    try {
      const res = await claim(reg.body.token, { capabilities: ['q.batch'], limit: 50 });
      expect(res.body.tasks.map((c: { task: { id: string } }) => c.task.id)).toEqual([...ids].sort());
      await eventually(() => claimedHere.size === ids.length, 5_000, 'a notice for every claimed task');
      expect([...claimedHere].sort()).toEqual([...ids].sort());
    } finally {
      off();
    }
  });

  it('queues a task whose bidding timed out, and a pull claim gets it', async () => {
    fleet = new Fleet(m.url);
    const agent = await silentBidder('puller', 'q.one');
    const t = await m.call('POST', '/v1/tasks', { capability: 'q.one', input: { n: 7 }, bidWindowMs: 200 });
    await queued(t.body.id);
    expect(await reasonOf(t.body.id)).toBe('no_bids');
    const res = await claim(agent.token, { capabilities: ['q.one'], limit: 5, leaseMs: 30_000 });
    expect(res.status).toBe(200);
    expect(res.body.tasks).toHaveLength(1);
    const [c] = res.body.tasks;
    expect(c.task).toMatchObject({ id: t.body.id, input: { n: 7 } });
    const held = await state(t.body.id);
    expect(held).toMatchObject({ state: 'awarded', attempts: 1 });
    expect(held.award.id).toBe(c.awardId);
    const done = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/result`,
      { awardId: c.awardId, type: 'inform-result', output: 14 },
      {
        authorization: `Bearer ${agent.token}`,
      },
    );
    expect(done.body).toMatchObject({ state: 'completed', output: 14 });
    expect((await claim(agent.token, { capabilities: ['q.one'] })).body.tasks).toEqual([]);
  });

  it('hands out highest priority first, then oldest, and only capabilities of the profile', async () => {
    fleet = new Fleet(m.url);
    const agent = await silentBidder('orderly', 'q.order');
    const ids: string[] = [];
    for (const priority of [0, 5, 0, 9]) {
      ids.push(
        (
          await m.call('POST', '/v1/tasks', {
            capability: 'q.order',
            input: priority,
            priority,
            bidWindowMs: 100,
          })
        ).body.id,
      );
    }
    for (const id of ids) await queued(id);
    const res = await claim(agent.token, { capabilities: ['q.order'], limit: 4 });
    expect(res.body.tasks.map((t: { task: { id: string } }) => t.task.id)).toEqual([
      ids[3],
      ids[1],
      ids[0],
      ids[2],
    ]);
    const foreign = await claim(agent.token, { capabilities: ['q.order', 'not.mine'] });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error.details[0].field).toBe('capabilities');
    expect((await claim(agent.token, { capabilities: ['q.order'], limit: 51 })).status).toBe(422);
    expect((await m.call('POST', '/v1/queue/claim', { capabilities: ['q.order'] })).status).toBe(401);
    for (const id of ids) await m.call('POST', `/v1/tasks/${id}/cancel`);
  });

  it('wakes a waiting claimer as soon as a task is queued, without polling', async () => {
    const one = await startManager();
    try {
      const reg = await one.call('POST', '/v1/agents', {
        name: 'waiter',
        capabilities: [{ name: 'q.wait' }],
      });
      const auth = { authorization: `Bearer ${reg.body.token}` };
      const waiting = one.call('POST', '/v1/queue/claim', { capabilities: ['q.wait'], waitMs: 20_000 }, auth);
      // The manager holds the claim (a probe that is itself a long-poll would race it for a slot),
      // so the task below is queued while the claimer waits.
      await eventually(() => one.manager.held.polls.total === 1, 10_000, 'the claim to be held');
      const started = Date.now();
      // No agent can bid on it: queued at once, which must wake the held claim.
      const t = await one.call('POST', '/v1/tasks', { capability: 'q.wait', input: 1 });
      const res = await waiting;
      expect(res.body.tasks.map((c: { task: { id: string } }) => c.task.id)).toEqual([t.body.id]);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await one.stop();
    }
  });

  it('requeues a task whose lease expired, and answers a late result with 409 stale_award', async () => {
    fleet = new Fleet(m.url);
    const agent = await silentBidder('leaser', 'q.lease');
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'q.lease',
      input: 1,
      bidWindowMs: 100,
      maxAttempts: 3,
    });
    await queued(t.body.id);
    const [c] = (await claim(agent.token, { capabilities: ['q.lease'], leaseMs: 1000 })).body.tasks;
    // Any queueing for that reason: the next round may already have queued it again (no bids).
    await eventually(
      async () =>
        (await m.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items.some(
          (e: { type: string; data: { reason?: string } }) =>
            e.type === 'task.queued' && e.data.reason === 'award_expired',
        ),
      10_000,
      'lease expiry',
    );
    const late = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/result`,
      { awardId: c.awardId, type: 'inform-result', output: 1 },
      {
        authorization: `Bearer ${agent.token}`,
      },
    );
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('stale_award');
    expect((await state(t.body.id)).output).toBeNull();
    await m.call('POST', `/v1/tasks/${t.body.id}/cancel`);
  });

  it('fails with attempts_exhausted after maxAttempts lapsed leases, and retry revives it', async () => {
    fleet = new Fleet(m.url);
    // Both claimers registered first: a registration wakes queued tasks for a new round.
    const agent = await silentBidder('lapser', 'q.attempts');
    const second = await silentBidder('lapser-2', 'q.attempts');
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'q.attempts',
      input: 1,
      // A window a loaded machine meets: with 100 ms the rescuer's bid after the retry missed
      // round after round under CI load, and the task was still queued 20 s later.
      bidWindowMs: 1000,
      maxAttempts: 2,
    });
    await queued(t.body.id);
    const first = await claim(agent.token, { capabilities: ['q.attempts'], leaseMs: 1000, waitMs: 10_000 });
    expect(first.body.tasks).toHaveLength(1);
    await eventually(async () => (await reasonOf(t.body.id)) === 'award_expired', 10_000, 'lease expiry');
    // The lapsed agent is excluded from this task: even waiting, it gets nothing...
    expect((await claim(agent.token, { capabilities: ['q.attempts'], waitMs: 2000 })).body.tasks).toEqual([]);
    // ...while another claimer takes the second attempt (once the immediate re-auction queued it again).
    expect(
      (await claim(second.token, { capabilities: ['q.attempts'], leaseMs: 1000, waitMs: 10_000 })).body.tasks,
    ).toHaveLength(1);
    const failed = await eventually(
      async () => ((await state(t.body.id)).state === 'failed' ? state(t.body.id) : null),
      10_000,
    );
    expect(failed.error.code).toBe('attempts_exhausted');
    expect((await m.call('GET', '/v1/tasks?state=failed&capability=q.attempts')).body.items).toHaveLength(1);
    // Retry: fresh attempts, back to the market; a working agent completes it.
    await fleet.start({ ...fixedBidder('rescuer', 1, 100), capabilities: ['q.attempts'] });
    const retried = await m.call('POST', `/v1/tasks/${t.body.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body.attempts).toBe(0);
    const done = await waitEnd(m, t.body.id, 20000);
    expect(done.state).toBe('completed');
  });

  it('ends a queued task past its deadline with deadline_exceeded', async () => {
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'q.nobody',
      input: 1,
      deadline: new Date(Date.now() + 800).toISOString(),
    });
    const done = await waitEnd(m, t.body.id, 20000);
    expect(done).toMatchObject({ state: 'failed', error: { code: 'deadline_exceeded' } });
  });

  it('auctions a queued task again as soon as an agent that can do it registers', async () => {
    fleet = new Fleet(m.url);
    const t = await m.call('POST', '/v1/tasks', { capability: 'q.later', input: { n: 2 } });
    await queued(t.body.id);
    expect(await reasonOf(t.body.id)).toBe('no_eligible_agents');
    await fleet.start({ ...fixedBidder('latecomer', 1, 100), capabilities: ['q.later'] });
    const done = await waitEnd(m, t.body.id, 20000);
    expect(done).toMatchObject({ state: 'completed', output: { doubled: 4 } });
  });

  it('serves queued tasks to an SDK agent in pull mode', async () => {
    fleet = new Fleet(m.url);
    const t = await m.call('POST', '/v1/tasks', { capability: 'q.pull', input: { n: 5 } });
    await queued(t.body.id);
    // This agent refuses every cfp but pulls from the queue.
    await fleet.start(
      {
        ...fixedBidder('puller-sdk', 1, 100),
        capabilities: ['q.pull'],
        bid: () => ({ type: 'refuse', reason: 'pull only' }),
      },
      { pull: { leaseMs: 5000, waitMs: 2000 } },
    );
    const done = await waitEnd(m, t.body.id, 20000);
    expect(done).toMatchObject({ state: 'completed', output: { doubled: 10 } });
    const events = (await m.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(events).toContain('task.claimed');
  });

  it('never gives one task to two claimers: parallel claims over 500 queued tasks', async () => {
    fleet = new Fleet(m.url);
    const claimers: Awaited<ReturnType<typeof silentBidder>>[] = [];
    for (let i = 0; i < 4; i++) claimers.push(await silentBidder(`claimer-${i}`, 'q.race'));
    const ids = new Set<string>();
    for (let i = 0; i < 500; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () =>
          m.call('POST', '/v1/tasks', { capability: 'q.race', input: 1, bidWindowMs: 100 }),
        ),
      );
      for (const r of batch) ids.add(r.body.id);
    }
    await eventually(async () => {
      const page = await m.call('GET', '/v1/tasks?capability=q.race&state=queued&limit=200');
      return page.body.items.length === 200;
    }, 60_000);
    await eventually(async () => {
      for (let cursor: string | null = null, n = 0; ; ) {
        const page: any = await m.call(
          'GET',
          `/v1/tasks?capability=q.race&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
        );
        n += page.body.items.filter((t: { state: string }) => t.state === 'queued').length;
        cursor = page.body.nextCursor;
        if (!cursor) return n === 500;
      }
    }, 60_000);
    const got: string[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, k) => {
        const agent = claimers[k % claimers.length]!;
        for (;;) {
          const res = await claim(agent.token, { capabilities: ['q.race'], limit: 7 });
          expect(res.status).toBe(200);
          if (res.body.tasks.length === 0) return;
          got.push(...res.body.tasks.map((c: { task: { id: string } }) => c.task.id));
        }
      }),
    );
    expect(got.length).toBe(500);
    expect(new Set(got).size).toBe(500);
    expect(new Set(got)).toEqual(ids);
  });
});
