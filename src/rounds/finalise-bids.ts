import type { CfpAnswer, Invitee } from './round-types.ts';

/** A deferred bid as the agent posted it before replyBy (its invitation row). */
export type PostedBid = {
  id: string;
  type: string;
  cost: number | null;
  etaMs: number | null;
  confidence: number | null;
  validUntil: number | null;
  reason: string | null;
  receivedAt: number;
};

/** A bid as the round closed it: what the agent answered and the outcome it gets. */
export type FinalBid = Omit<PostedBid, 'type'> & {
  agentId: string;
  type: 'propose' | 'refuse' | 'no_reply' | 'invalid';
  outcome: string;
  /** The iteration its standing answer came from. */
  iteration: number;
};

/**
 * What each invitation of a round becomes when it closes: the answer the round owner received,
 * or for a `deferred` answer the bid the agent posted in time, or `no_reply`. Proposals get
 * outcome `pending` until ranking decides. Pure.
 */
export function finaliseBids(
  invitees: readonly Invitee[],
  answers: ReadonlyMap<string, CfpAnswer>,
  posted: ReadonlyMap<string, PostedBid>,
  now: number,
): FinalBid[] {
  return invitees.map((inv) => {
    const a = answers.get(inv.id);
    const base = {
      id: inv.bidId,
      agentId: inv.id,
      cost: null,
      etaMs: null,
      confidence: null,
      validUntil: null,
      reason: null,
      iteration: 1,
    };
    switch (a?.type) {
      case 'propose':
        return {
          ...base,
          type: 'propose',
          cost: a.cost,
          etaMs: a.etaMs,
          confidence: a.confidence ?? null,
          validUntil: a.validUntil ? Date.parse(a.validUntil) : null,
          receivedAt: a.receivedAt,
          outcome: 'pending',
        };
      case 'refuse':
        return {
          ...base,
          type: 'refuse',
          reason: a.reason ?? null,
          receivedAt: a.receivedAt,
          outcome: 'refused',
        };
      case 'invalid':
        return { ...base, type: 'invalid', reason: a.reason, receivedAt: a.receivedAt, outcome: 'invalid' };
      case 'deferred': {
        const p = posted.get(inv.bidId);
        if (p?.type === 'propose') return { ...base, ...pick(p), type: 'propose', outcome: 'pending' };
        if (p?.type === 'refuse')
          return { ...base, reason: p.reason, receivedAt: p.receivedAt, type: 'refuse', outcome: 'refused' };
        return { ...base, type: 'no_reply', reason: null, receivedAt: now, outcome: 'no_reply' };
      }
      case 'no_reply':
        return { ...base, type: 'no_reply', reason: a.reason, receivedAt: a.receivedAt, outcome: 'no_reply' };
      default:
        return { ...base, type: 'no_reply', reason: null, receivedAt: now, outcome: 'no_reply' };
    }
  });
}

const pick = (p: PostedBid) => ({
  cost: p.cost,
  etaMs: p.etaMs,
  confidence: p.confidence,
  validUntil: p.validUntil,
  receivedAt: p.receivedAt,
});

/** The proposals among final bids, as ranking takes them. */
export function proposalsOf(finals: readonly FinalBid[], invitees: readonly Invitee[]) {
  const rep = new Map(invitees.map((i) => [i.id, i.reputation]));
  // Not a proposal the round may award: one left out of an iteration's shortlist.
  return finals.flatMap((f) =>
    f.type === 'propose' && f.outcome !== 'not_shortlisted' && f.cost !== null && f.etaMs !== null
      ? [
          {
            id: f.id,
            agentId: f.agentId,
            cost: f.cost,
            etaMs: f.etaMs,
            reputation: rep.get(f.agentId) ?? 0.5,
            receivedAt: f.receivedAt,
            validUntil: f.validUntil,
          },
        ]
      : [],
  );
}

/** Per-agent counter increments for a closed round: its cfp (counted at the close, one row per agent with its answer) and answer. */
export function bidStats(finals: readonly FinalBid[]) {
  return finals.map((f) => ({
    agentId: f.agentId,
    cfps: 1,
    proposals: f.type === 'propose' ? 1 : 0,
    refusals: f.type === 'refuse' ? 1 : 0,
    noReplies: f.type === 'no_reply' || f.type === 'invalid' ? 1 : 0,
  }));
}

/**
 * Every invitee's final answer as the closing event records it (`answers`): who proposed what,
 * who refused or was silent, and how each answer came out, so a watcher sees the whole round.
 */
export function answersOf(finals: readonly FinalBid[]) {
  return finals.map((f) => ({
    agentId: f.agentId,
    type: f.type,
    cost: f.cost,
    etaMs: f.etaMs,
    outcome: f.outcome,
  }));
}

export function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
