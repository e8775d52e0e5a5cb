import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestText } from '../scripts/support/http-json.ts';
import { startManager, type TestManager } from './support/harness.ts';

const task = { capability: 'text.summarize', input: { text: 'x' } };

describe('bad input', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({ BODY_LIMIT_BYTES: '2048' });
  });
  afterAll(() => m.stop());

  const count = async () => (await m.call('GET', '/v1/tasks?limit=200')).body.items.length;

  it('answers a body over the limit with Connection: close, so a keep-alive client can go on', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: string) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = http.request(
          `${m.url}/v1/tasks`,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const big = await post(JSON.stringify({ ...task, input: 'x'.repeat(50_000) }));
      expect(big).toEqual({ status: 413, connection: 'close' });
      // The same client's next request: on the closed socket it failed with "other side closed".
      const next = await post(JSON.stringify(task));
      expect(next.status).toBe(202);
    } finally {
      agent.destroy();
    }
  });

  it.each([
    ['malformed JSON', '{"capability": ', {}, 400, 'malformed_json', undefined],
    [
      'wrong content type',
      'capability=x',
      { 'content-type': 'text/plain' },
      415,
      'unsupported_media_type',
      undefined,
    ],
    [
      'form body',
      'a=b',
      { 'content-type': 'application/x-www-form-urlencoded' },
      415,
      'unsupported_media_type',
      undefined,
    ],
    [
      'body over the limit',
      JSON.stringify({ ...task, input: 'x'.repeat(5000) }),
      {},
      413,
      'body_too_large',
      undefined,
    ],
    ['missing capability', { input: 1 }, {}, 422, 'invalid_request', 'capability'],
    ['missing input', { capability: 'a.b' }, {}, 422, 'invalid_request', 'input'],
    ['bad capability name', { ...task, capability: 'UPPER' }, {}, 422, 'invalid_request', 'capability'],
    ['negative budget', { ...task, budget: -1 }, {}, 422, 'invalid_request', 'budget'],
    ['deadline not a date', { ...task, deadline: 'tomorrow' }, {}, 422, 'invalid_request', 'deadline'],
    ['bid window too short', { ...task, bidWindowMs: 1 }, {}, 422, 'invalid_request', 'bidWindowMs'],
    ['fractional attempts', { ...task, maxAttempts: 1.5 }, {}, 422, 'invalid_request', 'maxAttempts'],
    [
      'all weights zero',
      { ...task, weights: { cost: 0, time: 0, reputation: 0 } },
      {},
      422,
      'invalid_request',
      'weights',
    ],
    [
      'callback not http',
      { ...task, callbackUrl: 'file:///etc/passwd' },
      {},
      422,
      'invalid_request',
      'callbackUrl',
    ],
    [
      'callback on port 0',
      { ...task, callbackUrl: 'http://127.0.0.1:0/done' },
      {},
      422,
      'invalid_request',
      'callbackUrl',
    ],
    ['body is an array', [1, 2], {}, 422, 'invalid_request', 'json'],
    ['body is null', 'null', {}, 422, 'invalid_request', 'json'],
  ] as const)(
    'answers %s with %i naming the field, and stores nothing',
    async (_n, body, headers, status, code, field) => {
      const before = await count();
      const res = await m.call('POST', '/v1/tasks', body, { 'content-type': 'application/json', ...headers });
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(typeof res.body.error.message).toBe('string');
      if (field) expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(await count()).toBe(before);
    },
  );

  it('answers unknown routes and methods with 404 in the error shape', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nope'],
      ['PUT', '/v1/tasks'],
      // GET / is the dashboard (or, asked for JSON, an index of links); nothing else is there.
      ['DELETE', '/'],
      ['GET', '/dashboard/nope.js'],
    ]) {
      const res = await m.call(method!, path!);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('answers bad query parameters with 422 naming them', async () => {
    const res = await m.call('GET', '/v1/tasks?limit=0&state=done');
    expect(res.status).toBe(422);
    const fields = res.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['limit', 'state']));
    expect((await m.call('GET', '/v1/tasks?cursor=xyz')).status).toBe(422);
  });

  it('rejects a wrong Idempotency-Key header', async () => {
    const res = await m.call('POST', '/v1/tasks', task, { 'idempotency-key': 'x'.repeat(300) });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe('idempotency-key');
  });
});

