/** What decides when an award is due: the grace around an agent's estimate and the award call's budget. */
export type AwardTiming = {
  grace: { factor: number; ms: number };
  /** The longest an award call can take: every try timing out, with the longest backoffs between. */
  callBudgetMs: number;
  /**
   * Now by the database's clock (DbClock's estimate): due times are written on it, as every
   * lease is, so whichever manager's sweeper judges them (by the database's `now()`) agrees.
   */
  now(): number;
};

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

/**
 * When an offered award is due. The agent is told `workDue` (when its work is due if it agrees
 * now); the row's `dueAt` also allows the award call's whole retry budget (it can wait behind
 * cfps in the agent's bulkhead). On agree, dueAt restarts from the agreement.
 */
export function offerDueTimes(now: number, etaMs: number, deadline: number | null, t: AwardTiming) {
  const workDue = awardDueAt(now, etaMs, t.grace, deadline);
  const rowDue = Math.min(workDue + t.callBudgetMs, deadline ?? Number.POSITIVE_INFINITY);
  return { workDue: new Date(workDue), rowDue: new Date(rowDue) };
}
