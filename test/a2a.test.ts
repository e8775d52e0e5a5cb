import { readFileSync } from 'node:fs';
import { Role, TaskState } from '@a2a-js/sdk';
import { ClientFactory } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startA2AAgent } from './support/a2a-agents.ts';
import { Fleet, fixedBidder } from './support/agents.ts';
import { startManager, type TestManager, waitEnd } from './support/harness.ts';

const specCard = (v: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/a2a-sample-card-v${v}.json`, import.meta.url), 'utf8'));

/** A user message as the official client builds it (its proto-shaped types, every field set). */
const message = (id: string, parts: unknown[], metadata?: Record<string, unknown>) => ({
  messageId: id,
  contextId: '',
  taskId: '',
  role: Role.ROLE_USER,
  parts: parts as never,
  metadata,
  extensions: [],
  referenceTaskIds: [],
});
const dataPart = (value: unknown) => ({
  content: { $case: 'data' as const, value },
  metadata: undefined,
  filename: '',
  mediaType: 'application/json',
});
const textPart = (value: string) => ({
  content: { $case: 'text' as const, value },
  metadata: undefined,
  filename: '',
  mediaType: 'text/plain',
});
const send = (msg: ReturnType<typeof message>, returnImmediately = false) => ({
  tenant: '',
  message: msg,
  configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately },
  metadata: undefined,
});

describe('A2A both ways', () => {
  let m: TestManager;
  let fleet: Fleet;
  beforeAll(async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
  });
  const stopAfter: { stop(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(stopAfter.map((a) => a.stop()));
    await fleet.stopAll();
    await m.stop();
  });

  it("registers an agent with the specification's sample Agent Card; its skills become capabilities", async () => {
    // The card as the specification has it, pointed at a real A2A agent (the official SDK's
    // server, speaking 1.0 and 0.3) that runs here.
    const real = await startA2AAgent({
      name: 'route-planner',
      skills: ['route-optimizer-traffic'],
      behaviour: 'complete',
      legacy: true,
      work: () => ({ route: ['A', 'B'] }),
    });
    stopAfter.push(real);
    const endpoint = (real.card.supportedInterfaces as { url: string }[])[0]!.url;
    for (const v of ['0.3', '1.0']) {
      const card = specCard(v);
      card.name = `${card.name} ${v}`;
      if (v === '0.3') card.url = endpoint;
      else card.supportedInterfaces[0].url = endpoint;
      const reg = await m.call('POST', '/v1/agents', card);
      expect(reg.status, JSON.stringify(reg.body)).toBe(201);
      expect(reg.body.agent.capabilities.map((c: { name: string }) => c.name)).toEqual([
        'route-optimizer-traffic',
        'custom-map-generator',
      ]);
      expect(reg.body.agent.endpoint).toBe(endpoint);
      expect(reg.body.agent.protocol).toBe('a2a');
      const shown = (await m.call('GET', `/v1/agents/${reg.body.agent.id}`)).body;
      expect(shown.card).toEqual(card); // the card is kept and shown as sent
    }
    // Unchanged, its URL does not resolve here: refused, naming the card's field.
    const asIs = await m.call('POST', '/v1/agents', { ...specCard('1.0'), name: 'as-is' });
    expect(asIs.status).toBe(422);
    expect(asIs.body.error.details[0].field).toBe('supportedInterfaces.0.url');
    const bad = await m.call('POST', '/v1/agents', {
      name: 'bad',
      url: endpoint,
      skills: [{ id: 'Bad Id' }],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe('skills.0.id');

    // A task of a card's skill is auctioned to the card's agent like any other.
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'route-optimizer-traffic',
      input: { from: 'A', to: 'B' },
    });
    const done = await waitEnd(m, t.body.id, 10000);
    expect(done).toMatchObject({ state: 'completed', output: { route: ['A', 'B'] } });
  });

  it('serves a card made of the live capabilities and the interface it really has', async () => {
    await fleet.start({
      ...fixedBidder('a2a-doubler', 1, 20),
      capabilities: [{ name: 'math.double', description: 'doubles n' }],
    });
    const card = (await m.call('GET', '/.well-known/agent-card.json')).body;
    expect(card.url).toBeUndefined();
    expect(card.supportedInterfaces).toEqual([
      { url: `${m.url}/v1/a2a`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
    ]);
    expect(card.capabilities).toMatchObject({ streaming: true, pushNotifications: false });
    const skills = card.skills.map((s: { id: string }) => s.id);
    expect(skills).toContain('math.double');
    expect(skills).toContain('route-optimizer-traffic');
    expect(card.skills.find((s: { id: string }) => s.id === 'math.double').description).toBe('doubles n');
    expect(card.securitySchemes).toEqual({});
  });

  it('holds and settles the budget an A2A client sends when the market keeps accounts', async () => {
    const books = await startManager({ ACCOUNTS: 'true' });
    const agents = new Fleet(books.url);
    try {
      const worker = await agents.start({ ...fixedBidder('a2a-paid', 5, 30), capabilities: ['math.double'] });
      await books.call('POST', '/v1/accounts/anonymous/movements', { kind: 'credit', amount: 50 });
      const client = await new ClientFactory().createFromUrl(books.url);
      const paid = (await client.sendMessage(
        send(message('paid-1', [dataPart({ n: 2 })], { capability: 'math.double', budget: 20 })),
      )) as { id: string; status: { state: TaskState } };
      expect(paid.status.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect((await books.call('GET', `/v1/tasks/${paid.id}`)).body.settlement).toMatchObject({
        payer: 'anonymous',
        held: 20,
        paid: 5,
        refunded: 15,
      });
      expect((await books.call('GET', `/v1/accounts/agent:${worker.id}`)).body.balance).toBe(5);
      // No budget: refused, naming it; nothing is held.
      await expect(
        client.sendMessage(send(message('paid-2', [dataPart({ n: 3 })], { capability: 'math.double' }))),
      ).rejects.toThrow(/budget/);
      expect((await books.call('GET', '/v1/accounts/me')).body).toMatchObject({ balance: 45, held: 0 });
    } finally {
      await agents.stopAll();
      await books.stop();
    }
  });

  it('completes a task for the official A2A client (@a2a-js/sdk): send, get, stream, cancel', async () => {
    const client = await new ClientFactory().createFromUrl(m.url);
    // Blocking SendMessage: answers once the task has ended, its output the artifact.
    const result = (await client.sendMessage(
      send(message('msg-1', [dataPart({ n: 21 })], { capability: 'math.double' })),
    )) as {
      id: string;
      status: { state: TaskState };
      artifacts: { parts: { content: { value: unknown } }[] }[];
    };
    expect(result.status.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(result.artifacts[0]!.parts[0]!.content.value).toMatchObject({ doubled: 42, by: 'a2a-doubler' });
    // It is an ordinary task of the marketplace.
    expect((await m.call('GET', `/v1/tasks/${result.id}`)).body).toMatchObject({
      state: 'completed',
      capability: 'math.double',
    });
    const again = await client.getTask({ tenant: '', id: result.id, historyLength: undefined } as never);
    expect(again.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    // The same message id again is the same task.
    const same = (await client.sendMessage(
      send(message('msg-1', [dataPart({ n: 21 })], { capability: 'math.double' })),
    )) as { id: string };
    expect(same.id).toBe(result.id);

    // Streaming: the task, its status changes, the artifact, the end.
    const events: string[] = [];
    let output: unknown;
    for await (const ev of client.sendMessageStream(
      send(message('msg-2', [dataPart({ n: 5 })], { capability: 'math.double' })),
    )) {
      const e = ev as {
        payload?: {
          $case: string;
          value: { status?: { state: TaskState }; artifact?: { parts: { content: { value: unknown } }[] } };
        };
      };
      events.push(e.payload!.$case);
      if (e.payload?.$case === 'artifactUpdate') output = e.payload.value.artifact!.parts[0]!.content.value;
    }
    expect(events[0]).toBe('task');
    expect(events).toContain('statusUpdate');
    expect(output).toMatchObject({ doubled: 10 });

    // A task nobody can take yet: returned at once, then cancelled.
    const waiting = (await client.sendMessage(
      send(message('msg-3', [textPart('hello')], { capability: 'nobody.here' }), true),
    )) as {
      id: string;
      status: { state: TaskState };
    };
    expect(waiting.status.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    expect((await m.call('GET', `/v1/tasks/${waiting.id}`)).body.input).toEqual({ text: 'hello' });
    const cancelled = await client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined } as never);
    expect(cancelled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await expect(
      client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined } as never),
    ).rejects.toThrow();
    await expect(
      client.getTask({ tenant: '', id: '01900000-0000-7000-8000-000000000000' } as never),
    ).rejects.toThrow(/not found/i);
  });

  it('answers JSON-RPC errors for what is not a request, not a method, or not a task', async () => {
    const rpc = (body: unknown) => m.call('POST', '/v1/a2a', body);
    expect((await rpc('{"jsonrpc": "2.0", "id": 1, "meth')).body.error.code).toBe(-32700);
    expect((await rpc({ id: 1, method: 'SendMessage' })).body.error.code).toBe(-32600);
    expect((await rpc({ jsonrpc: '2.0', id: 2, method: 'message/send', params: {} })).body.error.code).toBe(
      -32601,
    );
    const noCap = await rpc({
      jsonrpc: '2.0',
      id: 3,
      method: 'SendMessage',
      params: { message: { messageId: 'x', parts: [{ text: 'hi' }] } },
    });
    expect(noCap.body).toMatchObject({ id: 3, error: { code: -32602 } });
    expect(noCap.body.error.message).toMatch(/metadata\.capability/);
    const badInput = await rpc({
      jsonrpc: '2.0',
      id: 4,
      method: 'SendMessage',
      params: {
        message: { messageId: 'y', parts: [{ data: { n: 1 } }], metadata: { capability: 'NOT VALID' } },
      },
    });
    expect(badInput.body.error.code).toBe(-32602);
    expect(
      (await rpc({ jsonrpc: '2.0', id: 5, method: 'GetTask', params: { id: 'nope' } })).body.error.code,
    ).toBe(-32001);
  });

  it('answers as A2A 1.0 asks: object ids, push notifications, the extended card, ended and continued tasks, reused message ids', async () => {
    const rpc = (body: unknown) => m.call('POST', '/v1/a2a', body);
    const code = async (body: unknown) => (await rpc(body)).body.error?.code;
    // An id must be a string, a number or null.
    const objectId = await rpc({ jsonrpc: '2.0', id: { a: 1 }, method: 'GetTask', params: { id: 'x' } });
    expect(objectId.body).toMatchObject({ id: null, error: { code: -32600 } });
    // The card declares no push notifications and no extended card.
    for (const method of [
      'CreateTaskPushNotificationConfig',
      'GetTaskPushNotificationConfig',
      'ListTaskPushNotificationConfigs',
      'DeleteTaskPushNotificationConfig',
    ])
      expect(await code({ jsonrpc: '2.0', id: 1, method, params: {} }), method).toBe(-32003);
    expect(await code({ jsonrpc: '2.0', id: 2, method: 'GetExtendedAgentCard', params: {} })).toBe(-32007);
    /** A SendMessage of `data` under `messageId`, answered at once. */
    const send = (id: number, messageId: string, data: unknown) =>
      rpc({
        jsonrpc: '2.0',
        id,
        method: 'SendMessage',
        params: {
          configuration: { returnImmediately: true },
          message: { messageId, role: 'ROLE_USER', parts: [{ data }], metadata: { capability: 'conf.none' } },
        },
      });
    // A task that has ended cannot be subscribed to; nor can a message continue a task.
    const sent = await send(3, 'conf-1', {});
    const taskId = sent.body.result.task.id as string;
    expect((await m.call('POST', `/v1/tasks/${taskId}/cancel`)).status).toBe(200);
    // A streaming method's error comes as the stream's one event, as its client reads it.
    const subscribed = await sse(m.url, {
      jsonrpc: '2.0',
      id: 4,
      method: 'SubscribeToTask',
      params: { id: taskId },
    });
    expect(subscribed.type).toMatch(/text\/event-stream/);
    expect(subscribed.events).toEqual([
      { jsonrpc: '2.0', id: 4, error: expect.objectContaining({ code: -32004 }) },
    ]);
    const badStream = await sse(m.url, { jsonrpc: '2.0', id: 7, method: 'SendStreamingMessage', params: {} });
    expect(badStream.events[0]).toMatchObject({ id: 7, error: { code: -32602 } });
    const more = (task: string) => ({
      jsonrpc: '2.0',
      id: 5,
      method: 'SendMessage',
      params: {
        message: {
          messageId: `conf-${task}`,
          taskId: task,
          role: 'ROLE_USER',
          parts: [{ text: 'and then?' }],
          metadata: { capability: 'conf.none' },
        },
      },
    });
    expect(await code(more(taskId))).toBe(-32004);
    expect(await code(more('01900000-0000-7000-8000-000000000000'))).toBe(-32001);
    expect(await code(more('nonexistent-task-id'))).toBe(-32001);
    // The same messageId with other content: a JSON-RPC error, not this API's 409 body.
    const reused = await send(6, 'conf-1', { other: true });
    expect(reused.status).toBe(200);
    expect(reused.body).toMatchObject({ jsonrpc: '2.0', id: 6, error: { code: -32602 } });
    // A client's own contextId is not kept (each task is its own context): refused, saying so.
    const withContext = await rpc({
      jsonrpc: '2.0',
      id: 8,
      method: 'SendMessage',
      params: {
        message: {
          messageId: 'ctx-1',
          contextId: 'my-conversation',
          role: 'ROLE_USER',
          parts: [{ text: 'hi' }],
          metadata: { capability: 'conf.none' },
        },
      },
    });
    expect(withContext.body.error).toMatchObject({
      code: -32602,
      message: expect.stringMatching(/contextId/),
    });
  });

  it('lists tasks (ListTasks) with the official client: pages, status and context filters', async () => {
    const client = await new ClientFactory().createFromUrl(m.url);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t = (await client.sendMessage(
        send(message(`list-${i}`, [dataPart({ i })], { capability: 'list.none' }), true),
      )) as { id: string };
      ids.push(t.id);
    }
    await m.call('POST', `/v1/tasks/${ids[0]}/cancel`);
    const list = (p: Record<string, unknown>) =>
      client.listTasks({
        tenant: '',
        contextId: '',
        status: 0,
        pageSize: 2,
        pageToken: '',
        historyLength: undefined,
        statusTimestampAfter: undefined,
        includeArtifacts: false,
        ...p,
      } as never);
    const first = await list({});
    expect(first.tasks).toHaveLength(2);
    expect(first.nextPageToken).not.toBe('');
    const everything: string[] = [...first.tasks.map((t) => t.id)];
    for (let token = first.nextPageToken; token; ) {
      const next = await list({ pageToken: token });
      everything.push(...next.tasks.map((t) => t.id));
      expect(next.totalSize).toBe(first.totalSize);
      token = next.nextPageToken;
    }
    expect(everything).toEqual(expect.arrayContaining(ids));
    expect(first.totalSize).toBe(everything.length);
    const cancelled = await list({ status: TaskState.TASK_STATE_CANCELED, pageSize: 100 });
    expect(cancelled.tasks.map((t) => t.id)).toContain(ids[0]);
    expect(cancelled.tasks.map((t) => t.id)).not.toContain(ids[1]);
    const one = await list({ contextId: ids[2] });
    expect(one.tasks.map((t) => t.id)).toEqual([ids[2]]);
  });

  it('sends a message that names no capability to A2A_DEFAULT_CAPABILITY, or to the only one on offer', async () => {
    const rpcOn = (u: TestManager) => (text: string, id: number) =>
      u.call('POST', '/v1/a2a', {
        jsonrpc: '2.0',
        id,
        method: 'SendMessage',
        params: {
          configuration: { returnImmediately: true },
          message: { messageId: `plain-${id}`, role: 'ROLE_USER', parts: [{ text }] },
        },
      });
    // Several capabilities on offer here, none by default: the answer lists them.
    const several = await rpcOn(m)('hello', 1);
    expect(several.body.error).toMatchObject({
      code: -32602,
      message: expect.stringMatching(/on offer now: .*math\.double/),
    });
    // One capability on offer: it takes the message (its text as {text}).
    const solo = await startManager();
    const soloFleet = new Fleet(solo.url);
    try {
      await soloFleet.start({
        ...fixedBidder('solo', 1, 10),
        capabilities: ['text.echo'],
        execute: (i: unknown) => i,
      });
      const sent = await rpcOn(solo)('just text', 2);
      expect(sent.body.result.task.metadata.capability).toBe('text.echo');
    } finally {
      await soloFleet.stopAll();
      await solo.stop();
    }
    const dflt = await startManager({ A2A_DEFAULT_CAPABILITY: 'text.default' });
    try {
      const sent = await rpcOn(dflt)('to the default', 3);
      expect(sent.body.result.task.metadata.capability).toBe('text.default');
    } finally {
      await dflt.stop();
    }
  });
});

/** A JSON-RPC call answered as server-sent events: the content type and each event's JSON. */
async function sse(url: string, body: unknown) {
  const res = await fetch(`${url}/v1/a2a`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    type: res.headers.get('content-type') ?? '',
    events: text
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice(5))),
  };
}
