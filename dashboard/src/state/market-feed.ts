import type { TaskEvent } from '../../../src/protocol/task.ts';

/** One bid as the live feed saw it: posted (`bid.received`) or in the closing event's `answers`. */
export type LiveBid = {
  agentId: string;
  kind: 'propose' | 'refuse' | 'silent';
  cost: number | null;
  etaMs: number | null;
  iteration: number;
};

/** Where a task's round stands, as far as the events tell. */
export type RoundPhase =
  | 'waiting'
  | 'bidding'
  | 'awarded'
  | 'agreed'
  | 'queued'
  | 'completed'
  | 'failed'
  | 'cancelled';

/** A task's current round as the page draws it: cfps out, bids in, the winner, the rejected. */
export type RoundCard = {
  taskId: string;
  capability: string | null;
  round: number;
  iteration: number;
  phase: RoundPhase;
  invited: string[];
  bids: LiveBid[];
  winner: { agentId: string; cost: number | null; etaMs: number | null; via: 'round' | 'queue' } | null;
  /** Proposers sent reject-proposal when the award went to another. */
  rejected: string[];
  /** Times the award moved to the next-best bid. */
  moves: number;
  /** Why it was queued or failed (`no_bids`, `bid_timeout`, ...). */
  reason: string | null;
  updatedAt: string;
  lastEventId: string;
};

/** One line of the activity log. */
export type FeedLine = {
  id: string;
  at: string;
  type: string;
  taskId: string | null;
  agentId: string | null;
  text: string;
};

export type MarketFeed = {
  /** Newest first, at most `limit` cards. */
  rounds: RoundCard[];
  /** Newest first, at most `limit * 4` lines. */
  lines: FeedLine[];
  /** Events seen since the page opened, by type. */
  counts: Record<string, number>;
  /** Counts events that change an agent's row: the page refetches the agents when it moves. */
  agentEpoch: number;
  lastEventId: string | null;
};

export const emptyFeed = (): MarketFeed => ({
  rounds: [],
  lines: [],
  counts: {},
  agentEpoch: 0,
  lastEventId: null,
});

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/**
 * The closing event's `answers` (every invitee's final answer) as bids; a bid seen arriving
 * earlier keeps its place. Anything malformed in the list is skipped, never trusted.
 */
function withAnswers(bids: LiveBid[], answers: unknown, iteration: number): LiveBid[] {
  if (!Array.isArray(answers)) return bids;
  const out = [...bids];
  for (const a of answers as Record<string, unknown>[]) {
    const agentId = str(a?.agentId);
    if (!agentId) continue;
    const kind = a.type === 'propose' ? 'propose' : a.type === 'refuse' ? 'refuse' : 'silent';
    const bid: LiveBid = { agentId, kind, cost: num(a.cost), etaMs: num(a.etaMs), iteration };
    const at = out.findIndex((b) => b.agentId === agentId);
    if (at >= 0) out[at] = { ...bid, iteration: out[at]!.iteration };
    else out.push(bid);
  }
  return out;
}

const PHASE_OF: Record<string, RoundPhase> = {
  'task.completed': 'completed',
  'task.failed': 'failed',
  'task.cancelled': 'cancelled',
  'task.queued': 'queued',
  'task.retried': 'waiting',
  'award.agreed': 'agreed',
};

function newCard(e: TaskEvent): RoundCard {
  return {
    taskId: e.taskId!,
    capability: null,
    round: 0,
    iteration: 1,
    phase: 'waiting',
    invited: [],
    bids: [],
    winner: null,
    rejected: [],
    moves: 0,
    reason: null,
    updatedAt: e.createdAt,
    lastEventId: e.id,
  };
}

