import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder, json } from './support/agents.ts';
import { eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { parsePrometheus, sampleValue } from './support/prometheus-text.ts';

describe('/metrics after real rounds', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    m = await startManager({ BREAKER_THRESHOLD: '2', BREAKER_HALF_OPEN_MS: '600000' });
    fleet = new Fleet(m.url);
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  const scrape = async () => {
    const res = await fetch(`${m.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return parsePrometheus(await res.text());
  };

  it('counts rounds, bids, awards, agent calls, circuits, the queue, claims, expiries and HTTP', async () => {
    const good = await fleet.start({ ...fixedBidder('metrics-good', 5, 50), capabilities: ['metrics.work'] });
    // Cheapest, but refuses the award: the award moves on to the next-best bid.
    await fleet.raw('metrics-fickle', 'metrics.work', (req, res) =>
      req.path === '/cfp'
        ? json(res, { type: 'propose', cost: 1, etaMs: 50 })
        : req.path === '/award'
          ? json(res, { type: 'refuse', reason: 'changed my mind' })
          : json(res, {}),
    );
    const broken = await fleet.raw('metrics-broken', 'metrics.work', (_req, res) =>
      json(res, { error: 'x' }, 500),
    );
    for (let i = 0; i < 3; i++) {
      const t = await m.call('POST', '/v1/tasks', {
        capability: 'metrics.work',
        input: { n: i },
        bidWindowMs: 300,
      });
      expect((await waitEnd(m, t.body.id, 10000)).state).toBe('completed');
    }
    // A round nobody bids in: no eligible agent at all queues the task.
    await m.call('POST', '/v1/tasks', { capability: 'metrics.unserved', input: {} });
    // A claim whose lease runs out.
    const puller = await m.call('POST', '/v1/agents', {
      name: 'metrics-puller',
      capabilities: [{ name: 'metrics.pull' }],
    });
    await m.call('POST', '/v1/tasks', { capability: 'metrics.pull', input: {} });
    const claim = await m.call(
      'POST',
      '/v1/queue/claim',
      { capabilities: ['metrics.pull'], leaseMs: 1000 },
      { authorization: `Bearer ${puller.body.token}` },
    );
    expect(claim.body.tasks).toHaveLength(1);

    const s = await eventually(async () => {
      const samples = await scrape();
      return sampleValue(samples, 'cnp_award_expiries_total', { kind: 'claim' }) >= 1 ? samples : null;
    });
    expect(sampleValue(s, 'cnp_rounds_total', { outcome: 'awarded' })).toBeGreaterThanOrEqual(3);
    expect(sampleValue(s, 'cnp_round_duration_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(sampleValue(s, 'cnp_bids_total', { type: 'propose' })).toBeGreaterThanOrEqual(6);
    expect(
      sampleValue(s, 'cnp_bids_total', { type: 'no_reply' }) +
        sampleValue(s, 'cnp_bids_total', { type: 'invalid' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sampleValue(s, 'cnp_awards_moved_on_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(s, 'cnp_submit_to_award_seconds_count')).toBeGreaterThanOrEqual(4); // 3 rounds and the claim
    expect(sampleValue(s, 'cnp_submit_to_completed_seconds_count')).toBe(3);
    expect(
      sampleValue(s, 'cnp_agent_call_duration_seconds_count', { message: 'cfp', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(6);
    expect(
      sampleValue(s, 'cnp_agent_call_duration_seconds_count', { message: 'cfp', outcome: 'http_error' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sampleValue(s, 'cnp_agent_call_duration_seconds_count', { message: 'award' }),
    ).toBeGreaterThanOrEqual(4);
    expect(sampleValue(s, 'cnp_agent_circuit_state', { agent: broken.id })).toBe(2);
    expect(sampleValue(s, 'cnp_agent_circuit_state', { agent: good.id })).toBe(0);
    expect(sampleValue(s, 'cnp_circuit_transitions_total', { state: 'open' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(s, 'cnp_queue_depth', { capability: 'metrics.unserved' })).toBe(1);
    expect(sampleValue(s, 'cnp_tasks', { state: 'queued' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(s, 'cnp_queue_claims_total')).toBe(1);
    // HTTP by route pattern: the long-polls are one series, whatever the task ids.
    const polls = s.filter(
      (x) => x.name === 'cnp_http_request_duration_seconds_count' && x.labels.route === '/v1/tasks/:id',
    );
    expect(polls.map((p) => p.labels)).toContainEqual({
      method: 'GET',
      route: '/v1/tasks/:id',
      status: '200',
    });
    expect(s.some((x) => /[0-9a-f]{8}-[0-9a-f]{4}/.test(x.labels.route ?? ''))).toBe(false);
    expect(
      sampleValue(s, 'cnp_http_request_duration_seconds_count', { route: '/v1/tasks', status: '202' }),
    ).toBeGreaterThanOrEqual(5);
  });
});

describe('/metrics: the bidding slots', () => {
  let m: TestManager | undefined;
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stopAll();
    await m?.stop();
  });

  it('shows the slot limit, the round bidding in it and the rounds waiting for it', async () => {
    m = await startManager({ MAX_CONCURRENT_ROUNDS: '1', ADMISSION_TARGET_LAG_MS: '0' });
    fleet = new Fleet(m.url);
    // Answers each cfp only after a while: its round holds the one slot meanwhile.
    await fleet.raw('metrics-slow', 'metrics.slow', (req, res) => {
      if (req.path !== '/cfp') return json(res, { accepted: true });
      setTimeout(() => json(res, { type: 'refuse', reason: 'slow' }), 3000);
    });
    const slots = async () => {
      const s = parsePrometheus(await (await fetch(`${m!.url}/metrics`)).text());
      return ['limit', 'running', 'waiting'].map((kind) => sampleValue(s, 'cnp_bidding_slots', { kind }));
    };
    expect(await slots()).toEqual([1, 0, 0]);
    for (let i = 0; i < 3; i++)
      expect(
        (await m.call('POST', '/v1/tasks', { capability: 'metrics.slow', input: { i }, bidWindowMs: 4000 }))
          .status,
      ).toBe(202);
    expect(await slots()).toEqual([1, 1, 2]);
  });
});

describe('/metrics: the clock', () => {
  it("shows how far the database's clock is from this manager's (on one machine, near zero)", async () => {
    const m = await startManager();
    try {
      const skew = await eventually(async () => {
        const s = parsePrometheus(await (await fetch(`${m.url}/metrics`)).text());
        return s.find((x) => x.name === 'cnp_clock_skew_seconds' && x.value !== 0);
      });
      // Set by a sweep (the gauge starts at 0); one host, one clock: within a round trip.
      expect(Math.abs(skew.value)).toBeLessThan(0.5);
    } finally {
      await m.stop();
    }
  });
});
