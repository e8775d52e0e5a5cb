import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RunningA2AAgent, startA2AAgent } from './support/a2a-agents.ts';
import { Fleet, fixedBidder, json } from './support/agents.ts';
import { eventually, startManager, type TestManager } from './support/harness.ts';

/** Capability schemas, A2A agents as contractors and agent liveness, over real HTTP. */
describe('an open market', () => {
  let m: TestManager;
  let fleet: Fleet;
  const a2a: RunningA2AAgent[] = [];
  beforeAll(async () => {
    m = await startManager({ AWARD_TIMEOUT_MS: '2000', DUE_GRACE_MS: '300' });
    fleet = new Fleet(m.url);
  });
  afterEach(async () => {
    await fleet.stopAll();
    fleet = new Fleet(m.url);
    await Promise.all(a2a.splice(0).map((a) => a.stop()));
  });
  afterAll(() => m.stop());

  const done = async (id: string) =>
    eventually(
      async () => {
        const t = (await m.call('GET', `/v1/tasks/${id}`)).body;
        return ['completed', 'failed', 'cancelled'].includes(t.state) && t;
      },
      20_000,
      `task ${id} to end`,
    );

  /** What the task's trail says about one agent (its failure's reason among it). */
  const trailOf = async (taskId: string, agentId: string) => {
    const items = (await m.call('GET', `/v1/tasks/${taskId}/events`)).body.items as {
      agentId: string | null;
      data: unknown;
    }[];
    return JSON.stringify(items.filter((e) => e.agentId === agentId).map((e) => e.data));
  };

  const a2aAgent = async (opts: Parameters<typeof startA2AAgent>[0], offer?: unknown) => {
    const agent = await startA2AAgent(opts);
    a2a.push(agent);
    const reg = await m.call('POST', '/v1/agents', offer ? { card: agent.card, offer } : agent.card);
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    expect(reg.body.agent.protocol).toBe('a2a');
    return { agent, id: reg.body.agent.id as string };
  };

  describe('capability schemas', () => {
    const Doubling = z.object({ n: z.number().int().max(1000) }).meta({ examples: [{ n: 2 }] });

    it('publishes the SDK’s zod schemas, refuses an input no agent takes (naming the field) and stores nothing', async () => {
      await fleet.start({
        ...fixedBidder('schema-doubler', 1, 50),
        capabilities: [
          {
            name: 'schema.double',
            description: 'doubles n',
            input: Doubling,
            output: z.object({ doubled: z.number(), by: z.string() }),
          },
        ],
      });
      const shown = (await m.call('GET', '/v1/agents?capability=schema.double')).body.items[0];
      expect(shown.capabilities[0].inputSchema).toMatchObject({ type: 'object', required: ['n'] });
      expect(shown.capabilities[0].outputSchema).toMatchObject({ type: 'object' });

      const before = (await m.call('GET', '/v1/tasks?capability=schema.double')).body.items.length;
      const bad = await m.call('POST', '/v1/tasks', { capability: 'schema.double', input: 'just a string' });
      expect(bad.status).toBe(422);
      expect(bad.body.error.details[0]).toMatchObject({ field: 'input', message: 'must be object' });
      const tooBig = await m.call('POST', '/v1/tasks', { capability: 'schema.double', input: { n: 5000 } });
      expect(tooBig.status).toBe(422);
      expect(tooBig.body.error.details[0].field).toBe('input.n');
      expect((await m.call('GET', '/v1/tasks?capability=schema.double')).body.items.length).toBe(before);

      const ok = await m.call('POST', '/v1/tasks', { capability: 'schema.double', input: { n: 4 } });
      expect(ok.status).toBe(202);
      expect(await done(ok.body.id)).toMatchObject({ state: 'completed', output: { doubled: 8 } });
    });

    it('refuses a schema that cannot be compiled or may not run in linear time, naming it', async () => {
      const reg = await m.call('POST', '/v1/agents', {
        name: 'bad-schemas',
        endpoint: 'http://127.0.0.1:9',
        capabilities: [
          { name: 'x.one', inputSchema: { type: 'no-such-type' } },
          { name: 'x.two', outputSchema: { type: 'string', pattern: '^(a)\\1$' } },
        ],
      });
      expect(reg.status).toBe(422);
      expect(reg.body.error.details.map((d: { field: string }) => d.field)).toEqual([
        'capabilities.0.inputSchema',
        'capabilities.1.outputSchema',
      ]);
    });

    it('never sends a cfp to an agent whose schema refuses the input; an agent without one still bids', async () => {
      const picky = await fleet.raw('picky', 'schema.any', (req, res) =>
        req.path === '/cfp'
          ? json(res, { type: 'propose', cost: 1, etaMs: 10 })
          : json(res, { type: 'inform-result', output: { by: 'picky' } }),
      );
      // Re-register it with a schema of its capability (its token updates its profile).
      const upd = await fetch(`${m.url}/v1/agents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${picky.token}` },
        body: JSON.stringify({
          name: 'picky',
          endpoint: picky.url,
          capabilities: [{ name: 'schema.any', inputSchema: { type: 'object', required: ['url'] } }],
        }),
      });
      expect(upd.status).toBe(200);
      const open = await fleet.raw('open', 'schema.any', (req, res) =>
        req.path === '/cfp'
          ? json(res, { type: 'propose', cost: 5, etaMs: 10 })
          : json(res, { type: 'inform-result', output: { by: 'open' } }),
      );
      const t = await m.call('POST', '/v1/tasks', { capability: 'schema.any', input: { text: 'no url' } });
      expect(t.status).toBe(202);
      expect(await done(t.body.id)).toMatchObject({ state: 'completed', output: { by: 'open' } });
      expect(picky.count('/cfp')).toBe(0);
      expect(open.count('/cfp')).toBe(1);
      // An input it takes: it bids, cheaper, and wins.
      const u = await m.call('POST', '/v1/tasks', { capability: 'schema.any', input: { url: 'https://x' } });
      expect(await done(u.body.id)).toMatchObject({ output: { by: 'picky' } });
    });

    it('fails an award whose output breaks the winner’s outputSchema, naming the path; never a completion', async () => {
      const liar = await fleet.start({
        ...fixedBidder('liar', 1, 50),
        capabilities: [{ name: 'schema.out', output: z.object({ total: z.number() }) }],
        execute: () => ({ total: 'lots' }),
      });
      await fleet.start({
        ...fixedBidder('honest', 9, 50),
        capabilities: [{ name: 'schema.out', output: z.object({ total: z.number() }) }],
        execute: () => ({ total: 3 }),
      });
      const t = await m.call('POST', '/v1/tasks', { capability: 'schema.out', input: {} });
      const ended = await done(t.body.id);
      expect(ended).toMatchObject({ state: 'completed', output: { total: 3 } });
      expect(await trailOf(t.body.id, liar.id)).toMatch(
        /output does not match its outputSchema: \/total: must be number/,
      );
    });

    it('lists the catalogue: schemas, agents, reachable ones, recent price, time and completion rate', async () => {
      await fleet.start({
        ...fixedBidder('cat-a', 2, 100),
        capabilities: [{ name: 'cat.work', description: 'catalogued work', input: Doubling }],
      });
      await fleet.start({
        ...fixedBidder('cat-b', 4, 300),
        capabilities: [{ name: 'cat.work', input: Doubling }],
      });
      for (let n = 0; n < 3; n++) {
        const t = await m.call('POST', '/v1/tasks', { capability: 'cat.work', input: { n } });
        await done(t.body.id);
      }
      const entry = await eventually(async () => {
        const items = (await m.call('GET', '/v1/capabilities')).body.items as {
          name: string;
          recent: { awards: number };
        }[];
        const e = items.find((i) => i.name === 'cat.work');
        return e && e.recent.awards >= 3 && e;
      });
      expect(entry).toMatchObject({
        name: 'cat.work',
        description: 'catalogued work',
        agents: 2,
        reachable: 2,
        recent: { awards: 3, medianCost: 2, medianEtaMs: 100, completionRate: 1 },
      });
      expect((entry as unknown as { schemas: { agents: number; inputSchema: unknown }[] }).schemas).toEqual([
        expect.objectContaining({ agents: 2, inputSchema: expect.objectContaining({ required: ['n'] }) }),
      ]);
      // The manager's own A2A card tells what a skill takes.
      const card = (await m.call('GET', '/.well-known/agent-card.json')).body;
      const skill = card.skills.find((s: { id: string }) => s.id === 'cat.work');
      expect(skill.inputModes).toEqual(['application/json']);
      expect(skill.description).toMatch(/JSON Schema: .*"required":\["n"\]/);
      expect(skill.examples).toEqual(['{"n":2}']);
    });
  });

  describe('A2A agents as contractors (the official @a2a-js/sdk server)', () => {
    it('refuses to register a card whose endpoint does not answer A2A, saying why', async () => {
      const native = await fleet.raw('not-a2a', 'a2a.none', (_req, res) => json(res, {}, 404));
      const card = {
        name: 'pretender',
        supportedInterfaces: [{ url: native.url, protocolBinding: 'JSONRPC' }],
        skills: [{ id: 'a2a.none' }],
      };
      const reg = await m.call('POST', '/v1/agents', card);
      expect(reg.status).toBe(422);
      expect(reg.body.error.details[0].field).toBe('supportedInterfaces.0.url');
      expect(reg.body.error.message).toMatch(/does not answer A2A/);
    });

    it('says why an endpoint registered with a profile but serving A2A is not called in this protocol', async () => {
      const agent = await startA2AAgent({
        name: 'a2a-as-native',
        skills: ['a2a.wrong'],
        behaviour: 'complete',
      });
      a2a.push(agent);
      const reg = await m.call('POST', '/v1/agents', {
        name: 'a2a-as-native',
        endpoint: agent.url,
        capabilities: [{ name: 'a2a.wrong' }],
      });
      expect(reg.status).toBe(201);
      const t = await m.call('POST', '/v1/tasks', { capability: 'a2a.wrong', input: {} });
      const bid = await eventually(async () => {
        const items = (await m.call('GET', `/v1/tasks/${t.body.id}/bids`)).body.items as {
          type: string;
          reason: string;
        }[];
        return items.find((b) => b.type === 'no_reply' && b.reason);
      });
      expect(bid.reason).toMatch(
        /HTTP 404: it does not serve this protocol's calls \(an A2A agent is registered with its Agent Card/,
      );
      await m.call('POST', `/v1/tasks/${t.body.id}/cancel`);
    });

    it('completes tasks beside a native agent in the same round: its standing offer bids for it', async () => {
      const { agent, id } = await a2aAgent(
        {
          name: 'a2a-echo',
          skills: ['a2a.echo'],
          behaviour: 'complete',
          work: (i) => ({ echoed: i, by: 'a2a' }),
        },
        { default: { cost: 1, etaMs: 500 } },
      );
      await fleet.start({
        ...fixedBidder('native-echo', 5, 500),
        capabilities: ['a2a.echo'],
        execute: (i: unknown) => ({ echoed: i, by: 'native' }),
      });
      const t = await m.call('POST', '/v1/tasks', { capability: 'a2a.echo', input: { text: 'hello' } });
      const ended = await done(t.body.id);
      expect(ended).toMatchObject({ state: 'completed', output: { echoed: { text: 'hello' }, by: 'a2a' } });
      expect(ended.award.agentId).toBe(id);
      expect(agent.received).toEqual([{ text: 'hello' }]);
      const bids = (await m.call('GET', `/v1/tasks/${t.body.id}/bids`)).body.items as {
        agentId: string;
        type: string;
        cost: number;
      }[];
      expect(bids.map((b) => b.type).sort()).toEqual(['propose', 'propose']);
      expect(bids.find((b) => b.agentId === id)?.cost).toBe(1);
      // A budget under its standing offer: the manager refuses for it, saying why.
      const cheap = await m.call('POST', '/v1/tasks', {
        capability: 'a2a.echo',
        input: { n: 1 },
        budget: 0.5,
      });
      const refusal = await eventually(async () => {
        const items = (await m.call('GET', `/v1/tasks/${cheap.body.id}/bids`)).body.items as {
          agentId: string;
          type: string;
          reason: string;
        }[];
        return items.find((b) => b.agentId === id && b.type === 'refuse');
      });
      expect(refusal.reason).toMatch(/standing offer \(1\) is over the budget/);
      expect((await m.call('POST', `/v1/tasks/${cheap.body.id}/cancel`)).status).toBe(200);
    });

    it('reads a Message reply as the output, and follows a streaming agent to its end', async () => {
      await a2aAgent({
        name: 'a2a-replier',
        skills: ['a2a.reply'],
        behaviour: 'reply',
        work: () => ({ said: 'hi' }),
      });
      const r = await m.call('POST', '/v1/tasks', { capability: 'a2a.reply', input: { q: 1 } });
      expect(await done(r.body.id)).toMatchObject({ state: 'completed', output: { said: 'hi' } });
      await a2aAgent({
        name: 'a2a-streamer',
        skills: ['a2a.stream'],
        behaviour: 'complete',
        streaming: true,
        delayMs: 300,
        work: (i) => ({ streamed: i }),
      });
      const s = await m.call('POST', '/v1/tasks', { capability: 'a2a.stream', input: { n: 7 } });
      expect(await done(s.body.id)).toMatchObject({ state: 'completed', output: { streamed: { n: 7 } } });
    });

    it('records a failed or input-required A2A task as that agent’s failure, with its reason', async () => {
      const { id } = await a2aAgent({
        name: 'a2a-failer',
        skills: ['a2a.fail'],
        behaviour: 'fail',
        delayMs: 100,
      });
      const t = await m.call('POST', '/v1/tasks', { capability: 'a2a.fail', input: {}, maxAttempts: 1 });
      const ended = await done(t.body.id);
      expect(ended.state).toBe('failed');
      expect(await trailOf(t.body.id, id)).toMatch(/TASK_STATE_FAILED: the model refused this input/);
      const { id: asker } = await a2aAgent({
        name: 'a2a-asker',
        skills: ['a2a.ask'],
        behaviour: 'input-required',
        delayMs: 50,
      });
      const q = await m.call('POST', '/v1/tasks', { capability: 'a2a.ask', input: {}, maxAttempts: 1 });
      await done(q.body.id);
      expect(await trailOf(q.body.id, asker)).toMatch(/TASK_STATE_INPUT_REQUIRED/);
    });

    it('ends a hanging A2A award at its due time, sends CancelTask, and the next bid does the task', async () => {
      const { agent } = await a2aAgent(
        { name: 'a2a-hang', skills: ['a2a.slow'], behaviour: 'hang' },
        { default: { cost: 1, etaMs: 300 } },
      );
      await fleet.start({
        ...fixedBidder('native-slow', 3, 300),
        capabilities: ['a2a.slow'],
        execute: () => ({ by: 'native' }),
      });
      const t = await m.call('POST', '/v1/tasks', { capability: 'a2a.slow', input: { n: 1 } });
      expect(await done(t.body.id)).toMatchObject({ state: 'completed', output: { by: 'native' } });
      await eventually(() => agent.cancelled.length === 1, 10_000, 'CancelTask at the agent');
    });

    it('sends CancelTask when the task is cancelled', async () => {
      const { agent } = await a2aAgent({ name: 'a2a-cancel', skills: ['a2a.cancel'], behaviour: 'hang' });
      const t = await m.call('POST', '/v1/tasks', { capability: 'a2a.cancel', input: {} });
      await eventually(async () => (await m.call('GET', `/v1/tasks/${t.body.id}`)).body.state === 'awarded');
      await eventually(() => agent.received.length === 1);
      expect((await m.call('POST', `/v1/tasks/${t.body.id}/cancel`)).status).toBe(200);
      await eventually(() => agent.cancelled.length === 1, 10_000, 'CancelTask at the agent');
    });
  });

  describe('agent liveness', () => {
    // A manager of its own with a short TTL (1.5 s): elsewhere in this file, agents that answer
    // no call for a while (raw ones send no heartbeats) must not go inactive under load.
    let outer: TestManager;
    beforeAll(async () => {
      outer = m;
      await fleet.stopAll();
      m = await startManager({ AGENT_TTL_MS: '1500' });
      fleet = new Fleet(m.url);
    });
    afterAll(async () => {
      await fleet.stopAll();
      await m.stop();
      m = outer;
      fleet = new Fleet(m.url);
    });
    it('marks an agent not heard from inactive, invites it no more, and takes it back on its heartbeat', async () => {
      const quiet = await fleet.raw('quiet', 'live.work', (req, res) =>
        req.path === '/cfp'
          ? json(res, { type: 'propose', cost: 1, etaMs: 10 })
          : json(res, { type: 'inform-result', output: { by: 'quiet' } }),
      );
      const seen = await eventually(
        async () => {
          const a = (await m.call('GET', `/v1/agents/${quiet.id}`)).body;
          return a.status === 'inactive' && a;
        },
        10_000,
        'the agent to go inactive',
      );
      expect(seen.lastSeenAt).toBeTruthy();
      const t = await m.call('POST', '/v1/tasks', { capability: 'live.work', input: {} });
      expect((await m.call('GET', `/v1/tasks/${t.body.id}`)).body.state).toBe('queued');
      expect(quiet.count('/cfp')).toBe(0);
      // A heartbeat: active again, and the queued task finds it.
      const beat = await fetch(`${m.url}/v1/agents/${quiet.id}/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${quiet.token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(beat.status).toBe(200);
      expect(((await beat.json()) as { status: string }).status).toBe('active');
      expect(await done(t.body.id)).toMatchObject({ state: 'completed', output: { by: 'quiet' } });
      const types = (
        (await m.call('GET', `/v1/events?agent=${quiet.id}`)).body.items as { type: string }[]
      ).map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(['agent.registered', 'agent.inactive', 'agent.active']));
    });

    it('probes an A2A agent (it cannot heartbeat): active while it answers, inactive once it is gone', async () => {
      const { agent, id } = await a2aAgent({
        name: 'a2a-alive',
        skills: ['a2a.alive'],
        behaviour: 'complete',
      });
      const registeredAt = Date.parse((await m.call('GET', `/v1/agents/${id}`)).body.lastSeenAt);
      // Seen again by the manager's probe after more than a TTL, and never inactive meanwhile.
      const later = await eventually(
        async () => {
          const a = (await m.call('GET', `/v1/agents/${id}`)).body;
          return Date.parse(a.lastSeenAt) > registeredAt + 1500 && a;
        },
        10_000,
        'a probe to see it',
      );
      expect(later.status).toBe('active');
      const trail = (await m.call('GET', `/v1/events?agent=${id}`)).body.items as { type: string }[];
      expect(trail.map((e) => e.type)).not.toContain('agent.inactive');
      await agent.stop();
      await eventually(
        async () => (await m.call('GET', `/v1/agents/${id}`)).body.status === 'inactive',
        10_000,
      );
    });

    it('lets a new registration take the name of an agent silent for ten TTLs', async () => {
      const gone = await fleet.raw('gone-agent', 'live.gone', (_req, res) => json(res, { type: 'refuse' }));
      await eventually(async () => (await m.call('GET', `/v1/agents/${gone.id}`)).body.status === 'inactive');
      const profile = { name: 'gone-agent', endpoint: gone.url, capabilities: [{ name: 'live.gone' }] };
      // Inactive after one TTL (1.5 s), the name is still its own until ten (15 s) have passed.
      expect((await m.call('POST', '/v1/agents', profile)).status).toBe(409);
      const taken = await eventually(
        async () => {
          const r = await m.call('POST', '/v1/agents', profile);
          return r.status === 201 && r;
        },
        30_000,
        'the name to be free',
      );
      expect(taken.body.agent.id).not.toBe(gone.id);
      expect((await m.call('GET', `/v1/agents/${gone.id}`)).body.status).toBe('deregistered');
    }, 40_000);
  });
});
