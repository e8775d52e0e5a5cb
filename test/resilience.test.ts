import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import { and, eq, like } from 'drizzle-orm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { bids } from '../src/db/schema.ts';
import { Fleet, fixedBidder, json } from './support/agents.ts';
import { eventually, sleep, startManager, type TestManager, waitEnd } from './support/harness.ts';

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stopAll();
  fleet = undefined;
});

const run = async (m: TestManager, capability: string, extra: Record<string, unknown> = {}) => {
  const t = await m.call('POST', '/v1/tasks', { capability, input: { n: 1 }, bidWindowMs: 1000, ...extra });
  return await waitEnd(m, t.body.id, 20000);
};

describe('circuit breaker per agent', () => {
  let m: TestManager;
  afterAll(() => m.stop());

  it('opens after 5 errors, skips the agent, then closes after one successful half-open probe', async () => {
    m = await startManager({ BREAKER_THRESHOLD: '5', BREAKER_HALF_OPEN_MS: '1500' });
    fleet = new Fleet(m.url);
    let healthy = false;
    const flaky = await fleet.raw('flaky', 'cb.cap', (req, res) =>
      healthy && req.path === '/cfp'
        ? json(res, { type: 'refuse', reason: 'busy' })
        : json(res, { error: 'down' }, 500),
    );
    await fleet.start({ ...fixedBidder('steady', 5, 100), capabilities: ['cb.cap'] });
    for (let i = 0; i < 5; i++) expect((await run(m, 'cb.cap')).state).toBe('completed');
    expect(flaky.count('/cfp')).toBe(5);
    expect((await m.call('GET', `/v1/agents/${flaky.id}`)).body.circuit).toBe('open');
    // Open: the next rounds do not call it at all.
    for (let i = 0; i < 3; i++) expect((await run(m, 'cb.cap')).state).toBe('completed');
    expect(flaky.count('/cfp')).toBe(5);
    // After halfOpenAfter, one probe: it succeeds and the circuit closes. Rounds until then call
    // only the steady agent; the first after it calls the flaky one once.
    healthy = true;
    await eventually(
      async () => (await run(m, 'cb.cap')).state === 'completed' && flaky.count('/cfp') > 5,
      15_000,
      'the half-open probe',
    );
    expect(flaky.count('/cfp')).toBe(6);
    await eventually(async () => (await m.call('GET', `/v1/agents/${flaky.id}`)).body.circuit === 'closed');
    const types = (await m.call('GET', `/v1/events?agent=${flaky.id}`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(types).toEqual(
      expect.arrayContaining(['agent.circuit_opened', 'agent.circuit_half_open', 'agent.circuit_closed']),
    );
    // The event says why: the failure that tripped it.
    const opened = (await m.call('GET', `/v1/events?agent=${flaky.id}`)).body.items.find(
      (e: { type: string }) => e.type === 'agent.circuit_opened',
    );
    expect(opened.data.lastFailure).toMatch(/HTTP 500/);
    const metrics = await fetch(`${m.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/cnp_circuit_transitions_total\{state="open"\} 1/);
  });
});

describe('cfp timeouts and the circuit', () => {
  let m: TestManager;
  afterEach(() => m?.stop());

  it('does not hold against an agent the cfps that this manager left no time to answer', async () => {
    // One cfp at a time to the agent, 150 ms each: of 20 rounds at once, the later cfps wait
    // for the slot until their window is spent. That is the manager's congestion, not a fault.
    m = await startManager({
      BULKHEAD_LIMIT: '1',
      BREAKER_THRESHOLD: '3',
      CFP_FAIR_WINDOW_MS: '400',
      REAUCTION_BASE_MS: '100',
      REAUCTION_CAP_MS: '300',
    });
    fleet = new Fleet(m.url);
    const slow = await fleet.start({
      ...fixedBidder('slow-bidder', 1, 100),
      capabilities: ['fair.cap'],
      maxConcurrency: 20,
      bid: async () => {
        await sleep(150);
        return { type: 'propose', cost: 1, etaMs: 100 };
      },
    });
    const ends = await Promise.all(Array.from({ length: 20 }, () => run(m, 'fair.cap')));
    expect(ends.map((t) => t.state)).toEqual(Array(20).fill('completed'));
    // The congestion happened: some cfps were never sent, for lack of time.
    const db = m.manager.database.db;
    const unsent = await db
      .select()
      .from(bids)
      .where(and(eq(bids.agentId, slow.id), like(bids.reason, 'not sent%')));
    expect(unsent.length).toBeGreaterThan(0);
    const types = (await m.call('GET', `/v1/events?agent=${slow.id}`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(types).not.toContain('agent.circuit_opened');
    expect((await m.call('GET', `/v1/agents/${slow.id}`)).body.circuit).toBe('closed');
  });

  it('still opens the circuit of an agent that lets fair windows pass unanswered', async () => {
    m = await startManager({ BREAKER_THRESHOLD: '3', CFP_FAIR_WINDOW_MS: '200' });
    fleet = new Fleet(m.url);
    const mute = await fleet.raw('mute', 'mute.cap', () => {}); // never answers
    await fleet.start({ ...fixedBidder('steady-2', 5, 100), capabilities: ['mute.cap'] });
    for (let i = 0; i < 3; i++) {
      expect((await run(m, 'mute.cap', { bidWindowMs: 500 })).state).toBe('completed');
    }
    expect(mute.count('/cfp')).toBe(3);
    expect((await m.call('GET', `/v1/agents/${mute.id}`)).body.circuit).toBe('open');
  });
});

describe('award retries', () => {
  let m: TestManager;
  afterAll(() => m.stop());

  it('retries an award answered 503 twice, then agreed; never retries a 400', async () => {
    m = await startManager({ AWARD_RETRIES: '2', RETRY_BASE_MS: '10', RETRY_MAX_MS: '50' });
    fleet = new Fleet(m.url);
    let awardCalls = 0;
    const shaky = await fleet.raw('shaky', 'retry.cap', (req, res) => {
      if (req.path === '/cfp') return json(res, { type: 'propose', cost: 1, etaMs: 100 });
      if (req.path !== '/award') return json(res, {});
      awardCalls++;
      if (awardCalls <= 2) return json(res, { error: 'busy' }, 503);
      return json(res, { type: 'inform-result', output: { ok: true, awardId: req.body.awardId } });
    });
    const done = await run(m, 'retry.cap');
    expect(done.state).toBe('completed');
    expect(done.award.agentId).toBe(shaky.id);
    expect(shaky.count('/award')).toBe(3);
    // The three tries carried one awardId: idempotent for the agent.
    expect(new Set(shaky.requests.filter((r) => r.path === '/award').map((r) => r.body.awardId)).size).toBe(
      1,
    );

    const picky = await fleet.raw('picky', 'retry2.cap', (req, res) =>
      req.path === '/cfp'
        ? json(res, { type: 'propose', cost: 1, etaMs: 100 })
        : json(res, { error: 'bad' }, 400),
    );
    const backup = await fleet.start({ ...fixedBidder('backup', 9, 100), capabilities: ['retry2.cap'] });
    const second = await run(m, 'retry2.cap');
    expect(second.award.agentId).toBe(backup.id);
    expect(picky.count('/award')).toBe(1);
  });
});

describe('bulkhead per agent', () => {
  let m: TestManager;
  afterAll(() => m.stop());

  it('keeps an agent that accepts connections and never answers from holding more than its share', async () => {
    m = await startManager({
      BULKHEAD_LIMIT: '2',
      BULKHEAD_QUEUE: '2',
      BREAKER_THRESHOLD: '1000',
    });
    fleet = new Fleet(m.url);
    // A TCP server that accepts, reads the request and never says a word.
    const open = new Set<Socket>();
    const inFlight = new Set<Socket>();
    let peakSockets = 0;
    let peakRequests = 0;
    let requests = 0;
    const tarpit = createServer((s) => {
      open.add(s);
      peakSockets = Math.max(peakSockets, open.size);
      s.on('data', () => {
        requests++;
        inFlight.add(s);
        peakRequests = Math.max(peakRequests, inFlight.size);
      });
      s.on('close', () => {
        open.delete(s);
        inFlight.delete(s);
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(tarpit.address() as AddressInfo).port}`;
    const tarpitId = (
      await m.call('POST', '/v1/agents', {
        name: 'tarpit',
        endpoint: url,
        capabilities: [{ name: 'bulk.cap' }],
        maxConcurrency: 100,
      })
    ).body.agent.id;
    await fleet.start({ ...fixedBidder('worker', 1, 100), capabilities: ['bulk.cap'], maxConcurrency: 50 });
    const started = Date.now();
    const ids = await Promise.all(
      Array.from(
        { length: 30 },
        async () =>
          (await m.call('POST', '/v1/tasks', { capability: 'bulk.cap', input: { n: 1 }, bidWindowMs: 1500 }))
            .body.id,
      ),
    );
    const ends = await Promise.all(ids.map(async (id) => (await waitEnd(m, id, 30000)).state));
    expect(ends).toEqual(Array(30).fill('completed'));
    // Each round waited at most its window for the tarpit; the tarpit never held more requests
    // than the bulkhead allows, nor more sockets than the per-agent pool.
    expect(Date.now() - started).toBeLessThan(15_000);
    // The tarpit sees a freed slot's next request possibly before the aborted one's close
    // (one event loop for both here), so up to twice the limit can look in flight to it.
    expect(peakRequests).toBeLessThanOrEqual(2 * 2);
    // The strong check: 30 rounds invited it, yet only the calls the bulkhead let through
    // reached it; those it refused (full) never touched the network. Without a bulkhead every
    // invitation would arrive. (How many get through depends on how the rounds' windows overlap,
    // which the machine's load decides: each invitation's record says which it was.)
    const invitations = (
      await Promise.all(ids.map(async (id) => (await m!.call('GET', `/v1/tasks/${id}/bids`)).body.items))
    )
      .flat()
      .filter((b: { agentId: string }) => b.agentId === tarpitId);
    const refusedByBulkhead = invitations.filter((b: { reason: string | null }) =>
      /Bulkhead capacity exceeded/.test(b.reason ?? ''),
    ).length;
    expect(invitations.length).toBeGreaterThanOrEqual(30);
    expect(refusedByBulkhead).toBeGreaterThan(0);
    expect(requests).toBeLessThanOrEqual(invitations.length - refusedByBulkhead);
    // One socket per call the bulkhead lets through; a timed-out call's socket may close after
    // the next one opens, as with requests above.
    expect(peakSockets).toBeLessThanOrEqual(2 * 2);
    for (const s of open) s.destroy();
    await new Promise((r) => tarpit.close(r));
  });
});
