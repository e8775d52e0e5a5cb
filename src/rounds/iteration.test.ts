import { describe, expect, it } from 'vitest';
import type { FinalBid } from './finalise-bids.ts';
import { mergeIteration, shortlistOf } from './iteration.ts';
import type { Invitee } from './round-types.ts';

const inv = (n: number): Invitee => ({
  id: `a${n}`,
  endpoint: 'http://x',
  kid: null,
  reputation: 0.5,
  bidId: `b${n}`,
});
const propose = (n: number, cost: number, etaMs = 100, iteration = 1): FinalBid => ({
  id: `b${n}`,
  agentId: `a${n}`,
  type: 'propose',
  cost,
  etaMs,
  confidence: null,
  validUntil: null,
  reason: null,
  receivedAt: n,
  outcome: 'pending',
  iteration,
});
const refuse = (n: number): FinalBid => ({
  ...propose(n, 0),
  type: 'refuse',
  cost: null,
  etaMs: null,
  outcome: 'refused',
});
const open = { budget: null, deadline: null, weights: { cost: 1, time: 0, reputation: 0 } };

describe('shortlistOf', () => {
  it('keeps the k best proposers, names the leading offer, and leaves out the rest', () => {
    const finals = [propose(1, 9), propose(2, 5), propose(3, 7), refuse(4)];
    const s = shortlistOf(finals, [1, 2, 3, 4].map(inv), open, 2, 0);
    expect(s).toEqual({ shortlist: ['a2', 'a3'], best: { cost: 5, etaMs: 100 }, left: ['a1'] });
    expect(shortlistOf([refuse(1)], [inv(1)], open, 2, 0)).toBeNull();
  });
});

describe('mergeIteration', () => {
  it('replaces a standing proposal with a revised one, keeps it on refusal or silence', () => {
    const standing = [propose(1, 9), propose(2, 5), propose(3, 7)];
    const revised = [propose(2, 4), refuse(3)];
    const m = mergeIteration(standing, revised, ['a1'], 2);
    expect(m.improved).toBe(true);
    expect(m.finals.map((f) => [f.agentId, f.cost, f.outcome, f.iteration])).toEqual([
      ['a1', 9, 'not_shortlisted', 1],
      ['a2', 4, 'pending', 2],
      ['a3', 7, 'pending', 1],
    ]);
    expect(m.finals[1]!.id).toBe('b2'); // the same invitation row
  });
  it('says nothing improved when no revised proposal is cheaper or faster', () => {
    const m = mergeIteration([propose(1, 5), propose(2, 6)], [propose(1, 5), propose(2, 8)], [], 2);
    expect(m.improved).toBe(false);
    expect(mergeIteration([propose(1, 5)], [propose(1, 5, 50)], [], 2).improved).toBe(true);
  });
});
