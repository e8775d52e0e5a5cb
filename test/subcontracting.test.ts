import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_AGENTS, sampleAgentSpec } from '../agents/catalog.ts';
import { Fleet, fixedBidder, json, RawAgent } from './support/agents.ts';
import { type ProxyFault, startFlakyProxy } from './support/flaky-proxy.ts';
import { eventually, sleep, startManager, type TestManager, waitEnd } from './support/harness.ts';

/** Agents that hold an award submitting parts of the work through the same market. */
describe('subcontracting', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  it('lets a holder subcontract through the SDK: never to itself, within its award, listed as children', async () => {
    // The contractor could do the child's capability itself, and cheaper: it must not be invited.
    const contractor = await fleet.start({
      name: 'contractor',
      capabilities: ['sub.whole', 'sub.part'],
      bid: (cfp) => ({ type: 'propose', cost: cfp.task.capability === 'sub.whole' ? 10 : 0.1, etaMs: 2000 }),
      execute: async (input: { n: number }, ctx) => {
        if (ctx.task.capability === 'sub.part') return { by: 'contractor' };
        const part = (await ctx.subcontract('sub.part', { n: input.n })) as { doubled: number; by: string };
        return { total: part.doubled + 1, partBy: part.by };
      },
    });
    const sub = await fleet.start({ ...fixedBidder('subcontractor', 3, 50), capabilities: ['sub.part'] });
    const t = await m.call('POST', '/v1/tasks', { capability: 'sub.whole', input: { n: 20 } });
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done).toMatchObject({ state: 'completed', output: { total: 41, partBy: 'subcontractor' } });
    expect(done.children).toHaveLength(1);
    const child = (await m.call('GET', `/v1/tasks/${done.children[0]}`)).body;
    expect(child).toMatchObject({
      parentId: t.body.id,
      capability: 'sub.part',
      state: 'completed',
      budget: 10,
    });
    // Capped at the parent award's dueAt when it was submitted (seconds away, not open-ended).
    expect(Date.parse(child.deadline)).toBeLessThan(Date.parse(done.createdAt) + 60_000);
    const bids = (await m.call('GET', `/v1/tasks/${child.id}/bids`)).body.items;
    expect(bids.map((b: { agentId: string }) => b.agentId)).toEqual([sub.id]);
    expect(bids.map((b: { agentId: string }) => b.agentId)).not.toContain(contractor.id);
    const listed = (await m.call('GET', `/v1/tasks?parentId=${t.body.id}`)).body.items;
    expect(listed.map((x: { id: string }) => x.id)).toEqual([child.id]);
  });

  it('makes a subtask once when the submission is answered into a cut connection, and waits through a 503', async () => {
    // The contractor reaches the manager through a hop that loses the answer to its first
    // subtask submission (stored, but never heard) and fails its first long-poll with a 503.
    const faults: ProxyFault[] = ['lose-answer', 'unavailable'];
    let submits = 0;
    const proxy = await startFlakyProxy(m.url, (r) => {
      if (r.method === 'POST' && r.path === '/v1/tasks' && r.body.includes('"parent"')) {
        submits++;
        return submits === 1 ? faults[0]! : 'pass';
      }
      if (r.method === 'GET' && /^\/v1\/tasks\/[^/]+\?waitMs=/.test(r.path) && faults.length === 2) {
        faults.pop();
        return 'unavailable';
      }
      return 'pass';
    });
    const viaProxy = new Fleet(proxy.url);
    try {
      await viaProxy.start({
        name: 'flaky-contractor',
        capabilities: ['flaky.whole'],
        bid: () => ({ type: 'propose', cost: 5, etaMs: 5000 }),
        execute: async (input: { n: number }, ctx) => {
          const part = (await ctx.subcontract('flaky.part', { n: input.n })) as { doubled: number };
          return { total: part.doubled + 1 };
        },
      });
      // Slow enough that the contractor long-polls for the subtask.
      await fleet.start({
        ...fixedBidder('flaky-sub', 1, 50),
        capabilities: ['flaky.part'],
        execute: async (input: { n: number }) => {
          await sleep(1000);
          return { doubled: input.n * 2 };
        },
      });
      const t = await m.call('POST', '/v1/tasks', { capability: 'flaky.whole', input: { n: 4 } });
      const done = await waitEnd(m, t.body.id, 20000);
      expect(done).toMatchObject({ state: 'completed', output: { total: 9 } });
      // Submitted twice, with one key: one subtask.
      const tries = proxy.seen.filter((r) => r.method === 'POST' && r.body.includes('"parent"'));
      expect(tries).toHaveLength(2);
      expect(tries[0]!.headers['idempotency-key']).toMatch(/^subtask-/);
      expect(tries[1]!.headers['idempotency-key']).toBe(tries[0]!.headers['idempotency-key']);
      expect(done.children).toHaveLength(1);
      expect(faults).toEqual(['lose-answer']); // the 503 was served, and waited through
      const listed = (await m.call('GET', `/v1/tasks?parentId=${t.body.id}`)).body.items;
      expect(listed).toHaveLength(1);
    } finally {
      await viaProxy.stopAll();
      await proxy.close();
    }
  });

  it('checks the award a subtask is submitted under, and cancels unfinished children when it ends', async () => {
    const holder = await fleet.raw('raw-holder', 'sub.raw', (req, res) =>
      json(
        res,
        req.path === '/cfp'
          ? { type: 'propose', cost: 4, etaMs: 60_000 }
          : req.path === '/award'
            ? { type: 'agree' }
            : {},
      ),
    );
    const other = await m.call('POST', '/v1/agents', {
      name: 'not-the-holder',
      capabilities: [{ name: 'x.y' }],
    });
    const t = await m.call('POST', '/v1/tasks', { capability: 'sub.raw', input: {} });
    const parent = await eventually(async () => {
      const v = (await m.call('GET', `/v1/tasks/${t.body.id}`)).body;
      return v.state === 'awarded' ? v : null;
    });
    const own = { authorization: `Bearer ${holder.token}` };
    const ref = { taskId: parent.id, awardId: parent.award.id };
    const child = (body: Record<string, unknown>, headers: Record<string, string> = own) =>
      m.call('POST', '/v1/tasks', { capability: 'sub.nobody', input: {}, parent: ref, ...body }, headers);

    const over = await child({ budget: 5 });
    expect(over.status).toBe(422);
    expect(over.body.error.details[0].field).toBe('budget');
    expect((await child({}, { authorization: `Bearer ${other.body.token}` })).status).toBe(403);
    expect((await child({}, {})).status).toBe(401);
    const wrongAward = await child({
      parent: { taskId: parent.id, awardId: '01900000-0000-7000-8000-000000000000' },
    });
    expect(wrongAward.status).toBe(422);

    const kids = [await child({ budget: 2 }), await child({})];
    for (const k of kids) expect(k.status).toBe(202);
    // Without a budget: what is left of the award's cost once the other subtasks' budgets are held.
    expect(kids[1]!.body.budget).toBe(2);
    // The holder cannot take its own subtask from the queue either.
    const claim = await m.call('POST', '/v1/queue/claim', { capabilities: ['sub.raw'] }, own);
    expect(claim.body.tasks).toEqual([]);
    expect((await m.call('GET', `/v1/tasks/${parent.id}`)).body.children).toEqual(kids.map((k) => k.body.id));

    // The parent is cancelled: its award ends, and so do the children.
    await m.call('POST', `/v1/tasks/${parent.id}/cancel`);
    for (const k of kids) {
      const ended = await eventually(async () => {
        const v = (await m.call('GET', `/v1/tasks/${k.body.id}`)).body;
        return v.state === 'cancelled' ? v : null;
      });
      expect(ended.error).toMatchObject({ code: 'parent_ended' });
    }
    // An ended award takes no more subtasks.
    expect((await child({})).status).toBe(409);
  });

  it('runs the sample reporter: it subcontracts a summary and keywords and merges them', async () => {
    for (const name of ['reporter', 'summarizer'])
      await fleet.start(sampleAgentSpec(`sample-${name}`, SAMPLE_AGENTS[name]!));
    const text =
      'Contract nets let a manager announce a task. Agents propose a cost and a time. The manager awards the best proposal. Failed agents lose the task to the next bidder.';
    const t = await m.call('POST', '/v1/tasks', { capability: 'text.report', input: { text, keywords: 3 } });
    const done = await waitEnd(m, t.body.id, 20000);
    expect(done.state, JSON.stringify(done.error)).toBe('completed');
    expect(done.output.summary).toEqual(expect.any(String));
    expect(done.output.keywords).toHaveLength(3);
    expect(done.children).toHaveLength(2);
  });
});

