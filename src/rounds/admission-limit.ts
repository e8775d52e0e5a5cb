/**
 * How many rounds may bid at once, adapted to how late this manager's own event loop runs
 * (additive increase, multiplicative decrease, as TCP does with its window). A fixed limit let a
 * burst open more rounds than the manager could serve: cfps and awards then waited in its own
 * queues past their windows, healthy agents were marked silent, their circuits opened, and tasks
 * went round after round (seen in the demo and in chaos runs on PGlite, where the database shares
 * the thread). Pure: the runner feeds it one sample per interval.
 */
export type AdmissionSample = {
  /** p99 event-loop delay over the last interval, ms. */
  lagMs: number;
  /** Whether rounds waited for a slot during the interval (the limit was what held them). */
  saturated: boolean;
};

export type AdmissionPolicy = { min: number; max: number; targetLagMs: number };

export function nextLimit(limit: number, s: AdmissionSample, p: AdmissionPolicy): number {
  if (s.lagMs > p.targetLagMs) return Math.max(p.min, Math.floor(limit * 0.7));
  if (s.saturated) return Math.min(p.max, limit + Math.max(1, Math.round(limit * 0.1)));
  return limit;
}
