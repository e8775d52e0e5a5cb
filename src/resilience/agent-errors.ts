/** The agent answered with an HTTP error status. 5xx is worth a retry; 4xx is not. */
export class AgentHttpError extends Error {
  override name = 'AgentHttpError';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`agent answered HTTP ${status}`);
  }
  get retryable() {
    return this.status >= 500;
  }
}

/** The agent answered 2xx with something that is not a valid protocol message. */
export class InvalidAgentReplyError extends Error {
  override name = 'InvalidAgentReplyError';
}
