import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder, json } from './support/agents.ts';
import { client, eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { parsePrometheus } from './support/prometheus-text.ts';

/**
 * What one ordinary participant (a client with a key, an agent, an outsider) can cost the
 * manager and everyone else: each finding of the abuse audit (issue 22), black-box.
 */
describe('safe under abuse', () => {
  let m: TestManager | undefined;
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await fleet?.stopAll();
    await m?.stop();
    m = undefined;
    fleet = undefined;
  });

  const memoryBytes = async (t: TestManager, structure: string) => {
    const text = (await t.call('GET', '/metrics')).body as string;
    const sample = parsePrometheus(text).find(
      (s) => s.name === 'cnp_memory_bytes' && s.labels.structure === structure,
    );
    if (!sample) throw new Error(`no cnp_memory_bytes{structure="${structure}"}`);
    return sample.value;
  };

  it('keeps ended tasks in memory bounded in bytes and lets them go on time (1 MB inputs, cancelled)', async () => {
    m = await startManager();
    const big = 'x'.repeat(900_000);
    for (let i = 0; i < 30; i++) {
      const { body: task } = await m.call('POST', '/v1/tasks', {
        capability: 'nobody.offers',
        input: { big },
      });
      expect((await m.call('POST', `/v1/tasks/${task.id}/cancel`)).status).toBe(200);
    }
    // A task this large is never kept: a long-poll on it reads it again.
    expect(await memoryBytes(m, 'ended_views')).toBeLessThan(1024 * 1024);
    for (let i = 0; i < 30; i++) {
      const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.offers', input: { i } });
      await m.call('POST', `/v1/tasks/${task.id}/cancel`);
    }
    expect(await memoryBytes(m, 'ended_views')).toBeGreaterThan(0);
    // With nothing read or written, the views still go once their time is up.
    await eventually(async () => (await memoryBytes(m!, 'ended_views')) === 0, 15_000, 'views expired');
  });

  it('checks credentials before reading the body, on every route that takes one', async () => {
    m = await startManager({ API_KEYS: 'client-key-abuse', REGISTRATION_KEY: 'register-key-abuse' });
    const doc = (await m.call('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const paths = Object.entries(doc.paths)
      .filter(([, ops]) => 'post' in ops)
      .map(([p]) => p.replace('{id}', '0190b2d4-0000-7000-8000-000000000000'));
    paths.push('/v1/a2a');
    expect(paths.length).toBeGreaterThanOrEqual(9);
    const { port, hostname } = new URL(m.url);
    for (const path of paths) {
      // A megabyte announced and never sent: only a refusal before the body can answer at all.
      const status = await new Promise<number>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () =>
          socket.write(
            `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{`,
          ),
        );
        let head = '';
        socket.setTimeout(5000, () => {
          socket.destroy();
          reject(new Error(`${path}: no answer before the body was sent`));
        });
        socket.on('data', (d) => {
          head += d.toString('latin1');
          const m = head.match(/^HTTP\/1\.1 (\d{3})/);
          if (m) {
            socket.destroy();
            resolve(Number(m[1]));
          }
        });
        socket.on('error', reject);
      });
      expect([401, 403], path).toContain(status);
    }
  });

  it('counts held requests per verified client, not per made-up bearer (keys off)', async () => {
    m = await startManager({ MAX_LONG_POLLS_PER_CLIENT: '2' });
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.offers', input: {} });
    const polls = new AbortController();
    const held = [1, 2].map((i) =>
      fetch(`${m!.url}/v1/tasks/${task.id}?waitMs=30000`, {
        headers: { authorization: `Bearer made-up-${i}` },
        signal: polls.signal,
      }).catch(() => null),
    );
    try {
      // Once the two above are held (a probe that is a long-poll itself would race them for a slot):
      await eventually(() => m!.manager.held.polls.total === 2, 10_000, 'both long-polls held');
      const third = await m!.call('GET', `/v1/tasks/${task.id}?waitMs=200`, undefined, {
        authorization: 'Bearer made-up-3',
      });
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('too_many_open');
    } finally {
      polls.abort();
      await Promise.all(held);
    }
  });

  it('holds A2A to the same caps as REST: a blocking send is a long-poll, a refused stream stores nothing', async () => {
    m = await startManager({
      API_KEYS: 'client-key-a2a',
      MAX_LONG_POLLS_PER_CLIENT: '2',
      MAX_STREAMS_PER_CLIENT: '1',
    });
    const auth = { authorization: 'Bearer client-key-a2a' };
    const send = (method: string, n: number, signal?: AbortSignal) =>
      fetch(`${m!.url}/v1/a2a`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        signal,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: n,
          method,
          params: {
            message: {
              messageId: `m-${method}-${n}`,
              role: 'ROLE_USER',
              parts: [{ data: { n } }],
              metadata: { capability: 'nobody.offers' },
            },
          },
        }),
      });
    const stored = async () =>
      ((await m!.call('GET', '/v1/tasks?limit=100', undefined, auth)).body.items as unknown[]).length;
    const stop = new AbortController();
    const blocking = [1, 2].map((n) => send('SendMessage', n, stop.signal).catch(() => null));
    try {
      await eventually(async () => (await stored()) === 2, 10_000, 'two blocking sends stored');
      const third = await send('SendMessage', 3);
      expect(third.status).toBe(429);
      expect(await stored()).toBe(2);
      const stream = await send('SendStreamingMessage', 4, stop.signal);
      expect(stream.status).toBe(200);
      expect(await stored()).toBe(3);
      const refused = await send('SendStreamingMessage', 5);
      expect(refused.status).toBe(429);
      expect(await stored()).toBe(3);
    } finally {
      stop.abort();
      await Promise.all(blocking);
    }
  });

  it('answers A2A ids that are not UUIDs as not found and over-long message ids as invalid params, never 500', async () => {
    m = await startManager();
    const rpc = client(m.url);
    const get = await rpc('POST', '/v1/a2a', {
      jsonrpc: '2.0',
      id: 1,
      method: 'GetTask',
      params: { id: '-'.repeat(36) },
    });
    expect(get.status).toBe(200);
    expect(get.body.error.code).toBe(-32001);
    const long = await rpc('POST', '/v1/a2a', {
      jsonrpc: '2.0',
      id: 2,
      method: 'SendMessage',
      params: {
        configuration: { returnImmediately: true },
        message: {
          messageId: 'm'.repeat(4000),
          role: 'ROLE_USER',
          parts: [{ data: {} }],
          metadata: { capability: 'nobody.offers' },
        },
      },
    });
    expect(long.status).toBe(200);
    expect(long.body.error.code).toBe(-32602);
    expect(JSON.stringify(long.body.error.data)).toContain('message.messageId');
    expect(((await m.call('GET', '/v1/tasks')).body.items as unknown[]).length).toBe(0);
  });

  it('bounds what dependencies carry to agents: 422 at submission, a clear failure at release', async () => {
    m = await startManager({ DEPENDENCY_OUTPUT_MAX_BYTES: '100000' });
    fleet = new Fleet(m.url);
    // The big outputs wait for the dependant to be stored: had they all completed first, its
    // submission would be refused at once (the second half of this test), not released.
    let stored!: () => void;
    const dependantStored = new Promise<void>((resolve) => {
      stored = resolve;
    });
    await fleet.start({
      ...fixedBidder('echo-big', 1, 50),
      capabilities: ['text.pad'],
      execute: async (input: { n: number }) => {
        if (input.n > 1) await dependantStored;
        return { padded: 'x'.repeat(input.n) };
      },
    });
    const submit = (body: object) => m!.call('POST', '/v1/tasks', body);
    const done = async (id: string) => (await m!.call('GET', `/v1/tasks/${id}?waitMs=15000`)).body;
    const big = [];
    for (let i = 0; i < 3; i++)
      big.push((await submit({ capability: 'text.pad', input: { n: 40_000 } })).body.id);
    // Submitted before its dependencies end: released, it would carry 120 kB; it fails instead.
    const submitted = await submit({ capability: 'text.pad', input: { n: 1 }, dependsOn: big });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const early = submitted.body.id;
    stored();
    for (const id of big) expect((await done(id)).state).toBe('completed');
    const failed = await done(early);
    expect(failed.state, JSON.stringify(failed)).toBe('failed');
    expect(failed.error.code).toBe('dependency_output_too_large');
    // Submitted after: refused at once, naming the field, storing nothing.
    const before = (await m.call('GET', '/v1/tasks')).body.items.length;
    const late = await submit({ capability: 'text.pad', input: { n: 1 }, dependsOn: big });
    expect(late.status).toBe(422);
    expect(late.body.error.details[0].field).toBe('dependsOn');
    expect(late.body.error.details[0].message).toMatch(/more than the 100000 a task may carry/);
    expect((await m.call('GET', '/v1/tasks')).body.items.length).toBe(before);
    // Two of them fit.
    const fits = (await submit({ capability: 'text.pad', input: { n: 1 }, dependsOn: big.slice(0, 2) })).body
      .id;
    expect((await done(fits)).state).toBe('completed');
  });

  it("never holds an agent's 413 for a body the manager chose to send against its circuit", async () => {
    m = await startManager({
      BREAKER_THRESHOLD: '2',
      REAUCTION_BASE_MS: '20',
      REAUCTION_CAP_MS: '40',
      MAX_ROUNDS: '3',
    });
    fleet = new Fleet(m.url);
    const small = await fleet.raw('small-bodies', 'text.any', (req, res) =>
      req.path === '/cfp' ? json(res, { error: 'payload too large' }, 413) : json(res, {}),
    );
    for (let i = 0; i < 3; i++) {
      const { body: task } = await m.call('POST', '/v1/tasks', {
        capability: 'text.any',
        input: { i },
        bidWindowMs: 300,
      });
      const ended = await waitEnd(m, task.id, 15000);
      expect(ended.error.code).toBe('rounds_exhausted');
      const bids = (await m.call('GET', `/v1/tasks/${task.id}/bids`)).body.items;
      expect(bids.every((b: { type: string }) => b.type === 'refuse')).toBe(true);
    }
    expect(small.count('/cfp')).toBe(9);
    const agent = (await m.call('GET', `/v1/agents/${small.id}`)).body;
    expect(agent.circuit).toBe('closed');
  });

  it('limits subcontracting: subtasks per award, their budgets within its cost, and depth', async () => {
    m = await startManager({ MAX_SUBTASKS_PER_AWARD: '3', MAX_SUBTASK_DEPTH: '1' });
    fleet = new Fleet(m.url);
    const agreeing = (cost: number) => (req: { path: string }, res: Parameters<typeof json>[0]) =>
      json(
        res,
        req.path === '/cfp'
          ? { type: 'propose', cost, etaMs: 60_000 }
          : req.path === '/award'
            ? { type: 'agree' }
            : {},
      );
    const holder = await fleet.raw('sub-holder', 'sub.root', agreeing(4));
    const second = await fleet.raw('sub-second', 'sub.level', agreeing(1));
    const awarded = async (id: string) =>
      eventually(async () => {
        const v = (await m!.call('GET', `/v1/tasks/${id}`)).body;
        return v.state === 'awarded' ? v : null;
      });
    const root = await awarded(
      (await m.call('POST', '/v1/tasks', { capability: 'sub.root', input: {} })).body.id,
    );
    const own = { authorization: `Bearer ${holder.token}` };
    const child = (body: Record<string, unknown>) =>
      m!.call(
        'POST',
        '/v1/tasks',
        { capability: 'sub.level', input: {}, parent: { taskId: root.id, awardId: root.award.id }, ...body },
        own,
      );
    const first = await child({ budget: 2 });
    expect(first.status).toBe(202);
    expect((await child({ budget: 1 })).status).toBe(202);
    const over = await child({ budget: 2 });
    expect(over.status).toBe(422);
    expect(over.body.error.details[0].field).toBe('budget');
    const rest = await child({});
    expect(rest.status).toBe(202);
    expect(rest.body.budget).toBe(1);
    const fourth = await child({ budget: 0 });
    expect(fourth.status).toBe(429);
    expect(fourth.body.error.message).toMatch(/MAX_SUBTASKS_PER_AWARD/);
    expect((await m.call('GET', `/v1/tasks/${root.id}`)).body.children).toHaveLength(3);
    // The second agent holds a subtask (level 1): it may not subcontract a level further.
    const level1 = await awarded(first.body.id);
    const deeper = await m.call(
      'POST',
      '/v1/tasks',
      { capability: 'sub.root', input: {}, parent: { taskId: level1.id, awardId: level1.award.id } },
      { authorization: `Bearer ${second.token}` },
    );
    expect(deeper.status).toBe(429);
    expect(deeper.body.error.message).toMatch(/MAX_SUBTASK_DEPTH/);
  });

  it("keeps one client's long rounds to its share of the bidding slots: another's task still runs", async () => {
    m = await startManager({
      API_KEYS: 'abuser-key-1,honest-key-1',
      MAX_CONCURRENT_ROUNDS: '4',
      ADMISSION_TARGET_LAG_MS: '0',
    });
    fleet = new Fleet(m.url);
    const abuser = { authorization: 'Bearer abuser-key-1' };
    const honest = { authorization: 'Bearer honest-key-1' };
    // An agent that never answers a cfp: each round's call waits out its whole window.
    await fleet.raw('always-hangs', 'slow.defer', (req, res) => {
      if (req.path !== '/cfp') json(res, {});
    });
    await fleet.start(fixedBidder('quick', 1, 50));
    const held: string[] = [];
    for (let i = 0; i < 8; i++)
      held.push(
        (
          await m.call(
            'POST',
            '/v1/tasks',
            { capability: 'slow.defer', input: { i }, bidWindowMs: 600_000, priority: 1000 },
            abuser,
          )
        ).body.id,
      );
    const slots = async () => {
      const text = (await m!.call('GET', '/metrics', undefined, honest)).body as string;
      return Object.fromEntries(
        parsePrometheus(text)
          .filter((x) => x.name === 'cnp_bidding_slots')
          .map((x) => [x.labels.kind, x.value]),
      );
    };
    await eventually(async () => (await slots()).running === 2, 10_000, 'the abuser holding its share');
    expect((await slots()).waiting).toBe(6);
    try {
      const { body: task } = await m.call(
        'POST',
        '/v1/tasks',
        { capability: 'math.double', input: { n: 4 } },
        honest,
      );
      const done = (await m.call('GET', `/v1/tasks/${task.id}?waitMs=15000`, undefined, honest)).body;
      expect(done.state).toBe('completed');
    } finally {
      for (const id of held) await m.call('POST', `/v1/tasks/${id}/cancel`, undefined, abuser);
    }
  });

  it('claims due auctions fair between clients: priority orders only a client its own work', async () => {
    m = await startManager({ API_KEYS: 'abuser-key-2,honest-key-2', SWEEP_INTERVAL_MS: '600000' });
    const submit = (key: string, priority: number, i: number) =>
      m!.call(
        'POST',
        '/v1/tasks',
        { capability: 'nobody.offers', input: { i }, priority },
        {
          authorization: `Bearer ${key}`,
        },
      );
    for (let i = 0; i < 40; i++) expect((await submit('abuser-key-2', 1000, i)).status).toBe(202);
    const mine = (await submit('honest-key-2', 0, 0)).body.id;
    await m.manager.database.query(`update tasks set next_auction_at = now() - interval '1 second'`, []);
    const { claimDueAuctions } = await import('../src/queue/due-auctions.ts');
    const claimed = await claimDueAuctions(m.manager.database.db, { limit: 5, leaseMs: 5000 });
    expect(claimed).toHaveLength(5);
    expect(claimed.map((t) => t.id)).toContain(mine);
  });

  it('backs off tasks no agent offers to do, ends them after MAX_ROUNDS checks, and caps a client backlog', async () => {
    m = await startManager({
      API_KEYS: 'backlog-key-1,backlog-key-2',
      MAX_ROUNDS: '4',
      REAUCTION_BASE_MS: '200',
      REAUCTION_CAP_MS: '400',
      MAX_WAITING_TASKS_PER_CLIENT: '3',
    });
    const key1 = { authorization: 'Bearer backlog-key-1' };
    const submit = (headers: Record<string, string>) =>
      m!.call('POST', '/v1/tasks', { capability: 'nobody.offers', input: {} }, headers);
    const first = (await submit(key1)).body.id;
    expect((await submit(key1)).status).toBe(202);
    expect((await submit(key1)).status).toBe(202);
    const over = await submit(key1);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('too_many_waiting');
    expect((await submit({ authorization: 'Bearer backlog-key-2' })).status).toBe(202);
    // Checked with backoff, not through a bidding slot each time, and not for ever.
    const ended = (await m.call('GET', `/v1/tasks/${first}?waitMs=20000`, undefined, key1)).body;
    expect(ended.state).toBe('failed');
    expect(ended.error.code).toBe('no_eligible_agents');
    const events = (await m.call('GET', `/v1/tasks/${first}/events`, undefined, key1)).body.items;
    expect(events.filter((e: { type: string }) => e.type === 'round.opened')).toHaveLength(0);
    // Its place in the backlog is free again.
    await eventually(async () => (await submit(key1)).status === 202, 20_000, 'room in the backlog');
  });

  it('auctions a backed-off queued task as soon as an agent that can bid on it registers', async () => {
    m = await startManager({ REAUCTION_BASE_MS: '30000', REAUCTION_CAP_MS: '60000' });
    fleet = new Fleet(m.url);
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'late.cap', input: { n: 2 } });
    expect(task.state).toBe('queued');
    await fleet.start({ ...fixedBidder('late-comer', 1, 50), capabilities: ['late.cap'] });
    const done = await waitEnd(m, task.id, 10000);
    expect(done.state).toBe('completed');
  });

  it('bounds what registrations cost: agents in all, capabilities per agent, card size, the public card', async () => {
    m = await startManager({ REGISTRATION_KEY: 'register-abuse-1', MAX_AGENTS: '3' });
    const key = { 'x-registration-key': 'register-abuse-1' };
    const caps = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => ({ name: `${prefix}.c${i}`, description: 'd'.repeat(900) }));
    const many = await m.call('POST', '/v1/agents', { name: 'wide', capabilities: caps(65, 'wide') }, key);
    expect(many.status).toBe(422);
    expect(many.body.error.details[0].field).toBe('capabilities');
    for (let i = 0; i < 3; i++)
      expect(
        (await m.call('POST', '/v1/agents', { name: `a${i}`, capabilities: caps(64, `a${i}`) }, key)).status,
      ).toBe(201);
    const fourth = await m.call('POST', '/v1/agents', { name: 'a3', capabilities: caps(1, 'a3') }, key);
    expect(fourth.status).toBe(429);
    expect(fourth.body.error.code).toBe('too_many_agents');
    // The public card lists what is on offer, from one read however often it is asked for.
    const card = await m.call('GET', '/.well-known/agent-card.json');
    expect(card.body.skills).toHaveLength(192);
    // An Agent Card of half a megabyte is refused, naming it; nothing is stored.
    const huge = {
      name: 'huge-card',
      description: 'x'.repeat(500_000),
      version: '1',
      supportedInterfaces: [
        { url: 'http://127.0.0.1:9/a2a', protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
      ],
      capabilities: {},
      defaultInputModes: ['application/json'],
      defaultOutputModes: ['application/json'],
      skills: [{ id: 's', name: 's', description: 's', tags: [] }],
    };
    const refused = await m.call('POST', '/v1/agents', huge, key);
    expect(refused.status).toBe(422);
    expect(refused.body.error.details[0].field).toBe('card');
  });

  it("gives a round's slot back once every invitee has answered, while it waits for deferred bids", async () => {
    m = await startManager({ MAX_CONCURRENT_ROUNDS: '2', ADMISSION_TARGET_LAG_MS: '0' });
    fleet = new Fleet(m.url);
    await fleet.raw('defers-forever', 'slow.defer', (req, res) =>
      json(res, req.path === '/cfp' ? { type: 'deferred' } : {}),
    );
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        (await m.call('POST', '/v1/tasks', { capability: 'slow.defer', input: { i }, bidWindowMs: 600_000 }))
          .body.id,
      );
    // All four bid at once, their cfps answered: none holds a slot while only waiting.
    const running = async () => {
      const text = (await m!.call('GET', '/metrics')).body as string;
      return parsePrometheus(text).find((x) => x.name === 'cnp_bidding_slots' && x.labels.kind === 'running')
        ?.value;
    };
    await eventually(
      async () => {
        const states = await Promise.all(
          ids.map(async (id) => (await m!.call('GET', `/v1/tasks/${id}`)).body.state),
        );
        return states.every((s) => s === 'bidding') && (await running()) === 0;
      },
      10_000,
      'four rounds bidding on two slots, none holding one',
    );
    for (const id of ids) await m.call('POST', `/v1/tasks/${id}/cancel`);
  });

  it('counts the bytes of request bodies per key, not only requests', async () => {
    m = await startManager({ API_KEYS: 'bytes-key-1,bytes-key-2', RATE_LIMIT_BYTES_PER_KEY: '150000' });
    const input = { text: 'x'.repeat(60_000) };
    const submit = (key: string) =>
      m!.call(
        'POST',
        '/v1/tasks',
        { capability: 'nobody.offers', input },
        { authorization: `Bearer ${key}` },
      );
    expect((await submit('bytes-key-1')).status).toBe(202);
    expect((await submit('bytes-key-1')).status).toBe(202);
    const third = await submit('bytes-key-1');
    expect(third.status).toBe(429);
    expect(third.body.error.message).toMatch(/RATE_LIMIT_BYTES_PER_KEY/);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    // Another key has its own budget; nothing of the refused one was stored.
    expect((await submit('bytes-key-2')).status).toBe(202);
    const all = (await m.call('GET', '/v1/tasks', undefined, { authorization: 'Bearer bytes-key-1' })).body
      .items;
    expect(all).toHaveLength(2);
  });

  it('tells a client its callback failed without what the attempt found (no port scan)', async () => {
    m = await startManager({ OUTBOUND_LOOPBACK: 'allow' });
    const { body: task } = await m.call('POST', '/v1/tasks', {
      capability: 'nobody.offers',
      input: {},
      callbackUrl: 'http://127.0.0.1:1/probe?port=1',
    });
    await m.call('POST', `/v1/tasks/${task.id}/cancel`);
    // Its last attempt now, rather than after eight backed-off ones.
    await m.manager.database.query(
      `update tasks set callback_attempts = 7, callback_due_at = now() where id = $1 and callback_due_at is not null`,
      [task.id],
    );
    const failed = await eventually(async () => {
      const items = (await m!.call('GET', `/v1/tasks/${task.id}/events`)).body.items as {
        type: string;
        data: any;
      }[];
      return items.find((e) => e.type === 'task.callback_failed');
    });
    expect(failed.data.error).not.toMatch(/ECONNREFUSED|connect|HTTP \d|127\.0\.0\.1:1/);
    expect(failed.data.error).toMatch(/no 2xx answer/);
  });
});
