/** A failed call to the manager, with the manager's own error code and message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Tries of a call the manager answers 429 (busy, or over a rate limit), waiting Retry-After between. */
const TRIES_ON_429 = 5;

/** The manager's client API, for the command line. */
export function apiClient(baseUrl: string, apiKey?: string) {
  return async function call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    for (let tries = 1; ; tries++) {
      const res = await send(method, path, body, headers);
      if (res.status === 429 && tries < TRIES_ON_429) {
        const wait = Math.min(30, Number(res.headers.get('retry-after')) || 1);
        await res.text();
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
      return read<T>(res);
    }
  };

  async function send(method: string, path: string, body: unknown, headers: Record<string, string>) {
    try {
      return await fetch(baseUrl.replace(/\/+$/, '') + path, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(
        `cannot reach the manager at ${baseUrl}: ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
  }

  async function read<T>(res: Response): Promise<T> {
    const text = await res.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const e = json?.error;
      const details = e?.details
        ?.map((d: { field: string; message: string }) => `${d.field}: ${d.message}`)
        .join('; ');
      throw new CliError(`${res.status} ${e?.code ?? 'error'}: ${details || e?.message || text}`);
    }
    return json as T;
  }
}
