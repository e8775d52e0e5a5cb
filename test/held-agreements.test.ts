import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, json, type RawAgent } from './support/agents.ts';
import { eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { parsePrometheus, sampleValue } from './support/prometheus-text.ts';

/**
 * An agreement is held back for AGREEMENT_HOLD_MS: a result that follows at once is recorded
 * with it by one statement; otherwise it is written on its own, as before.
 */
describe('agreements held for the result', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    // A long hold: the tests below must not depend on how fast a loaded machine is.
    m = await startManager({ AGREEMENT_HOLD_MS: '1500' });
    fleet = new Fleet(m.url);
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  /** The task's events in order, with the transaction that wrote each. */
  const trail = (taskId: string) =>
    m.manager.database.query<{ type: string; xid: string; data: Record<string, unknown> }>(
      'select type, xmin::text as xid, data from events where task_id = $1 order by id',
      [taskId],
    );

  /** The events after the task's award: a loaded machine may need a second round to award it. */
  const afterAward = <T extends { type: string }>(events: T[]) =>
    events.slice(events.findLastIndex((e) => e.type === 'task.awarded') + 1);

  /** The status of the task's award, as stored. */
  const awardStatus = async (taskId: string) =>
    (
      await m.manager.database.query<{ status: string }>(
        'select status::text from awards where task_id = $1',
        [taskId],
      )
    )[0]?.status;

  /** An agent of `capability` that agrees to every award and then does `after` with it. */
  const agreeing = async (
    capability: string,
    after: (award: { taskId: string; awardId: string }, agent: RawAgent) => void,
  ) => {
    const agent: RawAgent = await fleet.raw(`${capability}-agent`, capability, (req, res) => {
      if (req.path === '/cfp') return json(res, { type: 'propose', cost: 1, etaMs: 50 });
      if (req.path !== '/award') return json(res, {});
      json(res, { type: 'agree' });
      after({ taskId: req.body.conversationId, awardId: req.body.awardId }, agent);
    });
    return agent;
  };
  /** Agreements recorded with their holder's report: each such hold has ended, and writes nothing more. */
  const recordedWithReport = async () =>
    sampleValue(parsePrometheus(await (await fetch(`${m.url}/metrics`)).text()), 'cnp_agreements_total', {
      recorded: 'with_report',
    });
  const report = (agent: RawAgent, taskId: string, body: unknown) =>
    m.call('POST', `/v1/tasks/${taskId}/result`, body, { authorization: `Bearer ${agent.token}` });

  it('records an agreement and the result that follows it in one statement', async () => {
    await agreeing('held.at-once', ({ taskId, awardId }, agent) => {
      void report(agent, taskId, { awardId, type: 'inform-result', output: 'done' });
    });
    const t = await m.call('POST', '/v1/tasks', { capability: 'held.at-once', input: {}, bidWindowMs: 3000 });
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done).toMatchObject({ state: 'completed', output: 'done', attempts: 1 });
    expect(await awardStatus(t.body.id)).toBe('completed');
    const events = await trail(t.body.id);
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(['task.submitted', 'round.opened']);
    expect(afterAward(events).map((e) => e.type)).toEqual(['award.agreed', 'task.completed']);
    const [agreed, completed] = afterAward(events);
    expect(agreed!.xid).toBe(completed!.xid);
    expect(agreed!.data).toMatchObject({ awardId: done.award.id, attempts: 1 });
    expect(Date.parse(String(agreed!.data.dueAt))).toBeGreaterThan(Date.parse(done.award.awardedAt));
    // The hold ended with the report: nothing is left to write.
    await eventually(async () => (await recordedWithReport()) === 1, 15_000, 'the hold taken by the report');
    expect(m.manager.agreements.size).toBe(0);
    expect((await trail(t.body.id)).length).toBe(events.length);
  });

  it('writes the agreement on its own when no result comes within the hold', async () => {
    let reportNow: (() => void) | undefined;
    await agreeing('held.slow', ({ taskId, awardId }, agent) => {
      reportNow = () => void report(agent, taskId, { awardId, type: 'inform-result', output: 'late' });
    });
    const t = await m.call('POST', '/v1/tasks', { capability: 'held.slow', input: {}, bidWindowMs: 3000 });
    await eventually(
      async () => (await awardStatus(t.body.id)) === 'agreed',
      15_000,
      'the agreement written after the hold',
    );
    expect((await m.call('GET', `/v1/tasks/${t.body.id}`)).body).toMatchObject({
      state: 'awarded',
      attempts: 1,
    });
    reportNow?.();
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done).toMatchObject({ state: 'completed', output: 'late', attempts: 1 });
    const events = await trail(t.body.id);
    expect(afterAward(events).map((e) => e.type)).toEqual(['award.agreed', 'task.completed']);
    const [agreed, completed] = afterAward(events);
    expect(agreed!.xid).not.toBe(completed!.xid);
  });

  it('writes a held agreement before the failure its holder reports, and sends no cancel', async () => {
    const agent = await agreeing('held.fails', ({ taskId, awardId }, a) => {
      void report(a, taskId, { awardId, type: 'failure', reason: 'out of paper' });
    });
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'held.fails',
      input: {},
      bidWindowMs: 3000,
      maxAttempts: 1,
    });
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done).toMatchObject({ state: 'failed', attempts: 1 });
    const types = (await trail(t.body.id)).map((e) => e.type);
    expect(types.indexOf('award.agreed')).toBeGreaterThan(types.indexOf('task.awarded'));
    expect(types.indexOf('award.agreed')).toBeLessThan(types.indexOf('task.failed'));
    // The hold ended with the report (no agreement written later, so no cancel follows).
    await eventually(async () => (await recordedWithReport()) === 2, 15_000, 'the hold taken by the report');
    expect(m.manager.agreements.size).toBe(0);
    expect(agent.requests.filter((r) => r.path === '/cancel')).toEqual([]);
  });

  it("keeps another agent's report from taking a held agreement", async () => {
    const intruder = await fleet.raw('held-intruder', 'held.other-cap', (_req, res) => json(res, {}));
    let holderReport: (() => Promise<unknown>) | undefined;
    let intruded: Promise<{ status: number }> | undefined;
    await agreeing('held.intruded', ({ taskId, awardId }, agent) => {
      intruded = report(intruder, taskId, { awardId, type: 'inform-result', output: 'not mine' });
      holderReport = () => report(agent, taskId, { awardId, type: 'inform-result', output: 'mine' });
    });
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'held.intruded',
      input: {},
      bidWindowMs: 3000,
    });
    await eventually(() => intruded, 15_000, 'the award');
    expect((await intruded!).status).toBe(403);
    // The agreement is still written, by the hold, and the holder's result completes the task.
    await eventually(async () => (await awardStatus(t.body.id)) === 'agreed', 15_000, 'the agreement');
    await holderReport!();
    const done = await waitEnd(m, t.body.id, 15000);
    expect(done).toMatchObject({ state: 'completed', output: 'mine', attempts: 1 });
  });

  it('counts how agreements were recorded', async () => {
    const s = parsePrometheus(await (await fetch(`${m.url}/metrics`)).text());
    // The tests above: a result and a failure within the hold; a slow result and an intruder's.
    expect(sampleValue(s, 'cnp_agreements_total', { recorded: 'with_report' })).toBe(2);
    expect(sampleValue(s, 'cnp_agreements_total', { recorded: 'alone' })).toBe(2);
  });
});
