import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_AGENTS, sampleAgentSpec } from '../agents/catalog.ts';
import { Fleet, json, type RawRequest } from './support/agents.ts';
import { client, eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { freePort, startManagerProcess } from './support/processes.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

/** A bidder that answers every cfp with `price(cfp)` and does the work at once. */
const bidder =
  (price: (cfp: RawRequest['body']) => number | null, delayMs = () => 0) =>
  (req: RawRequest, res: ServerResponse) => {
    if (req.path === '/cfp') {
      const cost = price(req.body);
      const answer = cost === null ? { type: 'refuse', reason: 'no' } : { type: 'propose', cost, etaMs: 100 };
      return void setTimeout(() => json(res, answer), delayMs());
    }
    if (req.path === '/award') return json(res, { type: 'inform-result', output: { by: 'bidder' } });
    json(res, {});
  };

describe('iterated rounds', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m.stop());
  afterEach(() => fleet?.stopAll());

  const cfps = (a: { requests: RawRequest[] }) =>
    a.requests.filter((r) => r.path === '/cfp').map((r) => r.body);

  it('goes back to the shortlist with the best offer; a revised bid wins; the rest are not shortlisted', async () => {
    fleet = new Fleet(m.url);
    const steady = await fleet.raw(
      'steady',
      'it.haggle',
      bidder(() => 5),
    );
    // Dearer at first; undercuts the leading offer when it is shown one.
    const haggler = await fleet.raw(
      'haggler',
      'it.haggle',
      bidder((cfp) => (cfp.best ? cfp.best.cost - 1 : 6)),
    );
    const dear = await fleet.raw(
      'dear',
      'it.haggle',
      bidder(() => 9),
    );
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'it.haggle',
      input: {},
      iterations: 3,
      shortlist: 2,
      weights: { cost: 1, time: 0, reputation: 0 },
    });
    expect(t.body).toMatchObject({ iterations: 3, shortlist: 2 });
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done.state).toBe('completed');
    expect(done.award).toMatchObject({ agentId: haggler.id, cost: 3 }); // 6, then 5 - 1, then 4 - 1
    // Iteration 2 went to the two best only, with the leading offer and no name.
    const second = cfps(steady).find((c) => c.iteration === 2);
    expect(second).toMatchObject({ iteration: 2, best: { cost: 5, etaMs: 100 } });
    expect(JSON.stringify(second)).not.toContain(steady.id);
    expect(cfps(dear).map((c) => c.iteration ?? 1)).toEqual([1]);
    await eventually(() => dear.count('/reject') > 0);
    expect(dear.requests.find((r) => r.path === '/reject')!.body.reason).toBe('not_shortlisted');
    const bids = (await m.call('GET', `/v1/tasks/${t.body.id}/bids`)).body.items;
    const of = (id: string) => bids.find((b: { agentId: string }) => b.agentId === id);
    expect(of(haggler.id)).toMatchObject({ cost: 3, iteration: 3, outcome: 'accepted' });
    expect(of(dear.id)).toMatchObject({ cost: 9, iteration: 1, outcome: 'not_shortlisted' });
    const events = (await m.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items;
    const iterated = events.filter((e: { type: string }) => e.type === 'round.iterated');
    expect(iterated.map((e: { data: { iteration: number } }) => e.data.iteration)).toEqual([2, 3]);
    expect(iterated[0].data.best).toEqual({ cost: 5, etaMs: 100 });
  });

  it('stops iterating as soon as an iteration improves no proposal; a refusal keeps the standing bid', async () => {
    fleet = new Fleet(m.url);
    const same = await fleet.raw(
      'same-price',
      'it.stop',
      bidder(() => 4),
    );
    await fleet.raw(
      'refuses-later',
      'it.stop',
      bidder((cfp) => (cfp.iteration ? null : 3)),
    );
    const t = await m.call('POST', '/v1/tasks', { capability: 'it.stop', input: {}, iterations: 5 });
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done.state).toBe('completed');
    // The refusal in iteration 2 left its first proposal (3) standing: it still wins.
    expect(done.award.cost).toBe(3);
    const events = (await m.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items;
    expect(events.filter((e: { type: string }) => e.type === 'round.iterated')).toHaveLength(1);
    expect(cfps(same).map((c) => c.iteration ?? 1)).toEqual([1, 2]);
  });

  it('runs the sample haggler: it undercuts the leading offer in the next iteration', async () => {
    fleet = new Fleet(m.url);
    await fleet.start(sampleAgentSpec('sample-haggler', SAMPLE_AGENTS.haggler!));
    await fleet.raw(
      'rival',
      'math.evaluate',
      bidder(() => 4),
    );
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'math.evaluate',
      input: { expression: '2 + 2' },
      iterations: 2,
      weights: { cost: 1, time: 0, reputation: 0 },
    });
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done).toMatchObject({ state: 'completed', output: { result: 4 }, award: { cost: 3 } });
  });
});

describe('a manager killed mid-iteration', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('has its round taken over by the next manager, and the task completes once', async () => {
    const db = await createTestDatabase();
    const env: Record<string, string> = {
      ...db.env,
      PORT: String(await freePort()),
      ROUND_LEASE_MS: '1000',
    };
    if (!onPostgres()) {
      const dir = mkdtempSync(join(tmpdir(), 'cnp-iter-'));
      dirs.push(dir);
      env.PGLITE_DATA_DIR = dir;
    }
    let manager = await startManagerProcess(env);
    const fleet = new Fleet(manager.url);
    try {
      let second!: () => void;
      const inSecond = new Promise<void>((r) => {
        second = r;
      });
      // Answers the first window at once and the second only after a while: the kill lands in it.
      await fleet.raw(
        'slow-second',
        'it.crash',
        bidder((cfp) => {
          if (cfp.iteration === 2) second();
          return 5;
        }),
      );
      // Silent in iteration 2: its window stays open for the kill.
      const quiet = bidder(() => 7);
      await fleet.raw('other', 'it.crash', (req, res) => {
        if (req.path === '/cfp' && req.body.iteration === 2) return;
        quiet(req, res);
      });
      const call = client(manager.url);
      const t = await call('POST', '/v1/tasks', {
        capability: 'it.crash',
        input: {},
        iterations: 3,
        bidWindowMs: 1500,
      });
      await inSecond;
      manager.proc.child.kill('SIGKILL');
      await manager.proc.exited;
      manager = await startManagerProcess(env);
      const after = client(manager.url);
      const done = await eventually(async () => {
        const v = (await after('GET', `/v1/tasks/${t.body.id}?waitMs=2000`)).body;
        return v.state === 'completed' ? v : null;
      }, 30_000);
      expect(done.round).toBeGreaterThanOrEqual(2); // taken over: a round of its own
      const events = (await after('GET', `/v1/tasks/${t.body.id}/events`)).body.items;
      expect(events.filter((e: { type: string }) => e.type === 'task.completed')).toHaveLength(1);
      expect(events.some((e: { type: string }) => e.type === 'round.iterated')).toBe(true);
    } finally {
      await fleet.stopAll();
      manager.proc.child.kill('SIGKILL');
      await manager.proc.exited;
      await db.drop();
    }
  }, 60_000);
});
