import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startManager, type TestManager } from './support/harness.ts';

/**
 * Every route under random and adversarial input: bodies of any shape (deep, huge, NULs, lone
 * surrogates, wrong types), bad ids, odd query strings and headers. The manager answers only
 * 2xx or 4xx with an error code, and a 4xx changes nothing stored. Fixed seed and bounded runs
 * here; FUZZ_RUNS=N for more.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

let m: TestManager;
let agent: { id: string; token: string };
let taskId: string;
beforeAll(async () => {
  // No re-auctions or sweeps that write on their own while a snapshot is compared.
  m = await startManager({
    REAUCTION_BASE_MS: '3600000',
    REAUCTION_CAP_MS: '3600000',
    SWEEP_INTERVAL_MS: '600000',
  });
  const reg = await m.call('POST', '/v1/agents', {
    name: 'fuzz-target',
    capabilities: [{ name: 'fuzz.cap' }],
  });
  agent = { id: reg.body.agent.id, token: reg.body.token };
  taskId = (await m.call('POST', '/v1/tasks', { capability: 'fuzz.cap', input: 1 })).body.id;
});
afterAll(() => m.stop());

/** Strings with what breaks naive code: NUL, lone surrogates, control and huge ones. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\u0000', '\ud800', 'x\udc00', '0000-01-01T00:00:00Z', '9'.repeat(400), ' ', ''),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    nasty,
    fc.double(),
    fc.integer(),
    fc.constantFrom(2 ** 31, -(2 ** 53), 1e308, null, true),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(nasty, tie('value'), { maxKeys: 4 }),
  ),
})).value;
/**
 * Percent-encodes any string, lone surrogates too (encodeURIComponent throws on them): those go
 * as the bytes of their WTF-8 form, which no UTF-8 decoder accepts.
 */
const pct = (s: string) =>
  s.replace(/[\s\S]/gu, (ch) => {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0xd800 || c > 0xdfff || ch.length > 1) return encodeURIComponent(ch);
    return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
      .map((b) => `%${b.toString(16).toUpperCase()}`)
      .join('');
  });
const id = fc.oneof(fc.uuid(), nasty.map(pct), fc.constant('00000000-0000-0000-0000-000000000000'));
/** A body near a valid one (so validation goes deep), or anything at all. */
const bodyNear = (valid: Record<string, unknown>) =>
  fc.oneof(
    json,
    fc.record(Object.fromEntries(Object.keys(valid).map((k) => [k, json])), { requiredKeys: [] }),
    fc.tuple(fc.constantFrom(...Object.keys(valid)), json).map(([k, v]) => ({ ...valid, [k]: v })),
    fc.constant(`${'['.repeat(5000)}${']'.repeat(5000)}`),
  );

