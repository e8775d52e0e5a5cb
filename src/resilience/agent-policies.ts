import {
  BrokenCircuitError,
  type BulkheadPolicy,
  BulkheadRejectedError,
  bulkhead,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type RetryPolicy,
  retry,
} from 'cockatiel';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { CircuitState as WireCircuitState } from '../protocol/agent.ts';
import { AgentHttpError, CfpWindowError, InvalidAgentReplyError } from './agent-errors.ts';

export type PolicySet = {
  breaker: CircuitBreakerPolicy;
  bulkhead: BulkheadPolicy;
  awardRetry: RetryPolicy;
  openedAt: number | null;
  /** When a call last used them: idle, closed ones are dropped (pruneIdle). */
  usedAt: number;
};

/** Policies of an agent not called for this long, with a closed circuit, are forgotten. */
const POLICY_IDLE_MS = 10 * 60_000;

/** Breaker transitions, reported to the audit trail and metrics by the manager. */
export type CircuitListener = (agentId: string, state: WireCircuitState, lastFailure?: string) => void;

export type PolicyConfig = Pick<
  Config,
  | 'BREAKER_THRESHOLD'
  | 'BREAKER_HALF_OPEN_MS'
  | 'AWARD_RETRIES'
  | 'RETRY_BASE_MS'
  | 'RETRY_MAX_MS'
  | 'BULKHEAD_LIMIT'
  | 'BULKHEAD_QUEUE'
>;

/**
 * Each agent's cockatiel policies: a consecutive-failure circuit breaker, a bulkhead, and the
 * retry of award calls. Built on an agent's first call and kept while it is called; an idle
 * agent's closed breaker is forgotten, so the map does not grow with every agent ever registered.
 */
export class AgentPolicies {
  private readonly policies = new Map<string, PolicySet>();
  private lastPrune = Date.now();

  constructor(
    private readonly cfg: PolicyConfig,
    private readonly logger: Logger,
    private readonly onCircuit: CircuitListener,
  ) {}

  /**
   * Forgets the policies of agents not called for POLICY_IDLE_MS whose circuit is closed (a
   * closed breaker with no recent calls holds nothing worth keeping): the map does not grow with
   * every agent that ever registered. Open and half-open circuits are kept.
   */
  pruneIdle(now = Date.now()): void {
    this.lastPrune = now;
    for (const [id, p] of this.policies)
      if (now - p.usedAt >= POLICY_IDLE_MS && p.breaker.state === CircuitState.Closed)
        this.policies.delete(id);
  }

  /** Drops an agent's policies (it deregistered: a new registration starts afresh). */
  forget(agentId: string): void {
    this.policies.delete(agentId);
  }

  /** How many agents this manager keeps policies for. */
  get trackedAgents(): number {
    return this.policies.size;
  }

  of(agentId: string): PolicySet {
    const now = Date.now();
    const p = this.policies.get(agentId);
    if (p) {
      p.usedAt = now;
      return p;
    }
    if (now - this.lastPrune >= 60_000) this.pruneIdle(now);
    // Everything counts against the agent except what the manager's own congestion caused.
    const breaker = circuitBreaker(
      handleWhen(
        (err) => !(err instanceof CfpWindowError) && !(err instanceof AgentHttpError && err.declinedMessage),
      ),
      {
        halfOpenAfter: this.cfg.BREAKER_HALF_OPEN_MS,
        breaker: new ConsecutiveBreaker(this.cfg.BREAKER_THRESHOLD),
      },
    );
    const awardRetry = retry(
      // Only transport failures, timeouts and 5xx: never a 4xx, an open circuit or a full bulkhead.
      handleWhen(
        (err) =>
          !(err instanceof BrokenCircuitError) &&
          !(err instanceof BulkheadRejectedError) &&
          !(err instanceof InvalidAgentReplyError) &&
          !(err instanceof AgentHttpError && !err.retryable),
      ),
      {
        maxAttempts: this.cfg.AWARD_RETRIES,
        backoff: new ExponentialBackoff({
          initialDelay: this.cfg.RETRY_BASE_MS,
          maxDelay: this.cfg.RETRY_MAX_MS,
        }),
      },
    );
    const policies: PolicySet = {
      breaker,
      bulkhead: bulkhead(this.cfg.BULKHEAD_LIMIT, this.cfg.BULKHEAD_QUEUE),
      awardRetry,
      openedAt: null,
      usedAt: now,
    };
    breaker.onBreak((reason) => {
      policies.openedAt = Date.now();
      const last = 'error' in reason ? String(reason.error?.message ?? reason.error) : 'isolated';
      this.logger.warn({ agentId, last }, 'circuit opened');
      this.onCircuit(agentId, 'open', last);
    });
    breaker.onHalfOpen(() => {
      this.logger.info({ agentId }, 'circuit half-open: probing');
      this.onCircuit(agentId, 'half-open');
    });
    breaker.onReset(() => {
      policies.openedAt = null;
      this.logger.info({ agentId }, 'circuit closed');
      this.onCircuit(agentId, 'closed');
    });
    this.policies.set(agentId, policies);
    return policies;
  }

  /** Every agent this manager keeps a breaker for, with its state (the circuit gauge). */
  *circuits(): Iterable<[string, WireCircuitState]> {
    for (const id of this.policies.keys()) yield [id, this.circuitOf(id)];
  }

  /** This manager's view of an agent's breaker. */
  circuitOf(agentId: string): WireCircuitState {
    const p = this.policies.get(agentId);
    if (!p) return 'closed';
    switch (p.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Open:
      case CircuitState.Isolated:
        return 'open';
    }
  }

  /**
   * Whether an agent may be invited: its circuit is not open, or it has been open for
   * `halfOpenAfter`, in which case this call is the half-open probe.
   */
  mayInvite(agentId: string, now = Date.now()): boolean {
    const p = this.policies.get(agentId);
    if (!p || p.breaker.state === CircuitState.Closed) return true;
    if (p.breaker.state === CircuitState.HalfOpen) return false; // a probe is already out
    return p.openedAt !== null && now - p.openedAt >= this.cfg.BREAKER_HALF_OPEN_MS;
  }

  /** The agents this manager will not invite now: their circuits are open (or probing). */
  uninvitable(now = Date.now()): string[] {
    const out: string[] = [];
    for (const id of this.policies.keys()) if (!this.mayInvite(id, now)) out.push(id);
    return out;
  }
}
