import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, json } from './support/agents.ts';
import { eventually, startManager, sweeps, type TestManager, waitEnd } from './support/harness.ts';

/** What one task may cost the agents and the manager, however many agents or submissions come. */
describe('bounded work per task and per manager', () => {
  let m: TestManager | undefined;
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await fleet?.stopAll();
    await m?.stop();
    m = undefined;
    fleet = undefined;
  });

  it('invites at most MAX_INVITEES agents to a round, however many are eligible', async () => {
    m = await startManager({ MAX_INVITEES: '3' });
    fleet = new Fleet(m.url);
    const raws = [];
    for (let i = 0; i < 8; i++)
      raws.push(
        await fleet.raw(`many-${i}`, 'many.same', (req, res) =>
          req.path === '/cfp' ? json(res, { type: 'refuse', reason: 'busy' }) : json(res, {}),
        ),
      );
    const { body: task } = await m.call('POST', '/v1/tasks', {
      capability: 'many.same',
      input: { big: 'x' },
    });
    const bids = await eventually(async () => {
      const r = await m!.call('GET', `/v1/tasks/${task.id}/bids`);
      return r.body.items.length && r.body.items.every((b: { type: string }) => b.type !== 'pending')
        ? r
        : null;
    });
    expect(bids.body.items.filter((b: { round: number }) => b.round === 1)).toHaveLength(3);
    expect(raws.reduce((n, r) => n + r.count('/cfp'), 0)).toBeLessThanOrEqual(3 + 3); // round 1, maybe round 2 begun
  });

  it('fails a task after MAX_ROUNDS rounds without an award instead of auctioning it for ever', async () => {
    m = await startManager({ MAX_ROUNDS: '2', REAUCTION_BASE_MS: '20', REAUCTION_CAP_MS: '40' });
    fleet = new Fleet(m.url);
    const refuser = await fleet.raw('always-refuses', 'never.bids', (req, res) =>
      req.path === '/cfp' ? json(res, { type: 'refuse', reason: 'never' }) : json(res, {}),
    );
    const { body: task } = await m.call('POST', '/v1/tasks', {
      capability: 'never.bids',
      input: {},
      bidWindowMs: 100,
    });
    const done = await waitEnd(m, task.id, 15000);
    expect(done.state).toBe('failed');
    expect(done.error.code).toBe('rounds_exhausted');
    // No third round, however many sweeps look at it.
    await sweeps(m, 3);
    expect(refuser.count('/cfp')).toBe(2);
    const events = (await m.call('GET', `/v1/tasks/${task.id}/events`)).body.items;
    expect(events.at(-1)).toMatchObject({ type: 'task.failed', data: { code: 'rounds_exhausted' } });
  });

  /** One bidding slot, room for two rounds to wait, and an agent whose rounds hold the slot `holdMs`. */
  async function oneSlotAndASlowBidder(holdMs: number): Promise<TestManager> {
    const started = await startManager({
      MAX_CONCURRENT_ROUNDS: '1',
      ADMISSION_TARGET_LAG_MS: '0',
      ROUND_QUEUE_MAX: '2',
    });
    m = started;
    fleet = new Fleet(started.url);
    // It answers its cfps only after holdMs: each of its rounds holds the slot that long.
    await fleet.raw('slow-bidder', 'slow.lane', (req, res) => {
      if (req.path !== '/cfp') return json(res, { accepted: true });
      setTimeout(() => json(res, { type: 'refuse', reason: 'slow' }), holdMs);
    });
    return started;
  }

  it('answers 429 with Retry-After when ROUND_QUEUE_MAX rounds wait for a slot, and stores nothing', async () => {
    const m = await oneSlotAndASlowBidder(600);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const r = await m.call('POST', '/v1/tasks', {
        capability: 'slow.lane',
        input: { i },
        bidWindowMs: 800,
      });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.body.error.code).toBe('busy');
        retryAfter = r.headers.get('retry-after');
      }
    }
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const listed = (await m.call('GET', '/v1/tasks?capability=slow.lane&limit=100')).body.items;
    expect(listed).toHaveLength(statuses.filter((s) => s === 202).length);
  });

  it('queues a task no agent can bid on at once, without a bidding slot, however full the round queue', async () => {
    const m = await oneSlotAndASlowBidder(3000);
    // The one slot is held by this round, and two more wait: the round queue is full.
    for (let i = 0; i < 3; i++) {
      const r = await m.call('POST', '/v1/tasks', {
        capability: 'slow.lane',
        input: { i },
        bidWindowMs: 4000,
      });
      expect(r.status).toBe(202);
    }
    expect((await m.call('POST', '/v1/tasks', { capability: 'slow.lane', input: {} })).status).toBe(429);
    // No one can bid on these: they need no slot and go straight to the fallback queue.
    const queued = [];
    for (let i = 0; i < 5; i++) {
      const r = await m.call('POST', '/v1/tasks', { capability: 'nobody.lane', input: { i } });
      expect(r.status).toBe(202);
      expect(r.body.state).toBe('queued');
      queued.push(r.body.id as string);
    }
    const events = (await m.call('GET', `/v1/tasks/${queued[0]}/events`)).body.items;
    expect(events.map((e: { type: string }) => e.type)).toEqual(['task.submitted', 'task.queued']);
    expect(events[1].data).toMatchObject({ state: 'queued', round: 0, reason: 'no_eligible_agents' });
  });
});