type Call = { method: string; path: string; body?: unknown; auth?: boolean };
const calls: fc.Arbitrary<Call> = fc.oneof(
  bodyNear({
    capability: 'fuzz.cap',
    input: 1,
    deadline: '2030-01-01T00:00:00Z',
    budget: 1,
    weights: {},
  }).map((body) => ({ method: 'POST', path: '/v1/tasks', body })),
  bodyNear({
    name: 'n',
    capabilities: [{ name: 'a.b' }],
    endpoint: 'http://127.0.0.1:1',
    description: 'd',
  }).map((body) => ({ method: 'POST', path: '/v1/agents', body })),
  bodyNear({ running: 1 }).map((body) => ({
    method: 'POST',
    path: `/v1/agents/${agent.id}/heartbeat`,
    body,
    auth: true,
  })),
  fc
    .tuple(id, bodyNear({ type: 'propose', cost: 1, etaMs: 1, round: 1 }))
    .map(([t, body]) => ({ method: 'POST', path: `/v1/tasks/${t}/bids`, body, auth: true })),
  fc
    .tuple(
      id,
      bodyNear({ awardId: '00000000-0000-0000-0000-000000000000', type: 'inform-result', output: 1 }),
    )
    .map(([t, body]) => ({ method: 'POST', path: `/v1/tasks/${t}/result`, body, auth: true })),
  bodyNear({ capabilities: ['fuzz.other'], limit: 1, leaseMs: 1000 }).map((body) => ({
    method: 'POST',
    path: '/v1/queue/claim',
    body,
    auth: true,
  })),
  fc.tuple(id, nasty).map(([t, q]) => ({ method: 'GET', path: `/v1/tasks/${t}?waitMs=${pct(q)}` })),
  fc.tuple(nasty, nasty, nasty).map(([s, c, cur]) => ({
    method: 'GET',
    path: `/v1/tasks?state=${pct(s)}&capability=${pct(c)}&cursor=${pct(cur)}`,
  })),
  fc.tuple(id, nasty).map(([a, q]) => ({ method: 'GET', path: `/v1/agents/${a}?x=${pct(q)}` })),
  id.map((t) => ({ method: 'GET', path: `/v1/tasks/${t}/events?after=${t}` })),
  id.map((t) => ({ method: 'GET', path: `/v1/tasks/${t}/bids` })),
  id.map((t) => ({ method: 'POST', path: `/v1/tasks/${t}/retry` })),
  id.map((t) => ({ method: 'POST', path: `/v1/tasks/${t === 'x' ? taskId : t}/cancel`, body: {} })),
  id.map((a) => ({ method: 'DELETE', path: `/v1/agents/${a}`, auth: true })),
  // A2A JSON-RPC: a refusal is a 200 carrying an error, and it too must change nothing.
  fc
    .tuple(
      fc.constantFrom('SendMessage', 'GetTask', 'CancelTask', 'SubscribeToTask', 'ListTasks'),
      id,
      bodyNear({
        message: {
          messageId: 'm',
          role: 'ROLE_USER',
          parts: [{ data: 1 }],
          metadata: { capability: 'fuzz.cap' },
        },
        configuration: { returnImmediately: true },
      }),
    )
    .map(([method, t, params]) => ({
      method: 'POST',
      path: '/v1/a2a',
      body: {
        jsonrpc: '2.0',
        id: 1,
        method,
        params:
          method === 'SendMessage'
            ? // Never blocking: a fuzz run must not wait 30 s on a task no one does.
              typeof params === 'object' && params && !Array.isArray(params)
              ? { ...params, configuration: { returnImmediately: true } }
              : params
            : { id: typeof params === 'object' && params && 'id' in params ? params.id : t },
      },
    })),
);

const snapshot = async () =>
  JSON.stringify(
    await m.manager.database.query(
      `select (select count(*) from tasks) t, (select count(*) from agents) a, (select count(*) from events) e,
        (select count(*) from bids) b, (select count(*) from awards) w,
        (select string_agg(state::text || attempts, ',' order by id) from tasks) s`,
      [],
    ),
  );

describe('every route under random and adversarial input', () => {
  it('answers 2xx or a 4xx with an error code, never a 5xx, and a 4xx changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(calls, async (c) => {
        // A real agent deregistered by a fuzzed DELETE would make later calls meaningless: keep ours.
        if (c.method === 'DELETE' && c.path.endsWith(agent.id)) return;
        const before = await snapshot();
        const r = await m.call(
          c.method,
          c.path,
          c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
          c.auth ? { authorization: `Bearer ${agent.token}` } : {},
        );
        expect(
          r.status,
          `${c.method} ${c.path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
        ).toBeLessThan(500);
        if (r.status >= 400 || (c.path === '/v1/a2a' && r.body?.error)) {
          const code = r.body?.error?.code;
          expect(
            typeof code === 'string' || typeof code === 'number',
            JSON.stringify(r.body).slice(0, 300),
          ).toBe(true);
          expect(await snapshot(), `${c.method} ${c.path} -> ${r.status} changed what is stored`).toBe(
            before,
          );
        }
      }),
      { numRuns: RUNS * 14, seed: SEED, endOnFailure: true },
    );
  }, 120_000);
});
