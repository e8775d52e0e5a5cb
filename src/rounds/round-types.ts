import type { StandingOffer } from '../protocol/agent.ts';

/** An agent invited to a round, with what ranking needs to know about it. */
export type Invitee = {
  id: string;
  endpoint: string;
  /** The key id its token derives from (signs the cfp). */
  kid: string | null;
  reputation: number /** Its invitation row in `bids`. */;
  bidId: string;
  /** An A2A agent: the manager bids its standing offer and speaks A2A to it. */
  a2a?: { offer: StandingOffer };
};

/** What an invited agent answered to a cfp, as the round owner saw it. */
export type CfpAnswer =
  | {
      type: 'propose';
      cost: number;
      etaMs: number;
      confidence?: number;
      validUntil?: string;
      receivedAt: number;
    }
  | { type: 'refuse'; reason?: string; receivedAt: number }
  | { type: 'deferred'; receivedAt: number }
  | { type: 'no_reply'; reason: string; receivedAt: number }
  | { type: 'invalid'; reason: string; receivedAt: number };
