import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, json } from './support/agents.ts';
import { sleep, startManager, type TestManager, waitEnd } from './support/harness.ts';

describe('when an award is due', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    m = await startManager({ DUE_GRACE_FACTOR: '1', DUE_GRACE_MS: '500', AWARD_TIMEOUT_MS: '3000' });
    fleet = new Fleet(m.url);
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  it("runs the agent's estimate from its agreement, not from the offer", async () => {
    // Promises 200 ms; takes 1.2 s to agree (busy, or the award queued behind cfps), then 1.2 s to report.
    // Counted from the offer the award would be due after 0.7 s; counted from agreement, 1.9 s.
    let reported: Promise<unknown> | undefined;
    const slow = await fleet.raw('slow-to-agree', 'due.work', async (req, res) => {
      if (req.path === '/cfp') return json(res, { type: 'propose', cost: 1, etaMs: 200 });
      if (req.path !== '/award') return json(res, {});
      await sleep(1200);
      json(res, { type: 'agree' });
      reported = sleep(600).then(() =>
        m.call(
          'POST',
          `/v1/tasks/${req.body.conversationId}/result`,
          { awardId: req.body.awardId, type: 'inform-result', output: 'on time' },
          {
            authorization: `Bearer ${slow.token}`,
          },
        ),
      );
    });
    const t = await m.call('POST', '/v1/tasks', { capability: 'due.work', input: {}, bidWindowMs: 500 });
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done).toMatchObject({ state: 'completed', output: 'on time', attempts: 1 });
    expect(((await reported) as { status: number }).status).toBe(200);
    const agreed = (await m.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items.find(
      (e: { type: string }) => e.type === 'award.agreed',
    );
    // From the offer: awardedAt + 0.7 s; from the agreement (1.2 s later): awardedAt + 1.9 s.
    // (The event itself may be written a moment after the agreement: AGREEMENT_HOLD_MS.)
    expect(Date.parse(agreed.data.dueAt) - Date.parse(done.award.awardedAt)).toBeGreaterThanOrEqual(1800);
  });
});
