import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import type { AgentRegistration, NewToken, RegistrationResult } from '../protocol/agent.ts';
import type { DeferredBid, ResultReport } from '../protocol/messages.ts';
import type { ClaimRequest, ClaimResponse } from '../protocol/queue.ts';
import type { Task, TaskSubmission } from '../protocol/task.ts';

/** An error answer from the manager, with its protocol error code. */
export class ManagerError extends Error {
  override name = 'ManagerError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
  /** Worth another try: the manager is overloaded or restarting, not saying no. */
  get retryable() {
    return this.status >= 500 || this.status === 429;
  }
}

/** The calls an agent makes to the manager, authenticated with its token. */
export class ManagerClient {
  token?: string;
  /** For calls safe to repeat: a network error, a 5xx or a 429 is tried again with backoff. */
  private readonly retrying;

  constructor(
    readonly baseUrl: string,
    opts: { reportAttempts?: number; retryBaseMs?: number } = {},
  ) {
    this.retrying = retry(
      handleWhen((err) => !(err instanceof ManagerError) || err.retryable),
      {
        maxAttempts: opts.reportAttempts ?? 6,
        backoff: new ExponentialBackoff({ initialDelay: opts.retryBaseMs ?? 100, maxDelay: 5000 }),
      },
    );
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal: AbortSignal = AbortSignal.timeout(10_000),
  ): Promise<T> {
    const res = await fetch(this.baseUrl.replace(/\/+$/, '') + path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ManagerError(res.status, e?.code ?? 'http_error', e?.message ?? text.slice(0, 200));
    }
    return json as T;
  }

  register(profile: AgentRegistration, registrationKey?: string): Promise<RegistrationResult> {
    return this.call(
      'POST',
      '/v1/agents',
      profile,
      registrationKey ? { 'x-registration-key': registrationKey } : {},
    );
  }

  heartbeat(agentId: string, running: number) {
    return this.call('POST', `/v1/agents/${agentId}/heartbeat`, { running });
  }

  deregister(agentId: string) {
    return this.call('DELETE', `/v1/agents/${agentId}`);
  }

  /** A new token for the agent; the caller starts using it (the old one is dead). */
  rotateToken(agentId: string): Promise<NewToken> {
    return this.call('POST', `/v1/agents/${agentId}/token`);
  }

  /**
   * Submits a task with the agent's token: a subtask of an award it holds (`parent`). With an
   * `idempotencyKey` a failed try is made again (the manager answers the first task if it was
   * stored after all); without one it is tried once, as a repeat could store it twice.
   */
  submitTask(body: TaskSubmission, idempotencyKey?: string): Promise<Task> {
    if (!idempotencyKey) return this.call('POST', '/v1/tasks', body);
    const headers = { 'idempotency-key': idempotencyKey };
    return this.retrying.execute(() => this.call('POST', '/v1/tasks', body, headers));
  }

  /**
   * A task this agent submitted; with `waitMs`, as soon as it has ended (long-poll). A failed
   * read is made again (a manager restarting or a database failing over), until `signal` aborts.
   */
  getTask(taskId: string, waitMs = 0, signal?: AbortSignal): Promise<Task> {
    return this.retrying.execute(() => {
      const timeout = AbortSignal.timeout(waitMs + 10_000);
      return this.call(
        'GET',
        `/v1/tasks/${taskId}?waitMs=${waitMs}`,
        undefined,
        {},
        signal ? AbortSignal.any([signal, timeout]) : timeout,
      );
    }, signal);
  }

  cancelTask(taskId: string): Promise<Task> {
    return this.call('POST', `/v1/tasks/${taskId}/cancel`);
  }

  bid(taskId: string, bid: DeferredBid) {
    return this.call('POST', `/v1/tasks/${taskId}/bids`, bid);
  }

  /** Reports a result, retried with backoff through manager restarts; 4xx answers are final. */
  report(taskId: string, report: ResultReport) {
    return this.retrying.execute(() => this.call('POST', `/v1/tasks/${taskId}/result`, report));
  }

  /** Claims queued tasks; with `waitMs` the manager holds the request until one is queued. */
  claim(
    req: Partial<ClaimRequest> & { capabilities: string[]; waitMs?: number },
    signal?: AbortSignal,
  ): Promise<ClaimResponse> {
    const timeout = AbortSignal.timeout((req.waitMs ?? 0) + 10_000);
    return this.call(
      'POST',
      '/v1/queue/claim',
      req,
      {},
      signal ? AbortSignal.any([signal, timeout]) : timeout,
    );
  }
}
