import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, json } from './support/agents.ts';
import { eventually, startManager, type TestManager } from './support/harness.ts';

type Operation = { responses: Record<string, { content?: Record<string, { schema: unknown }> }> };
type Doc = { paths: Record<string, Record<string, Operation>>; components: Record<string, unknown> };

/**
 * Drives every route of /openapi.json over real HTTP and checks each answer against the
 * document: its status is one the operation lists, and its JSON body fits that status's schema.
 */
describe('the OpenAPI document is true to the routes', () => {
  let m: TestManager;
  let fleet: Fleet;
  let doc: Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const validators = new Map<string, ValidateFunction>();
  const seen = new Set<string>();
  const problems: string[] = [];

  beforeAll(async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
    doc = (await m.call('GET', '/openapi.json')).body;
    // Component refs resolve against a schema holding the document's components.
    ajv.addSchema({ $id: 'doc', components: doc.components });
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  /** One real call, checked against the operation `method template`. */
  async function call(
    method: string,
    template: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    on: TestManager = m,
  ) {
    const res = await on.call(method, path, body, headers);
    const op = doc.paths[template]?.[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${template} is not in the document`);
    seen.add(`${method} ${template}`);
    const documented = op.responses[String(res.status)];
    if (!documented) {
      problems.push(`${method} ${path}: status ${res.status} is not documented`);
      return res;
    }
    const schema = documented.content?.['application/json']?.schema;
    if (schema && res.headers.get('content-type')?.includes('application/json')) {
      const key = `${method} ${template} ${res.status}`;
      let validate = validators.get(key);
      if (!validate) {
        validate = ajv.compile(
          JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')),
        );
        validators.set(key, validate);
      }
      if (!validate(res.body))
        problems.push(
          `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(res.body).slice(0, 300)}`,
        );
    }
    return res;
  }

  it('answers every operation as documented', async () => {
    let replyBy: Date | undefined;
    const raw = await fleet.raw('openapi-agent', 'openapi.work', (req, res) => {
      if (req.path === '/cfp') {
        replyBy = new Date(req.body.replyBy);
        return json(res, { type: 'deferred' });
      }
      return req.path === '/award' ? json(res, { type: 'agree' }) : json(res, {});
    });
    const agentAuth = { authorization: `Bearer ${raw.token}` };
    const reg = await call('POST', '/v1/agents', '/v1/agents', {
      name: 'openapi-2',
      endpoint: raw.url,
      capabilities: [{ name: 'openapi.other' }],
    });
    expect(reg.status).toBe(201);
    const own = { authorization: `Bearer ${reg.body.token}` };
    await call(
      'POST',
      '/v1/agents',
      '/v1/agents',
      { name: 'openapi-2', endpoint: raw.url, capabilities: [{ name: 'openapi.other' }] },
      own,
    );
    await call('POST', '/v1/agents', '/v1/agents', { name: '', capabilities: 'none' });
    await call('GET', '/v1/agents', '/v1/agents?limit=2');
    await call('GET', '/v1/agents/{id}', `/v1/agents/${raw.id}`);
    await call('GET', '/v1/capabilities', '/v1/capabilities');
    await call('GET', '/v1/agents/{id}', '/v1/agents/01900000-0000-7000-8000-000000000000');
    await call(
      'POST',
      '/v1/agents/{id}/heartbeat',
      `/v1/agents/${reg.body.agent.id}/heartbeat`,
      { running: 1 },
      own,
    );
    const rotated = await call(
      'POST',
      '/v1/agents/{id}/token',
      `/v1/agents/${reg.body.agent.id}/token`,
      undefined,
      own,
    );

    // A round with a deferred bid, an award and a result.
    const sub = await call(
      'POST',
      '/v1/tasks',
      '/v1/tasks',
      { capability: 'openapi.work', input: { n: 1 }, bidWindowMs: 1500 },
      { 'idempotency-key': 'oa-1' },
    );
    expect(sub.status).toBe(202);
    await call(
      'POST',
      '/v1/tasks',
      '/v1/tasks',
      { capability: 'openapi.work', input: { n: 1 }, bidWindowMs: 1500 },
      { 'idempotency-key': 'oa-1' },
    );
    await call('POST', '/v1/tasks', '/v1/tasks', { capability: 'NOT VALID' });
    await eventually(() => replyBy);
    const bid = await call(
      'POST',
      '/v1/tasks/{id}/bids',
      `/v1/tasks/${sub.body.id}/bids`,
      { round: 1, type: 'propose', cost: 2, etaMs: 100 },
      agentAuth,
    );
    expect(bid.status).toBe(202);
    const awarded = await eventually(async () => {
      const t = await call('GET', '/v1/tasks/{id}', `/v1/tasks/${sub.body.id}`);
      return t.body.award ? t.body : null;
    });
    const result = await call(
      'POST',
      '/v1/tasks/{id}/result',
      `/v1/tasks/${sub.body.id}/result`,
      { awardId: awarded.award.id, type: 'inform-result', output: { ok: true } },
      agentAuth,
    );
    expect(result.status).toBe(200);
    await call(
      'POST',
      '/v1/tasks/{id}/result',
      `/v1/tasks/${sub.body.id}/result`,
      { awardId: awarded.award.id, type: 'inform-result' },
      agentAuth,
    );
    await call('GET', '/v1/tasks/{id}', `/v1/tasks/${sub.body.id}?waitMs=100`);
    await call('GET', '/v1/tasks', '/v1/tasks?limit=5&state=completed');
    await call('GET', '/v1/tasks/{id}/events', `/v1/tasks/${sub.body.id}/events`);
    await call('GET', '/v1/tasks/{id}/bids', `/v1/tasks/${sub.body.id}/bids`);
    await call('GET', '/v1/events', '/v1/events?limit=20');
    await call('POST', '/v1/tasks/{id}/cancel', `/v1/tasks/${sub.body.id}/cancel`); // 409: it ended

    // A task failed by its agent, then retried; one cancelled while queued.
    const failing = await call('POST', '/v1/tasks', '/v1/tasks', {
      capability: 'openapi.work',
      input: {},
      maxAttempts: 1,
      bidWindowMs: 800,
    });
    await eventually(() => replyBy && replyBy.getTime() > Date.now() - 10_000);
    await call(
      'POST',
      '/v1/tasks/{id}/bids',
      `/v1/tasks/${failing.body.id}/bids`,
      { round: 1, type: 'propose', cost: 1, etaMs: 10 },
      agentAuth,
    );
    const held = await eventually(
      async () => (await m.call('GET', `/v1/tasks/${failing.body.id}`)).body.award,
    );
    await call(
      'POST',
      '/v1/tasks/{id}/result',
      `/v1/tasks/${failing.body.id}/result`,
      { awardId: held.id, type: 'failure', reason: 'no' },
      agentAuth,
    );
    await eventually(
      async () => (await m.call('GET', `/v1/tasks/${failing.body.id}`)).body.state === 'failed',
    );
    expect((await call('POST', '/v1/tasks/{id}/retry', `/v1/tasks/${failing.body.id}/retry`)).status).toBe(
      200,
    );
    const queued = await call('POST', '/v1/tasks', '/v1/tasks', { capability: 'openapi.nobody', input: {} });
    expect((await call('POST', '/v1/tasks/{id}/cancel', `/v1/tasks/${queued.body.id}/cancel`)).status).toBe(
      200,
    );
    await call('POST', '/v1/tasks/{id}/retry', `/v1/tasks/${queued.body.id}/retry`); // 409

    // The queue, and deregistration.
    const puller = await call('POST', '/v1/agents', '/v1/agents', {
      name: 'openapi-puller',
      capabilities: [{ name: 'openapi.pull' }],
    });
    await m.call('POST', '/v1/tasks', { capability: 'openapi.pull', input: {} });
    const claim = await call(
      'POST',
      '/v1/queue/claim',
      '/v1/queue/claim',
      { capabilities: ['openapi.pull'] },
      { authorization: `Bearer ${puller.body.token}` },
    );
    expect(claim.body.tasks).toHaveLength(1);
    await call('POST', '/v1/queue/claim', '/v1/queue/claim', { capabilities: ['openapi.pull'] });
    const now = { authorization: `Bearer ${rotated.body.token}` };
    expect(
      (await call('DELETE', '/v1/agents/{id}', `/v1/agents/${reg.body.agent.id}`, undefined, now)).status,
    ).toBe(200);

    // Accounts, on a manager that keeps them: a credit, limits, statements, a hold refused (402).
    const books = await startManager({ ACCOUNTS: 'true' });
    try {
      const me = await call('GET', '/v1/accounts/me', '/v1/accounts/me', undefined, {}, books);
      const id = me.body.id as string;
      const credit = { kind: 'credit', amount: 50, memo: 'openapi' };
      await call('POST', '/v1/accounts/{id}/movements', `/v1/accounts/${id}/movements`, credit, {}, books);
      await call('PATCH', '/v1/accounts/{id}', `/v1/accounts/${id}`, { maxPerTask: 40 }, {}, books);
      const paid = { capability: 'openapi.nobody', input: {}, budget: 30 };
      expect((await call('POST', '/v1/tasks', '/v1/tasks', paid, {}, books)).body.settlement).toMatchObject({
        held: 30,
      });
      expect((await call('POST', '/v1/tasks', '/v1/tasks', { ...paid, budget: 35 }, {}, books)).status).toBe(
        402,
      );
      await call('GET', '/v1/accounts', '/v1/accounts?limit=5', undefined, {}, books);
      await call('GET', '/v1/accounts/{id}', `/v1/accounts/${id}`, undefined, {}, books);
      await call(
        'GET',
        '/v1/accounts/{id}/entries',
        `/v1/accounts/${id}/entries?limit=1`,
        undefined,
        {},
        books,
      );
      await call('GET', '/v1/accounts/me/entries', '/v1/accounts/me/entries', undefined, {}, books);
    } finally {
      await books.stop();
    }

    expect(problems).toEqual([]);
    const every = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((meth) => `${meth.toUpperCase()} ${p}`),
    );
    expect(every.filter((op) => !seen.has(op))).toEqual([]);
  }, 60_000);

  it('describes the calls the manager makes to an agent as webhooks, true to what it sends and takes', async () => {
    const hooks = (doc as unknown as { webhooks: Record<string, { post: WebhookOp }> }).webhooks;
    expect(Object.keys(hooks).sort()).toEqual(['/award', '/cancel', '/cfp', '/reject']);
    const schemaOf = (s: unknown) =>
      ajv.compile(JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"doc#/components/')));
    const answers: Record<string, unknown> = {
      '/cfp': { type: 'propose', cost: 3, etaMs: 40 },
      '/award': { type: 'inform-result', output: { ok: true } },
    };
    // A hand-written agent: what the manager sends it is checked against the webhooks, and what
    // it answers against their responses.
    const agent = await fleet.raw('webhook-agent', 'webhook.work', (req, res) =>
      json(res, answers[req.path] ?? {}),
    );
    await fleet.raw('webhook-loser', 'webhook.work', (req, res) =>
      json(res, req.path === '/cfp' ? { type: 'propose', cost: 9, etaMs: 40 } : {}),
    );
    const t = await m.call('POST', '/v1/tasks', { capability: 'webhook.work', input: { n: 1 } });
    await eventually(async () => (await m.call('GET', `/v1/tasks/${t.body.id}`)).body.state === 'completed');
    const sent = [...agent.requests];
    for (const path of ['/cfp', '/award']) {
      const op = hooks[path]!.post;
      const req = sent.find((r) => r.path === path)!;
      const body = schemaOf(op.requestBody.content['application/json']!.schema);
      expect(body(req.body), `${path}: ${ajv.errorsText(body.errors)}`).toBe(true);
      const header = op.parameters.find((p) => p.name === 'x-cnp-signature')!;
      expect(req.headers['x-cnp-signature']).toMatch(new RegExp(header.schema.pattern));
      const reply = schemaOf(op.responses['200']!.content!['application/json']!.schema);
      expect(reply(answers[path]), `${path} answer: ${ajv.errorsText(reply.errors)}`).toBe(true);
    }
  }, 60_000);
});

type WebhookOp = {
  parameters: { name: string; schema: { pattern: string } }[];
  requestBody: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};
