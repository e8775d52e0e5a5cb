import { describe, expect, it } from 'vitest';
import type { Cfp } from '../src/protocol/index.ts';
import { SAMPLE_AGENTS, sampleAgentSpec } from './catalog.ts';

const cfp = (capability: string, input: unknown, budget: number | null = null) =>
  ({
    type: 'cfp',
    conversationId: '0195a8d0-0000-7000-8000-000000000001',
    round: 1,
    replyBy: new Date().toISOString(),
    task: {
      id: '0195a8d0-0000-7000-8000-000000000001',
      capability,
      input,
      budget,
      deadline: null,
      priority: 0,
    },
  }) as Cfp & { task: { input: unknown } };
const idle = { running: 0, queued: 0, capacity: 4 };
const work = {
  signal: new AbortController().signal,
  awardId: 'a',
  cost: 1,
  task: cfp('math.evaluate', {}).task,
  subcontract: () => Promise.reject(new Error('no subcontracting here')),
};

describe('sample agents', () => {
  it('bid by their strategies and refuse input they cannot do', async () => {
    const calc = sampleAgentSpec('calculator', SAMPLE_AGENTS.calculator!);
    expect(await calc.bid(cfp('math.evaluate', { expression: '1+1' }), idle)).toEqual({
      type: 'propose',
      cost: 6,
      etaMs: 40,
    });
    expect(await calc.bid(cfp('math.evaluate', { expr: 'oops' }), idle)).toMatchObject({
      type: 'refuse',
      reason: expect.stringMatching(/invalid input/),
    });
    expect(await calc.bid(cfp('math.evaluate', { expression: '1' }, 2), idle)).toMatchObject({
      type: 'refuse',
    });
  });

  it('do the real work, and answer bad input with a failure, not a crash', async () => {
    const calc = sampleAgentSpec('calculator', SAMPLE_AGENTS.calculator!);
    expect(await calc.execute({ expression: '6*7' }, work)).toEqual({ result: 42 });
    await expect(Promise.resolve().then(() => calc.execute({ expression: 12 }, work))).rejects.toThrow(
      /invalid input/,
    );
  });

  it('fail a share of their awards with --fail-rate', async () => {
    const flaky = sampleAgentSpec('calculator', SAMPLE_AGENTS.calculator!, { failRate: 0.5 }, () => 0.1);
    await expect(Promise.resolve().then(() => flaky.execute({ expression: '1' }, work))).rejects.toThrow(
      /simulated failure/,
    );
    const lucky = sampleAgentSpec('calculator', SAMPLE_AGENTS.calculator!, { failRate: 0.5 }, () => 0.9);
    expect(await lucky.execute({ expression: '1' }, work)).toEqual({ result: 1 });
  });

  it('statistician bids deferred, priced by the size of the table', async () => {
    const stats = sampleAgentSpec('statistician', SAMPLE_AGENTS.statistician!);
    const decision = await stats.bid(cfp('data.csv-stats', { csv: 'a,b\n1,2\n3,4' }), idle);
    expect(decision.type).toBe('deferred');
    const bid = await (decision as { decide: () => Promise<unknown> }).decide();
    expect(bid).toEqual({ type: 'propose', cost: 3, etaMs: 56 });
  });
});