describe('authentication when keys are configured', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({
      API_KEYS: 'client-key-1, client-key-2',
      ADMIN_KEYS: 'operator-key-0',
      REGISTRATION_KEY: 'register-me-please',
    });
  });
  afterAll(() => m.stop());

  it('needs an API key on /v1/tasks: 401 without, 403 with a wrong one', async () => {
    const none = await m.call('POST', '/v1/tasks', task);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect((await m.call('POST', '/v1/tasks', task, { authorization: 'Bearer nope-nope' })).status).toBe(403);
    expect((await m.call('GET', '/v1/tasks', undefined, { authorization: 'Bearer nope-nope' })).status).toBe(
      403,
    );
    const ok = await m.call('POST', '/v1/tasks', task, { authorization: 'Bearer client-key-2' });
    expect(ok.status).toBe(202);
    expect((await m.call('GET', `/v1/tasks/${ok.body.id}`)).status).toBe(401);
    expect(
      (await m.call('GET', `/v1/tasks/${ok.body.id}`, undefined, { authorization: 'Bearer client-key-2' }))
        .status,
    ).toBe(200);
  });

  it('keeps each task to the key that submitted it; an admin key sees and acts on all', async () => {
    const one = { authorization: 'Bearer client-key-1' };
    const two = { authorization: 'Bearer client-key-2' };
    const admin = { authorization: 'Bearer operator-key-0' };
    const mine = await m.call('POST', '/v1/tasks', { ...task, input: 'owned' }, one);
    expect(mine.status).toBe(202);
    const id = mine.body.id as string;
    // Another client's key: as if the task did not exist, for every read and every action.
    for (const [method, path] of [
      ['GET', `/v1/tasks/${id}`],
      ['GET', `/v1/tasks/${id}/events`],
      ['GET', `/v1/tasks/${id}/bids`],
      ['POST', `/v1/tasks/${id}/cancel`],
      ['POST', `/v1/tasks/${id}/retry`],
    ] as const) {
      const r = await m.call(method, path, undefined, two);
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    const listed = (key: Record<string, string>) =>
      m
        .call('GET', '/v1/tasks?limit=100', undefined, key)
        .then((r) => r.body.items.map((t: { id: string }) => t.id));
    expect(await listed(one)).toContain(id);
    expect(await listed(two)).not.toContain(id);
    expect(await listed(admin)).toContain(id);
    // The global stream is an operator's view; a client follows its own tasks.
    expect((await m.call('GET', '/v1/events', undefined, two)).status).toBe(403);
    expect((await m.call('GET', '/v1/events', undefined, admin)).status).toBe(200);
    expect((await m.call('GET', `/v1/tasks/${id}/events`, undefined, one)).status).toBe(200);
    // The task is unchanged by the other key's attempts; the admin may cancel it.
    expect((await m.call('GET', `/v1/tasks/${id}`, undefined, one)).body.state).not.toBe('cancelled');
    expect((await m.call('POST', `/v1/tasks/${id}/cancel`, undefined, admin)).status).toBe(200);
  });

  it('keeps the registry (agents and their endpoints) and /metrics behind a key', async () => {
    const reg = await m.call(
      'POST',
      '/v1/agents',
      { name: 'reader-check', endpoint: 'http://127.0.0.1:9', capabilities: [{ name: 'x.y' }] },
      { 'x-registration-key': 'register-me-please' },
    );
    expect(reg.status).toBe(201);
    const other = await m.call(
      'POST',
      '/v1/agents',
      { name: 'reader-other', capabilities: [{ name: 'x.y' }] },
      { 'x-registration-key': 'register-me-please' },
    );
    const id = reg.body.agent.id;
    expect((await m.call('GET', '/v1/agents')).status).toBe(401);
    expect((await m.call('GET', `/v1/agents/${id}`)).status).toBe(401);
    expect((await m.call('GET', '/metrics')).status).toBe(401);
    const key = { authorization: 'Bearer client-key-1' };
    expect((await m.call('GET', '/v1/agents', undefined, key)).body.items.length).toBeGreaterThan(0);
    expect((await m.call('GET', `/v1/agents/${id}`, undefined, key)).status).toBe(200);
    expect((await m.call('GET', '/metrics', undefined, key)).status).toBe(200);
    // An agent reads its own profile with its token, and no one else's.
    const own = { authorization: `Bearer ${reg.body.token}` };
    expect((await m.call('GET', `/v1/agents/${id}`, undefined, own)).status).toBe(200);
    expect((await m.call('GET', `/v1/agents/${other.body.agent.id}`, undefined, own)).status).toBe(403);
    expect((await m.call('GET', '/v1/agents', undefined, own)).status).toBe(403);
  });

  it('scopes idempotency keys to the API key', async () => {
    const a = await m.call('POST', '/v1/tasks', task, {
      authorization: 'Bearer client-key-1',
      'idempotency-key': 'k',
    });
    const b = await m.call(
      'POST',
      '/v1/tasks',
      { ...task, input: 2 },
      { authorization: 'Bearer client-key-2', 'idempotency-key': 'k' },
    );
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('needs the registration key to register a new agent', async () => {
    const agent = { name: 'keyed', endpoint: 'http://127.0.0.1:9100', capabilities: [{ name: 'a.b' }] };
    expect((await m.call('POST', '/v1/agents', agent)).status).toBe(401);
    expect(
      (await m.call('POST', '/v1/agents', agent, { authorization: 'Bearer wrong-key-123' })).status,
    ).toBe(403);
    const ok = await m.call('POST', '/v1/agents', agent, { 'x-registration-key': 'register-me-please' });
    expect(ok.status).toBe(201);
    // Re-registration needs only the agent's own token.
    const again = await m.call('POST', '/v1/agents', agent, { authorization: `Bearer ${ok.body.token}` });
    expect(again.status).toBe(200);
    // Once deregistered, its token does not bring it back: the registration key does.
    const own = { authorization: `Bearer ${ok.body.token}` };
    expect((await m.call('DELETE', `/v1/agents/${ok.body.agent.id}`, undefined, own)).status).toBe(200);
    expect((await m.call('POST', '/v1/agents', agent, own)).status).toBe(403);
    const back = await m.call('POST', '/v1/agents', agent, { 'x-registration-key': 'register-me-please' });
    expect(back.status).toBe(201);
    expect(back.body.token).toBeTruthy();
    expect(back.body.agent.id).not.toBe(ok.body.agent.id);
  });

  it('says in its A2A card that a bearer key is needed, and its A2A endpoint needs one', async () => {
    const card = (await m.call('GET', '/.well-known/agent-card.json')).body;
    expect(card.securitySchemes.bearer.httpAuthSecurityScheme.scheme).toBe('Bearer');
    expect(card.securityRequirements).toEqual([{ schemes: { bearer: { list: [] } } }]);
    const rpc = {
      jsonrpc: '2.0',
      id: 1,
      method: 'GetTask',
      params: { id: '01900000-0000-7000-8000-000000000000' },
    };
    expect((await m.call('POST', '/v1/a2a', rpc)).status).toBe(401);
    const ok = await m.call('POST', '/v1/a2a', rpc, { authorization: 'Bearer client-key-1' });
    expect(ok.body.error.code).toBe(-32001);
  });

  it('lets an admin key revoke an agent (its token dies); a client key cannot', async () => {
    const agent = { name: 'revoked-one', endpoint: 'http://127.0.0.1:9100', capabilities: [{ name: 'a.b' }] };
    const reg = await m.call('POST', '/v1/agents', agent, { 'x-registration-key': 'register-me-please' });
    const id = reg.body.agent.id;
    const own = { authorization: `Bearer ${reg.body.token}` };
    expect(
      (await m.call('DELETE', `/v1/agents/${id}`, undefined, { authorization: 'Bearer client-key-1' }))
        .status,
    ).toBe(403);
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, own)).status).toBe(200);
    const del = await m.call('DELETE', `/v1/agents/${id}`, undefined, {
      authorization: 'Bearer operator-key-0',
    });
    expect(del.status).toBe(200);
    expect(del.body.status).toBe('deregistered');
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, own)).status).toBe(403);
  });

  it('checks credentials before the body: 401/403 come before 422', async () => {
    const bad = { capability: 'NOT VALID', input: 1, nonsense: true };
    expect((await m.call('POST', '/v1/tasks', bad)).status).toBe(401);
    expect((await m.call('POST', '/v1/tasks', bad, { authorization: 'Bearer nope-nope' })).status).toBe(403);
    expect((await m.call('POST', '/v1/tasks', bad, { authorization: 'Bearer client-key-1' })).status).toBe(
      422,
    );
    const badAgent = { name: '', capabilities: 'x' };
    expect((await m.call('POST', '/v1/agents', badAgent)).status).toBe(401);
    expect(
      (await m.call('POST', '/v1/agents', badAgent, { authorization: 'Bearer wrong-key-123' })).status,
    ).toBe(403);
    const id = '01900000-0000-7000-8000-000000000000';
    for (const path of [
      `/v1/tasks/${id}/bids`,
      `/v1/tasks/${id}/result`,
      '/v1/queue/claim',
      `/v1/agents/${id}/heartbeat`,
    ]) {
      expect((await m.call('POST', path, { garbage: [1, 2] })).status, path).toBe(401);
      expect(
        (await m.call('POST', path, { garbage: [1, 2] }, { authorization: 'Bearer cnp_forged' })).status,
        path,
      ).toBe(403);
    }
  });
});