/** What a task event does to its card (a new card, never the old one changed). */
export function applyToCard(prev: RoundCard, e: TaskEvent): RoundCard {
  const d = e.data;
  const card: RoundCard = { ...prev, updatedAt: e.createdAt, lastEventId: e.id };
  const round = num(d.round);
  switch (e.type) {
    case 'task.submitted':
      card.capability = str(d.capability) ?? card.capability;
      card.phase = d.state === 'waiting' ? 'waiting' : card.phase;
      break;
    case 'round.opened':
      // A new round starts afresh: new cfps, no bids yet.
      card.round = round ?? card.round + 1;
      card.iteration = 1;
      card.phase = 'bidding';
      card.invited = strings(d.invited);
      card.bids = [];
      card.winner = null;
      card.rejected = [];
      card.reason = null;
      break;
    case 'round.iterated':
      card.iteration = num(d.iteration) ?? card.iteration + 1;
      break;
    case 'bid.received': {
      if (!e.agentId) break;
      const kind = d.type === 'refuse' ? 'refuse' : 'propose';
      const bid: LiveBid = {
        agentId: e.agentId,
        kind,
        cost: num(d.cost),
        etaMs: num(d.etaMs),
        iteration: card.iteration,
      };
      // A revised bid replaces the agent's standing one.
      card.bids = [...card.bids.filter((b) => b.agentId !== e.agentId), bid];
      break;
    }
    case 'task.awarded':
    case 'award.moved': {
      if (e.type === 'award.moved') card.moves += 1;
      card.bids = withAnswers(card.bids, d.answers, card.iteration);
      card.phase = 'awarded';
      card.winner = e.agentId
        ? { agentId: e.agentId, cost: num(d.cost), etaMs: num(d.etaMs), via: 'round' }
        : null;
      card.rejected = card.bids
        .filter((b) => b.kind === 'propose' && b.agentId !== e.agentId)
        .map((b) => b.agentId);
      break;
    }
    case 'task.claimed':
      card.phase = 'awarded';
      card.winner = e.agentId ? { agentId: e.agentId, cost: null, etaMs: null, via: 'queue' } : null;
      break;
    default: {
      if (e.type === 'task.queued') card.bids = withAnswers(card.bids, d.answers, card.iteration);
      const phase = PHASE_OF[e.type];
      if (phase) {
        card.phase = phase;
        card.reason = str(d.reason) ?? (phase === 'queued' || phase === 'failed' ? card.reason : null);
      }
    }
  }
  return card;
}

/** A short sentence for the activity log; names come from `nameOf` (agent id -> name). */
export function describe(e: TaskEvent, nameOf: (id: string) => string): string {
  const d = e.data;
  const who = e.agentId ? nameOf(e.agentId) : '';
  const task = e.taskId ? `task ${e.taskId.slice(-8)}` : '';
  switch (e.type) {
    case 'task.submitted':
      return `${task} submitted (${str(d.capability) ?? '?'})`;
    case 'round.opened':
      return `${task}: round ${num(d.round) ?? '?'}, cfp to ${strings(d.invited).length} agent(s)`;
    case 'round.iterated':
      return `${task}: iteration ${num(d.iteration) ?? '?'}, revised cfp to the shortlist`;
    case 'bid.received':
      return d.type === 'refuse'
        ? `${who} refused ${task}`
        : `${who} bid ${num(d.cost) ?? '?'} (eta ${num(d.etaMs) ?? '?'} ms) on ${task}`;
    case 'task.awarded':
      return `${task} awarded to ${who} at ${num(d.cost) ?? '?'}`;
    case 'award.moved':
      return `${task}: award moved to the next-best, ${who}`;
    case 'award.agreed':
      return `${who} agreed to ${task}`;
    case 'task.queued':
      return `${task} queued (${str(d.reason) ?? 'no taker'})`;
    case 'task.claimed':
      return `${who} claimed ${task} from the queue`;
    case 'task.completed':
      return `${task} completed by ${who}`;
    case 'task.failed':
      return `${task} failed (${str(d.reason) ?? str(d.code) ?? 'no reason'})`;
    case 'task.cancelled':
      return `${task} cancelled`;
    case 'agent.circuit_opened':
      return `circuit OPEN for ${who}`;
    case 'agent.circuit_half_open':
      return `circuit half-open for ${who}`;
    case 'agent.circuit_closed':
      return `circuit closed for ${who}`;
    default:
      return `${e.type.replace('.', ' ')} ${who || task}`.trim();
  }
}

/**
 * Folds one event into the feed (pure: the page keeps the result). Task events update their
 * round card, which moves to the front; agent events only mark the agents table stale.
 */
export function applyEvent(
  feed: MarketFeed,
  e: TaskEvent,
  nameOf: (id: string) => string,
  limit = 40,
): MarketFeed {
  const counts = { ...feed.counts, [e.type]: (feed.counts[e.type] ?? 0) + 1 };
  const line: FeedLine = {
    id: e.id,
    at: e.createdAt,
    type: e.type,
    taskId: e.taskId,
    agentId: e.agentId,
    text: describe(e, nameOf),
  };
  const lines = [line, ...feed.lines].slice(0, limit * 4);
  const changesAgent =
    e.type.startsWith('agent.') ||
    e.type === 'task.awarded' ||
    e.type === 'task.completed' ||
    e.type === 'task.failed';
  const agentEpoch = feed.agentEpoch + (changesAgent ? 1 : 0);
  let rounds = feed.rounds;
  if (e.taskId) {
    const at = rounds.findIndex((r) => r.taskId === e.taskId);
    const prev = at >= 0 ? rounds[at]! : newCard(e);
    const card = applyToCard(prev, e);
    rounds = [card, ...rounds.filter((_, i) => i !== at)].slice(0, limit);
  }
  return { rounds, lines, counts, agentEpoch, lastEventId: e.id };
}
