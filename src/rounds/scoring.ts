import type { RejectReason } from '../protocol/messages.ts';
import type { Weights } from '../protocol/task.ts';

/** A proposal as the ranking sees it. */
export type RankableBid = {
  id: string;
  agentId: string;
  cost: number;
  etaMs: number;
  /** The agent's reputation in 0..1 when the round closed. */
  reputation: number;
  receivedAt: number;
  /** The proposal's own limit (ms), if it set one: past it, it is not awarded. */
  validUntil?: number | null;
};

export type RankedBid = RankableBid & { score: number };
export type Ranking = {
  /** Acceptable bids, best first. */
  ranked: RankedBid[];
  /** Proposals recorded but not ranked, with the reason sent in their reject-proposal. */
  unranked: {
    bid: RankableBid;
    reason: Extract<RejectReason, 'over_budget' | 'misses_deadline' | 'expired'>;
  }[];
};

/** Min-max normalisation to 0..1; all-equal values normalise to 0 so they do not sway the score. */
function normaliser(values: number[]) {
  const min = Math.min(...values);
  const span = Math.max(...values) - min;
  return (v: number) => (span > 0 ? (v - min) / span : 0);
}

/**
 * Ranks a round's proposals: drops those past their own validUntil, over budget or that would
 * miss the deadline, then
 * orders by the weighted sum of normalised cost, time and (1 - reputation), lowest first.
 * Ties go to the lower cost, then the earlier bid, then the lower agent id: deterministic.
 */
export function rankBids(
  bids: RankableBid[],
  task: { budget: number | null; deadline: number | null; weights: Weights },
  now: number,
): Ranking {
  const unranked: Ranking['unranked'] = [];
  const valid: RankableBid[] = [];
  for (const bid of bids) {
    if (bid.validUntil != null && bid.validUntil <= now) unranked.push({ bid, reason: 'expired' });
    else if (task.budget !== null && bid.cost > task.budget) unranked.push({ bid, reason: 'over_budget' });
    else if (task.deadline !== null && now + bid.etaMs > task.deadline)
      unranked.push({ bid, reason: 'misses_deadline' });
    else valid.push(bid);
  }
  const cost = normaliser(valid.map((b) => b.cost));
  const time = normaliser(valid.map((b) => b.etaMs));
  const risk = normaliser(valid.map((b) => 1 - b.reputation));
  const w = task.weights;
  const ranked = valid
    .map((b) => ({
      ...b,
      score: w.cost * cost(b.cost) + w.time * time(b.etaMs) + w.reputation * risk(1 - b.reputation),
    }))
    .sort(
      (a, b) =>
        a.score - b.score ||
        a.cost - b.cost ||
        a.receivedAt - b.receivedAt ||
        (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0),
    );
  return { ranked, unranked };
}
