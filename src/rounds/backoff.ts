/**
 * When a queued task is auctioned again: exponential in how often it was requeued, capped,
 * with "equal jitter" (half fixed, half random) so a burst of requeued tasks spreads out.
 */
export function reauctionDelay(
  requeues: number,
  baseMs: number,
  capMs: number,
  random = Math.random,
): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(requeues, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** When an award is due: the bid's own estimate stretched by a grace factor, capped by the deadline. */
export function awardDueAt(
  awardedAt: number,
  etaMs: number,
  grace: { factor: number; ms: number },
  deadline: number | null,
): number {
  const due = awardedAt + Math.ceil(etaMs * grace.factor) + grace.ms;
  return deadline === null ? due : Math.min(due, deadline);
}
