import { EventSourceParserStream } from 'eventsource-parser/stream';

/** An answer of the manager's HTTP API: its status and JSON body. */
export type ApiReply = { status: number; body: unknown };

/**
 * The manager's HTTP API as the MCP tools use it: the same `/v1` calls, with the MCP client's
 * own credentials, so the same keys, ownership rules and limits apply. `/mcp` in the manager
 * reaches its own listener on loopback; `cnet mcp` reaches a manager by URL.
 */
export class MarketApi {
  constructor(
    private readonly base: string,
    private readonly authorization: string | undefined,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      accept: 'application/json',
      ...(this.authorization ? { authorization: this.authorization } : {}),
      ...extra,
    };
  }

  /**
   * One call; a 503 (the database restarting) is tried once more after its Retry-After when the
   * call is safe to repeat (a read, or a write with an Idempotency-Key).
   */
  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiReply> {
    const first = await this.once(method, path, body, headers);
    const repeatable = method === 'GET' || 'idempotency-key' in headers;
    if (first.reply.status !== 503 || !repeatable) return first.reply;
    await new Promise((r) => setTimeout(r, Math.min(5, Math.max(1, first.retryAfterS)) * 1000));
    return (await this.once(method, path, body, headers)).reply;
  }

  private async once(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ reply: ApiReply; retryAfterS: number }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: this.headers(
        body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { error: { code: `http_${res.status}`, message: text.slice(0, 300) } };
    }
    return {
      reply: { status: res.status, body: json },
      retryAfterS: Number(res.headers.get('retry-after') ?? 1) || 1,
    };
  }

  /** The task's audit trail as it happens (server-sent events), until the task ends or `signal` aborts. */
  async *events(
    taskId: string,
    signal: AbortSignal,
  ): AsyncGenerator<{ type: string; data: Record<string, unknown>; agentId?: string | null }> {
    const res = await fetch(`${this.base}/v1/tasks/${encodeURIComponent(taskId)}/events`, {
      headers: this.headers({ accept: 'text/event-stream' }),
      signal,
    });
    if (!res.ok || !res.body) return;
    const stream = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    for await (const ev of stream) {
      try {
        yield JSON.parse(ev.data);
      } catch {
        // A comment or keep-alive: nothing to report.
      }
    }
  }
}
