import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, json } from './support/agents.ts';
import { eventually, startManager, type TestManager } from './support/harness.ts';

/** Proposals that say how long they stand (validUntil): an expired one is never awarded. */
describe('bid validity', () => {
  let m: TestManager | undefined;
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await fleet?.stopAll();
    await m?.stop();
    m = undefined;
  });

  const bidder = (
    f: Fleet,
    name: string,
    cap: string,
    cost: number,
    validForMs: number | null,
    award: 'agree' | 'refuse',
    awardDelayMs = 0,
  ) =>
    f.raw(name, cap, (req, res) => {
      if (req.path === '/cfp')
        return json(res, {
          type: 'propose',
          cost,
          etaMs: 100,
          ...(validForMs === null ? {} : { validUntil: new Date(Date.now() + validForMs).toISOString() }),
        });
      if (req.path === '/award')
        return void setTimeout(
          () => json(res, award === 'agree' ? { type: 'agree' } : { type: 'refuse', reason: 'no' }),
          awardDelayMs,
        );
      json(res, {});
    });

  it('passes over a proposal expired when the round closes: the next-best valid bid wins', async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
    const cheap = await bidder(fleet, 'cheap-but-brief', 'valid.close', 1, 50, 'agree');
    const dear = await bidder(fleet, 'dear-but-standing', 'valid.close', 5, null, 'agree');
    // One invitee that never answers keeps the round open for its whole window.
    await fleet.raw('silent', 'valid.close', () => {});
    const t = await m.call('POST', '/v1/tasks', { capability: 'valid.close', input: {}, bidWindowMs: 1500 });
    const task = await eventually(async () => {
      const v = (await m!.call('GET', `/v1/tasks/${t.body.id}`)).body;
      return v.award ? v : null;
    });
    expect(task.award.agentId).toBe(dear.id);
    const bids = (await m.call('GET', `/v1/tasks/${t.body.id}/bids`)).body.items;
    const gone = bids.find((b: { agentId: string }) => b.agentId === cheap.id);
    expect(gone).toMatchObject({ type: 'propose', cost: 1, outcome: 'expired' });
    expect(gone.validUntil).toEqual(expect.any(String));
    await eventually(() => cheap.count('/reject') > 0);
    expect(cheap.requests.find((r) => r.path === '/reject')!.body.reason).toBe('expired');
    expect(cheap.count('/award')).toBe(0);
  });

  it('passes over a next-best bid that expired while the winner hesitated', async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
    // The best bid stands, but its agent refuses the award only after a while...
    await bidder(fleet, 'hesitant', 'valid.move', 1, null, 'refuse', 700);
    // ...by when the second-best has lapsed; the third is the one awarded.
    const brief = await bidder(fleet, 'second-brief', 'valid.move', 2, 450, 'agree');
    const third = await bidder(fleet, 'third-standing', 'valid.move', 3, null, 'agree');
    const t = await m.call('POST', '/v1/tasks', { capability: 'valid.move', input: {}, bidWindowMs: 200 });
    const task = await eventually(async () => {
      const v = (await m!.call('GET', `/v1/tasks/${t.body.id}`)).body;
      return v.award?.agentId === third.id ? v : null;
    });
    expect(task.state).toBe('awarded');
    const bids = (await m.call('GET', `/v1/tasks/${t.body.id}/bids`)).body.items;
    expect(bids.find((b: { agentId: string }) => b.agentId === brief.id).outcome).toBe('expired');
    expect(brief.count('/award')).toBe(0);
  });
});
