import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder, json } from './support/agents.ts';
import { eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';

/**
 * What agents and clients send may hold NUL bytes, lone surrogates, huge numbers and deep
 * nesting: each is a 4xx naming the field (changing nothing), or, from an agent's answer,
 * cleaned so it cannot break the statement that records every other agent's bid.
 */
let m: TestManager;
let fleet: Fleet;
let seq = 0;
beforeAll(async () => {
  m = await startManager();
});
afterAll(() => m.stop());
afterEach(() => fleet?.stopAll());

const cap = () => `hostile.c${++seq}`;
const ended = (id: string) => waitEnd(m, id, 15000) as Promise<{ state: string; output: unknown }>;
const tasksOf = async (capability: string) =>
  (await m.call('GET', `/v1/tasks?capability=${capability}`)).body.items as unknown[];
const fieldsOf = (body: { error: { details?: { field: string }[] } }) =>
  (body.error.details ?? []).map((d) => d.field);

describe('an agent that answers with bytes PostgreSQL refuses', () => {
  for (const [what, answer] of [
    [
      'a refusal whose reason is a NUL',
      (res: Parameters<typeof json>[0]) => json(res, { type: 'refuse', reason: '\u0000' }),
    ],
    [
      'a 2xx body that is not JSON and holds a NUL',
      (res: Parameters<typeof json>[0]) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('oops\u0000\ud800');
      },
    ],
    [
      'a refusal with a lone surrogate',
      (res: Parameters<typeof json>[0]) => json(res, { type: 'refuse', reason: 'x\udc00y' }),
    ],
  ] as const) {
    it(`does not freeze the round: ${what}`, async () => {
      fleet = new Fleet(m.url);
      const c = cap();
      await fleet.raw(`nul-${seq}`, c, (req, res) => (req.path === '/cfp' ? answer(res) : json(res, {})));
      const goodName = `good-${seq}`;
      await fleet.start({ ...fixedBidder(goodName, 5, 100), capabilities: [c] });
      const t = await m.call('POST', '/v1/tasks', { capability: c, input: { n: 2 }, bidWindowMs: 1000 });
      const done = await ended(t.body.id);
      expect(done).toMatchObject({
        state: 'completed',
        output: { doubled: 4, by: goodName },
      });
      const bids = (await m.call('GET', `/v1/tasks/${t.body.id}/bids`)).body.items as {
        reason: string | null;
      }[];
      for (const b of bids) expect(b.reason ?? '').not.toContain('\u0000');
    });
  }

  it('cuts off a reply past 1 MiB, sent in many chunks: its answer is invalid, the round goes on', async () => {
    fleet = new Fleet(m.url);
    const c = cap();
    const big = await fleet.raw(`big-${seq}`, c, (req, res) => {
      if (req.path !== '/cfp') return json(res, {});
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = ' '.repeat(64 * 1024);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end('{"type":"refuse"}');
    });
    const goodName = `good-${seq}`;
    await fleet.start({ ...fixedBidder(goodName, 5, 100), capabilities: [c] });
    const t = await m.call('POST', '/v1/tasks', { capability: c, input: { n: 3 }, bidWindowMs: 1000 });
    expect(await ended(t.body.id)).toMatchObject({
      state: 'completed',
      output: { doubled: 6, by: goodName },
    });
    const bids = (await m.call('GET', `/v1/tasks/${t.body.id}/bids`)).body.items as {
      agentId: string;
      type: string;
      reason: string | null;
    }[];
    expect(bids.find((b) => b.agentId === big.id)).toMatchObject({
      type: 'invalid',
      reason: expect.stringContaining('exceeds 1048576 bytes'),
    });
  });
});