describe('authentication when keys are off', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m.stop());

  it('needs no key and listens on loopback', async () => {
    expect(new URL(m.url).hostname).toBe('127.0.0.1');
    expect((await m.call('POST', '/v1/tasks', task)).status).toBe(202);
  });

  it('answers only loopback Host names on loopback (DNS rebinding), and its card names itself', async () => {
    // fetch sets Host itself; node:http sends the one given, as a rebound browser page would.
    const pool = new http.Agent();
    const port = new URL(m.url).port;
    const as = (host: string, method = 'GET', path = '/v1/tasks', body?: unknown) =>
      requestText(pool, method, m.url + path, body, { host });
    const rebound = await as(`attacker.example:${port}`);
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.text).error.code).toBe('host_not_allowed');
    expect((await as('attacker.example', 'POST', '/v1/tasks', task)).status).toBe(403);
    expect((await as(`localhost:${port}`)).status).toBe(200);
    const card = await as(`localhost:${port}`, 'GET', '/.well-known/agent-card.json');
    expect(JSON.parse(card.text).supportedInterfaces[0].url).toBe(`${m.url}/v1/a2a`);
    pool.destroy();
  });
});

describe('rate limits', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({
      API_KEYS: 'client-key-1,client-key-2',
      REGISTRATION_KEY: 'register-me-please',
      RATE_LIMIT_WINDOW_MS: '60000',
      RATE_LIMIT_PER_KEY: '3',
      RATE_LIMIT_PER_ADDRESS: '40',
    });
  });
  afterAll(() => m.stop());

  it('answers 429 with Retry-After per client key, per agent token and per address', async () => {
    const one = { authorization: 'Bearer client-key-1' };
    for (let i = 0; i < 3; i++) expect((await m.call('GET', '/v1/tasks', undefined, one)).status).toBe(200);
    const over = await m.call('GET', '/v1/tasks', undefined, one);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('rate_limited');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    // Nothing stored: a submission over budget creates no task.
    expect((await m.call('POST', '/v1/tasks', task, one)).status).toBe(429);
    // Another key has its own budget.
    const two = { authorization: 'Bearer client-key-2' };
    expect((await m.call('GET', '/v1/tasks', undefined, two)).status).toBe(200);
    expect((await m.call('GET', '/v1/tasks?limit=200', undefined, two)).body.items).toHaveLength(0);

    const agent = { name: 'limited', endpoint: 'http://127.0.0.1:9100', capabilities: [{ name: 'a.b' }] };
    const reg = await m.call('POST', '/v1/agents', agent, { 'x-registration-key': 'register-me-please' });
    const own = { authorization: `Bearer ${reg.body.token}` };
    const beats = [];
    // An agent's token is a credential with a budget of its own, as a key is.
    for (let i = 0; i < 4; i++)
      beats.push((await m.call('POST', `/v1/agents/${reg.body.agent.id}/heartbeat`, {}, own)).status);
    expect(beats).toEqual([200, 200, 200, 429]);
    // Invented bearer tokens are each counted, and all count against the address.
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++)
      statuses.push(
        (await m.call('GET', '/v1/tasks', undefined, { authorization: `Bearer made-up-${i}` })).status,
      );
    expect(statuses).toContain(429);
    expect((await m.call('GET', '/healthz')).status).toBe(200);
  });
});
