/**
 * What the market reports as it runs, for dashboards: the domain calls these, and knows nothing
 * of Prometheus (prometheus.ts implements them). Every method is cheap and never throws.
 */
export interface MarketMetrics {
  /** A round closed: how it ended, how long its bidding took, and what each invitee answered. */
  roundClosed(outcome: RoundOutcome, durationMs: number, answers: readonly string[]): void;
  /** A task's award was offered (its first, or a re-award), `sinceSubmitMs` after submission. */
  awarded(sinceSubmitMs: number): void;
  /** An award moved on to the next-best bid (the winner did not agree). */
  awardMovedOn(): void;
  /**
   * A winner's agreement was recorded: by its holder's report while held (`with_report`), or on
   * its own (`alone`: no report within AGREEMENT_HOLD_MS, or holding is off).
   */
  agreementRecorded(how: 'with_report' | 'alone'): void;
  /** A task completed, `sinceSubmitMs` after submission. */
  completed(sinceSubmitMs: number): void;
  /** One call to an agent: which message, how it ended, how long it took. */
  agentCall(message: string, outcome: AgentCallOutcome, durationMs: number): void;
  /** Tasks an agent pulled from the queue. */
  claimed(n: number): void;
  /** An award ended by time: a claim lease or an award past its dueAt. */
  awardExpired(kind: 'claim' | 'award'): void;
  /** Ended tasks and agent events deleted past their retention. */
  pruned(tasks: number, agentEvents: number): void;
  /** How far the database's clock is ahead of this manager's (negative: behind), in ms. */
  clockSkew(ms: number): void;
}

export type RoundOutcome = 'awarded' | 'no_bids' | 'no_acceptable_bids' | 'superseded';
export type AgentCallOutcome =
  | 'ok'
  | 'http_error'
  | 'timeout'
  | 'invalid_reply'
  | 'refused'
  | 'circuit_open'
  | 'error';

/** For code built without a metrics sink (tests that construct pieces by hand). */
export const noMetrics: MarketMetrics = {
  roundClosed() {},
  awarded() {},
  awardMovedOn() {},
  agreementRecorded() {},
  completed() {},
  agentCall() {},
  claimed() {},
  awardExpired() {},
  pruned() {},
  clockSkew() {},
};
