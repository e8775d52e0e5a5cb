import { describe, expect, it } from 'vitest';
import { answersOf, bidStats, finaliseBids, type PostedBid, proposalsOf } from './finalise-bids.ts';
import type { CfpAnswer, Invitee } from './round-types.ts';

const inv = (n: number): Invitee => ({
  id: `agent-${n}`,
  endpoint: `http://a${n}`,
  kid: null,
  reputation: 0.5 + n / 10,
  bidId: `bid-${n}`,
});

describe('finaliseBids', () => {
  const invitees = [inv(1), inv(2), inv(3), inv(4), inv(5), inv(6)];
  const answers = new Map<string, CfpAnswer>([
    ['agent-1', { type: 'propose', cost: 3, etaMs: 100, confidence: 0.9, receivedAt: 10 }],
    ['agent-2', { type: 'refuse', reason: 'busy', receivedAt: 11 }],
    ['agent-3', { type: 'invalid', reason: 'garbage', receivedAt: 12 }],
    ['agent-4', { type: 'deferred', receivedAt: 13 }],
    ['agent-5', { type: 'deferred', receivedAt: 14 }],
    // agent-6 never answered
  ]);
  const posted = new Map<string, PostedBid>([
    [
      'bid-4',
      {
        id: 'bid-4',
        type: 'propose',
        cost: 2,
        etaMs: 50,
        confidence: null,
        validUntil: null,
        reason: null,
        receivedAt: 20,
      },
    ],
  ]);
  const finals = finaliseBids(invitees, answers, posted, 99);
  const byAgent = new Map(finals.map((f) => [f.agentId, f]));

  it('keeps a proposal pending ranking, with its price, estimate and confidence', () => {
    expect(byAgent.get('agent-1')).toMatchObject({
      id: 'bid-1',
      type: 'propose',
      cost: 3,
      etaMs: 100,
      confidence: 0.9,
      outcome: 'pending',
    });
  });

  it('marks refusals refused and garbage invalid, with their reasons', () => {
    expect(byAgent.get('agent-2')).toMatchObject({ type: 'refuse', reason: 'busy', outcome: 'refused' });
    expect(byAgent.get('agent-3')).toMatchObject({ type: 'invalid', reason: 'garbage', outcome: 'invalid' });
  });

  it('takes a deferred bid from what the agent posted in time, and no_reply when it posted nothing', () => {
    expect(byAgent.get('agent-4')).toMatchObject({
      type: 'propose',
      cost: 2,
      etaMs: 50,
      receivedAt: 20,
      outcome: 'pending',
    });
    expect(byAgent.get('agent-5')).toMatchObject({ type: 'no_reply', outcome: 'no_reply', receivedAt: 99 });
  });

  it('records an invitee that never answered as no_reply at the close', () => {
    expect(byAgent.get('agent-6')).toMatchObject({ type: 'no_reply', outcome: 'no_reply', receivedAt: 99 });
  });

  it('hands ranking only the proposals, with each agent reputation', () => {
    expect(proposalsOf(finals, invitees).map((p) => [p.agentId, p.reputation])).toEqual([
      ['agent-1', 0.6],
      ['agent-4', 0.9],
    ]);
  });

  it("counts each agent's cfp with its proposal, refusal or silence", () => {
    const stats = bidStats(finals);
    expect(stats.find((s) => s.agentId === 'agent-3')).toEqual({
      agentId: 'agent-3',
      cfps: 1,
      proposals: 0,
      refusals: 0,
      noReplies: 1,
    });
    expect(stats.reduce((n, s) => n + s.proposals, 0)).toBe(2);
    expect(stats.reduce((n, s) => n + s.cfps, 0)).toBe(finals.length);
  });

  it('lists every answer for the closing event, without reasons or timestamps', () => {
    const listed = answersOf(finals);
    expect(listed).toHaveLength(6);
    expect(listed.find((a) => a.agentId === 'agent-1')).toEqual({
      agentId: 'agent-1',
      type: 'propose',
      cost: 3,
      etaMs: 100,
      outcome: byAgent.get('agent-1')!.outcome,
    });
    expect(listed.find((a) => a.agentId === 'agent-6')).toMatchObject({ type: 'no_reply', cost: null });
    expect(Object.keys(listed[1]!).sort()).toEqual(['agentId', 'cost', 'etaMs', 'outcome', 'type']);
  });
});
