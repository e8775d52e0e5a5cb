import type { Weights } from '../protocol/task.ts';
import { type FinalBid, proposalsOf } from './finalise-bids.ts';
import type { Invitee } from './round-types.ts';
import { rankBids } from './scoring.ts';

/**
 * Who the next iteration of a round goes back to (FIPA Iterated Contract Net): the `k` best
 * proposers, the leading proposal (anonymous: cost and time only), and the proposers left out,
 * who are told `not_shortlisted` and whose proposals can no longer win. Pure.
 */
export function shortlistOf(
  finals: readonly FinalBid[],
  invitees: readonly Invitee[],
  task: { budget: number | null; deadline: number | null; weights: Weights },
  k: number,
  now: number,
): { shortlist: string[]; best: { cost: number; etaMs: number }; left: string[] } | null {
  const ranked = rankBids(proposalsOf(finals, invitees), task, now).ranked;
  const lead = ranked[0];
  if (!lead) return null;
  const shortlist = ranked.slice(0, k).map((b) => b.agentId);
  const keep = new Set(shortlist);
  const left = finals
    .filter((f) => f.type === 'propose' && f.outcome === 'pending' && !keep.has(f.agentId))
    .map((f) => f.agentId);
  return { shortlist, best: { cost: lead.cost, etaMs: lead.etaMs }, left };
}

/**
 * A round's bids after an iteration: a shortlisted agent's new proposal replaces its standing
 * one; a refusal, no reply or invalid answer leaves the standing one (PROTOCOL.md). Improved:
 * some proposal got cheaper or faster; when none did, iterating stops. Pure.
 */
export function mergeIteration(
  standing: readonly FinalBid[],
  revised: readonly FinalBid[],
  left: readonly string[],
  iteration: number,
): { finals: FinalBid[]; improved: boolean } {
  const byAgent = new Map(revised.map((r) => [r.agentId, r]));
  const out = new Set(left);
  let improved = false;
  const finals = standing.map((f) => {
    if (out.has(f.agentId)) return { ...f, outcome: 'not_shortlisted' };
    const r = byAgent.get(f.agentId);
    if (r?.type !== 'propose' || r.cost === null || r.etaMs === null) return f;
    if (f.type !== 'propose' || f.cost === null || f.etaMs === null || r.cost < f.cost || r.etaMs < f.etaMs)
      improved = true;
    return { ...r, id: f.id, outcome: 'pending', iteration };
  });
  return { finals, improved };
}
