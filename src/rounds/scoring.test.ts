import { describe, expect, it } from 'vitest';
import { type RankableBid, rankBids } from './scoring.ts';

const bid = (
  agentId: string,
  cost: number,
  etaMs: number,
  reputation = 0.5,
  receivedAt = 0,
): RankableBid => ({
  id: `bid-${agentId}`,
  agentId,
  cost,
  etaMs,
  reputation,
  receivedAt,
});
const even = { cost: 1, time: 1, reputation: 1 };
const open = { budget: null, deadline: null, weights: even };

describe('rankBids', () => {
  it('ranks the lowest weighted score first', () => {
    const r = rankBids([bid('a', 10, 1000), bid('b', 2, 500), bid('c', 5, 800)], open, 0);
    expect(r.ranked.map((b) => b.agentId)).toEqual(['b', 'c', 'a']);
    expect(r.ranked[0]!.score).toBe(0);
  });

  it('passes over a proposal whose own validUntil has passed, and keeps one that is still valid', () => {
    const expired = { ...bid('gone', 1, 100), validUntil: 999 };
    const valid = { ...bid('valid', 5, 100), validUntil: 1001 };
    const r = rankBids([expired, valid, bid('plain', 9, 100)], open, 1000);
    expect(r.ranked.map((b) => b.agentId)).toEqual(['valid', 'plain']);
    expect(r.unranked).toEqual([{ bid: expired, reason: 'expired' }]);
  });

  it('lets the weights change the winner', () => {
    const cheapSlow = bid('cheap', 1, 10_000);
    const fastDear = bid('fast', 9, 100);
    const byCost = rankBids(
      [cheapSlow, fastDear],
      { ...open, weights: { cost: 5, time: 1, reputation: 0 } },
      0,
    );
    const byTime = rankBids(
      [cheapSlow, fastDear],
      { ...open, weights: { cost: 1, time: 5, reputation: 0 } },
      0,
    );
    expect(byCost.ranked[0]!.agentId).toBe('cheap');
    expect(byTime.ranked[0]!.agentId).toBe('fast');
  });

  it('prefers the better reputation when cost and time are equal', () => {
    const r = rankBids([bid('shaky', 5, 500, 0.2), bid('solid', 5, 500, 0.9)], open, 0);
    expect(r.ranked.map((b) => b.agentId)).toEqual(['solid', 'shaky']);
  });

  it('breaks ties by lower cost, then earlier bid, then agent id', () => {
    const w = { ...open, weights: { cost: 0, time: 1, reputation: 0 } };
    expect(rankBids([bid('x', 5, 100), bid('y', 3, 100)], w, 0).ranked[0]!.agentId).toBe('y');
    expect(rankBids([bid('x', 5, 100, 0.5, 20), bid('y', 5, 100, 0.5, 10)], w, 0).ranked[0]!.agentId).toBe(
      'y',
    );
    const sameAll = [bid('b', 5, 100), bid('a', 5, 100), bid('c', 5, 100)];
    expect(rankBids(sameAll, open, 0).ranked.map((b) => b.agentId)).toEqual(['a', 'b', 'c']);
    expect(rankBids([...sameAll].reverse(), open, 0).ranked.map((b) => b.agentId)).toEqual(['a', 'b', 'c']);
  });

  it('records but does not rank bids over budget or that would miss the deadline', () => {
    const r = rankBids(
      [bid('dear', 20, 100), bid('slow', 1, 5000), bid('ok', 5, 100)],
      { ...open, budget: 10, deadline: 1000 + 2000 },
      1000,
    );
    expect(r.ranked.map((b) => b.agentId)).toEqual(['ok']);
    expect(r.unranked.map((u) => [u.bid.agentId, u.reason])).toEqual([
      ['dear', 'over_budget'],
      ['slow', 'misses_deadline'],
    ]);
  });

  it('accepts a bid exactly at the budget and ranks nothing from no bids', () => {
    expect(rankBids([bid('edge', 10, 100)], { ...open, budget: 10 }, 0).ranked).toHaveLength(1);
    expect(rankBids([], open, 0)).toEqual({ ranked: [], unranked: [] });
  });
});
