/** A difference this large between a manager's clock and the database's is worth a warning. */
export const SKEW_WARN_MS = 1000;
const WARN_EVERY_MS = 60_000;

export { clockSkewMs } from '../db/db-clock.ts';

/**
 * Round leases, re-auction and callback times go by the database's clock, but award deadlines
 * and queue claim leases are set by each manager's own (they are sent to the agent as well);
 * managers whose clocks disagree expire each other's awards early or late. This says when to
 * warn: a skew over SKEW_WARN_MS (a round trip's worth of doubt allowed), once a minute.
 */
export class ClockSkewWatch {
  private warnedAt = Number.NEGATIVE_INFINITY;

  shouldWarn(skewMs: number, roundTripMs: number, now: number): boolean {
    if (Math.abs(skewMs) <= SKEW_WARN_MS + roundTripMs / 2) return false;
    if (now - this.warnedAt < WARN_EVERY_MS) return false;
    this.warnedAt = now;
    return true;
  }
}
