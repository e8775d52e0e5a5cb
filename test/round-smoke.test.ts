import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder } from './support/agents.ts';
import { startManager, type TestManager } from './support/harness.ts';

describe('a round end to end', () => {
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

  it("announces, awards the best bid and completes with the winner's result", async () => {
    await fleet.start(fixedBidder('dear', 9, 100));
    const cheap = await fleet.start(fixedBidder('cheap', 1, 100));
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'math.double',
      input: { n: 21 },
      bidWindowMs: 2000,
    });
    const done = await m.call('GET', `/v1/tasks/${t.body.id}?waitMs=10000`);
    expect(done.body.state).toBe('completed');
    expect(done.body.output).toEqual({ doubled: 42, by: 'cheap' });
    expect(done.body.award.agentId).toBe(cheap.id);
    expect(done.body.attempts).toBe(1);
    const bids = await m.call('GET', `/v1/tasks/${t.body.id}/bids`);
    expect(bids.body.items.map((b: any) => b.outcome).sort()).toEqual(['accepted', 'rejected']);
    const events = await m.call('GET', `/v1/tasks/${t.body.id}/events`);
    expect(events.body.items.map((e: any) => e.type)).toEqual([
      'task.submitted',
      'round.opened',
      'task.awarded',
      'award.agreed',
      'task.completed',
    ]);
  });
});