describe('subcontracting with keys configured', () => {
  it("lets the holder read and cancel its own subtasks with its agent token, and no one else's", async () => {
    const m = await startManager({ API_KEYS: 'client-key-1', REGISTRATION_KEY: 'register-me-please' });
    const holder = await RawAgent.start((req, res) =>
      json(
        res,
        req.path === '/cfp'
          ? { type: 'propose', cost: 3, etaMs: 60_000 }
          : req.path === '/award'
            ? { type: 'agree' }
            : {},
      ),
    );
    try {
      const key = { authorization: 'Bearer client-key-1' };
      const reg = await m.call(
        'POST',
        '/v1/agents',
        { name: 'keyed-holder', endpoint: holder.url, capabilities: [{ name: 'keyed.parent' }] },
        { 'x-registration-key': 'register-me-please' },
      );
      const own = { authorization: `Bearer ${reg.body.token}` };
      const t = await m.call('POST', '/v1/tasks', { capability: 'keyed.parent', input: {} }, key);
      const parent = await eventually(async () => {
        const v = (await m.call('GET', `/v1/tasks/${t.body.id}`, undefined, key)).body;
        return v.state === 'awarded' ? v : null;
      });
      const child = await m.call(
        'POST',
        '/v1/tasks',
        { capability: 'keyed.child', input: {}, parent: { taskId: parent.id, awardId: parent.award.id } },
        own,
      );
      expect(child.status).toBe(202);
      expect((await m.call('GET', `/v1/tasks/${child.body.id}`, undefined, own)).body.parentId).toBe(
        parent.id,
      );
      // The holder's token does not open the client's tasks, nor a client key the agent's.
      expect((await m.call('GET', `/v1/tasks/${parent.id}`, undefined, own)).status).toBe(404);
      expect((await m.call('GET', `/v1/tasks/${child.body.id}`, undefined, key)).status).toBe(404);
      expect((await m.call('POST', `/v1/tasks/${child.body.id}/cancel`, undefined, own)).body.state).toBe(
        'cancelled',
      );
      // Without a parent, an agent token submits nothing.
      expect((await m.call('POST', '/v1/tasks', { capability: 'x.y', input: {} }, own)).status).toBe(403);
    } finally {
      await holder.close();
      await m.stop();
    }
  });
});
