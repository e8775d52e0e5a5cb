import type { BidContext } from '../src/sdk/index.ts';

/** What a strategy knows about the task: its size, in whatever unit the work scales with. */
export type Job = {
  size: number;
  budget: number | null;
  /** Iterated rounds: the leading offer so far, from the second iteration on. */
  best?: { cost: number; etaMs: number };
};

export type Bid = { type: 'propose'; cost: number; etaMs: number } | { type: 'refuse'; reason: string };

/** A bidding strategy: a price and an estimate from the job and the agent's own load. */
export type Strategy = (job: Job, load: BidContext) => Bid;

/** Prices are whole units: the market pays in them when it keeps accounts (a fraction would be no bid). */
const whole = (x: number) => Math.max(0, Math.round(x));

/**
 * Prices by load: every task already running or waiting raises the price and the estimate,
 * so a busy agent loses to an idle one and work spreads over the fleet.
 */
export const loadPriced =
  (o: { base: number; perTask: number; msPerUnit: number; minMs: number }): Strategy =>
  (job, load) => {
    const backlog = load.running + load.queued;
    const slots = Math.max(1, load.capacity);
    return {
      type: 'propose',
      cost: whole(o.base + o.perTask * backlog),
      etaMs: Math.ceil(o.minMs + job.size * o.msPerUnit) * (1 + Math.floor(backlog / slots)),
    };
  };

/** Cheap but slow: a low flat price, a long estimate. Wins when the client weighs cost. */
export const cheapButSlow =
  (o: { cost: number; etaMs: number }): Strategy =>
  () => ({ type: 'propose', cost: o.cost, etaMs: o.etaMs });

/** Fast but expensive: a high price, a short estimate. Wins when the client weighs time. */
export const fastButExpensive =
  (o: { cost: number; etaMs: number }): Strategy =>
  () => ({ type: 'propose', cost: o.cost, etaMs: o.etaMs });

/**
 * Negotiates in iterated rounds: bids as `inner` would, and when it sees a leading offer
 * below its own price it undercuts it by `step`, never below `floor` times its own price.
 */
export const undercutting =
  (inner: Strategy, o: { floor: number; step: number }): Strategy =>
  (job, load) => {
    const bid = inner(job, load);
    if (bid.type !== 'propose' || !job.best || job.best.cost > bid.cost) return bid;
    const floor = whole(bid.cost * o.floor);
    return { ...bid, cost: Math.max(floor, whole(job.best.cost - o.step)) };
  };

/** Refuses once every slot is taken, instead of queueing work it cannot start. */
export const refuseWhenBusy =
  (inner: Strategy): Strategy =>
  (job, load) =>
    load.running + load.queued >= load.capacity ? { type: 'refuse', reason: 'busy' } : inner(job, load);

/** Never bids over the task's budget: refuses instead of sending a bid that cannot win. */
export const withinBudget =
  (inner: Strategy): Strategy =>
  (job, load) => {
    const bid = inner(job, load);
    return bid.type === 'propose' && job.budget !== null && bid.cost > job.budget
      ? { type: 'refuse', reason: `my price ${bid.cost} is over the budget ${job.budget}` }
      : bid;
  };
