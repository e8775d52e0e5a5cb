/** The agent answered with an HTTP error status. 5xx is worth a retry; 4xx is not. */
export class AgentHttpError extends Error {
  override name = 'AgentHttpError';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(
      status === 404 || status === 405
        ? `agent answered HTTP ${status}: it does not serve this protocol's calls (an A2A agent is registered with its Agent Card, and then spoken to in A2A)`
        : `agent answered HTTP ${status}`,
    );
  }
  get retryable() {
    return this.status >= 500;
  }
  /**
   * The agent declined the message the manager chose to send (too large, a type or content it
   * does not take): a refusal of this message, not a fault of the agent's, so it never counts
   * against its circuit. A wrong token (401/403) or a wrong URL (404) still does.
   */
  get declinedMessage() {
    return DECLINED.has(this.status);
  }
}

const DECLINED = new Set([400, 413, 415, 422]);

/** The agent did not answer within the call's timeout. */
export class AgentTimeoutError extends Error {
  override name = 'AgentTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

/**
 * A cfp that says nothing about the agent: its window ran out while it waited for a slot in
 * the agent's bulkhead (not sent), or it timed out after less than `CFP_FAIR_WINDOW_MS`. Both are
 * the manager's congestion, so neither counts against the agent's circuit.
 */
export class CfpWindowError extends Error {
  override name = 'CfpWindowError';
  constructor(
    readonly windowMs: number,
    readonly sent: boolean,
  ) {
    super(
      sent
        ? `no answer within the ${windowMs} ms left of the round`
        : `not sent: ${windowMs} ms left of the round once a connection to the agent was free`,
    );
  }
}

/** The agent answered 2xx with something that is not a valid protocol message. */
export class InvalidAgentReplyError extends Error {
  override name = 'InvalidAgentReplyError';
}
