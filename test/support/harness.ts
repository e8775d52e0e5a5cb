import { loadConfig } from '../../src/config.ts';
import { createManager, type Manager } from '../../src/manager.ts';
import { isEnded } from '../../src/protocol/states.ts';
import { listen } from '../../src/server.ts';
import { TUNING, type Tuning } from '../../src/tuning.ts';
import { eventually, sleep } from './eventually.ts';
import { createTestDatabase } from './test-database.ts';

export { eventually, sleep };

export type Reply<T = any> = { status: number; body: T; headers: Headers };

/** A small JSON client over real HTTP. */
export function client(baseUrl: string, defaults: Record<string, string> = {}) {
  return async function call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const res = await fetch(baseUrl + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...defaults,
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
}

export type TestManager = {
  url: string;
  manager: Manager;
  call: ReturnType<typeof client>;
  env: Record<string, string>;
  stop(): Promise<void>;
};

/**
 * Starts a real manager on a loopback port with its own database; `stop` also drops that
 * database. `env` holds settings, and may name constants of src/tuning.ts too (a short hold, a
 * tiny queue): those are passed to the manager in code, as no environment sets them.
 */
export async function startManager(
  env: Record<string, string> = {},
  db?: Awaited<ReturnType<typeof createTestDatabase>>,
): Promise<TestManager & { db: Awaited<ReturnType<typeof createTestDatabase>> }> {
  const database = db ?? (await createTestDatabase());
  const fullEnv = {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    SWEEP_INTERVAL_MS: '50',
    ...database.env,
    ...env,
  };
  const tuning = Object.fromEntries(
    Object.entries(fullEnv)
      .filter(([k]) => k in TUNING)
      .map(([k, v]) => [k, typeof TUNING[k as keyof Tuning] === 'number' ? Number(v) : v]),
  );
  const running = await listen(await createManager({ ...loadConfig(fullEnv), ...tuning }));
  const { manager, url } = running;
  return {
    url,
    manager,
    env: fullEnv,
    db: database,
    call: client(url),
    async stop() {
      await running.stop();
      if (!db) await database.drop();
    },
  };
}

/** Submits a task and expects it accepted (202); resolves to its id. */
export async function submitTask(
  m: { call: ReturnType<typeof client> },
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<string> {
  const r = await m.call('POST', '/v1/tasks', body, headers);
  if (r.status !== 202) throw new Error(`submission answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

/** An agent's claim on the work queue with its token (the raw reply). */
export function claimQueued(
  m: { call: ReturnType<typeof client> },
  token: string,
  body: Record<string, unknown>,
) {
  return m.call('POST', '/v1/queue/claim', body, { authorization: `Bearer ${token}` });
}

/**
 * Waits until the manager has finished `n` more sweeps: every backstop (redelivery, expiry,
 * re-auction) has had that many chances to act. For checks that something does not happen.
 */
export async function sweeps(m: { manager: Manager }, n: number, ms = 10_000): Promise<void> {
  const target = m.manager.sweeper.completed + n;
  await eventually(() => m.manager.sweeper.completed >= target, ms, `${n} sweeps`);
}

/**
 * The task once it has ended: long-polls (`GET /v1/tasks/{id}?waitMs=`) until it has, so a slow
 * machine only waits longer, and after `ms` answers it as it stands (or the error body).
 */
export async function waitEnd(
  target: { call: ReturnType<typeof client> },
  id: string,
  ms = 30_000,
): Promise<any> {
  const until = Date.now() + ms;
  for (;;) {
    const waitMs = Math.max(1, Math.min(30_000, until - Date.now()));
    const r = await target.call('GET', `/v1/tasks/${id}?waitMs=${waitMs}`);
    if (r.status !== 200 || isEnded(r.body.state) || Date.now() >= until) return r.body;
  }
}