describe('a client or agent sending what cannot be stored gets a 422 naming the field', () => {
  it('refuses NUL and lone surrogates in a task input, storing nothing', async () => {
    const c = cap();
    for (const input of [{ a: 'x\u0000' }, { a: ['\ud800'] }, { 'k\u0000': 1 }]) {
      const r = await m.call('POST', '/v1/tasks', { capability: c, input });
      expect(r.status).toBe(422);
      expect(fieldsOf(r.body).join()).toMatch(/^input/);
    }
    expect(await tasksOf(c)).toEqual([]);
  });

  it('refuses JSON nested deeper than 64 levels without a stack overflow', async () => {
    const c = cap();
    const deep = `{"capability":"${c}","input":${'['.repeat(4500)}${']'.repeat(4500)}}`;
    const r = await m.call('POST', '/v1/tasks', deep);
    expect(r.status).toBe(422);
    expect(r.body.error.message + JSON.stringify(r.body.error.details)).toMatch(/deeper than 64/);
    expect(await tasksOf(c)).toEqual([]);
  });

  it('refuses a deadline outside 1970..9999', async () => {
    const c = cap();
    const r = await m.call('POST', '/v1/tasks', {
      capability: c,
      input: 1,
      deadline: '0000-01-01T00:00:00Z',
    });
    expect(r.status).toBe(422);
    expect(fieldsOf(r.body)).toContain('deadline');
    expect(await tasksOf(c)).toEqual([]);
  });

  it('refuses an agent name or description that cannot be stored', async () => {
    for (const body of [
      { name: 'bad\u0000name', capabilities: [{ name: 'x.y' }] },
      { name: `ok-${seq}`, description: 'lone \ud800', capabilities: [{ name: 'x.y' }] },
    ]) {
      const r = await m.call('POST', '/v1/agents', body);
      expect(r.status).toBe(422);
      expect(fieldsOf(r.body).some((f) => f === 'name' || f === 'description')).toBe(true);
    }
  });

  it('refuses a heartbeat count or a deferred bid round beyond a 32-bit integer', async () => {
    fleet = new Fleet(m.url);
    const c = cap();
    const agent = await fleet.raw(`big-${seq}`, c, (req, res) =>
      json(res, req.path === '/cfp' ? { type: 'deferred' } : {}),
    );
    const auth = { authorization: `Bearer ${agent.token}` };
    const hb = await m.call('POST', `/v1/agents/${agent.id}/heartbeat`, { running: 2 ** 31 }, auth);
    expect(hb.status).toBe(422);
    expect(fieldsOf(hb.body)).toContain('running');
    const t = await m.call('POST', '/v1/tasks', { capability: c, input: 1, bidWindowMs: 2000 });
    const bid = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/bids`,
      { type: 'propose', cost: 1, etaMs: 10, round: 2 ** 31 },
      auth,
    );
    expect(bid.status).toBe(422);
    expect(fieldsOf(bid.body)).toContain('round');
  });

  it("answers an output holding a NUL with 422, and the agent's corrected result completes the task", async () => {
    fleet = new Fleet(m.url);
    const c = cap();
    const agent = await fleet.raw(`out-${seq}`, c, (req, res) =>
      json(
        res,
        req.path === '/cfp'
          ? { type: 'propose', cost: 1, etaMs: 5000 }
          : req.path === '/award'
            ? { type: 'agree' }
            : {},
      ),
    );
    const t = await m.call('POST', '/v1/tasks', { capability: c, input: 1, bidWindowMs: 300 });
    const awardId = await eventually(
      async () => agent.requests.find((r) => r.path === '/award')?.body.awardId,
    );
    const auth = { authorization: `Bearer ${agent.token}` };
    const bad = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/result`,
      { awardId, type: 'inform-result', output: { s: '\u0000' } },
      auth,
    );
    expect(bad.status).toBe(422);
    expect(fieldsOf(bad.body).join()).toMatch(/^output/);
    expect((await m.call('GET', `/v1/tasks/${t.body.id}`)).body.state).toBe('awarded');
    const good = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/result`,
      { awardId, type: 'inform-result', output: { s: 'ok' } },
      auth,
    );
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ state: 'completed', output: { s: 'ok' } });
  });

  it('keeps a failure reason holding a NUL, cleaned', async () => {
    fleet = new Fleet(m.url);
    const c = cap();
    const agent = await fleet.raw(`fail-${seq}`, c, (req, res) =>
      json(
        res,
        req.path === '/cfp'
          ? { type: 'propose', cost: 1, etaMs: 5000 }
          : req.path === '/award'
            ? { type: 'agree' }
            : {},
      ),
    );
    const t = await m.call('POST', '/v1/tasks', {
      capability: c,
      input: 1,
      bidWindowMs: 300,
      maxAttempts: 1,
    });
    const awardId = await eventually(
      async () => agent.requests.find((r) => r.path === '/award')?.body.awardId,
    );
    const r = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/result`,
      { awardId, type: 'failure', reason: 'broke\u0000down' },
      { authorization: `Bearer ${agent.token}` },
    );
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('failed');
    expect(JSON.stringify(r.body)).not.toContain('\\u0000');
  });
});
