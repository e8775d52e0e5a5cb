/** A difference this large between a manager's clock and the database's is worth a warning. */
export const SKEW_WARN_MS = 1000;
const WARN_EVERY_MS = 60_000;

/**
 * Leases and due times go by the database's clock (DbClock), so managers whose clocks are off
 * still agree; but agents judge the replyBy and dueAt they are sent by their own clocks, and
 * logs are stamped by each manager's. This says when to warn: a skew over SKEW_WARN_MS (a
 * round trip's worth of doubt allowed), once a minute.
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
