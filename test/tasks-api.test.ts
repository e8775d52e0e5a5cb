import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Reply, startManager, type TestManager } from './support/harness.ts';

/** With no agent registered, submitted tasks do not complete, so these tests see the API alone. */
describe('task API', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m.stop());

  const submit = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    m.call('POST', '/v1/tasks', { capability: 'nobody.offers', input: { n: 1 }, ...body }, headers);

  it('accepts a task with 202 and shows every field of the Task', async () => {
    const res = await submit({ budget: 10, priority: 3, weights: { cost: 2 } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      capability: 'nobody.offers',
      input: { n: 1 },
      budget: 10,
      priority: 3,
      maxAttempts: 3,
      attempts: 0,
      weights: { cost: 2, time: 1, reputation: 1 },
      award: null,
      output: null,
      completedAt: null,
    });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(['pending', 'bidding', 'queued']).toContain(res.body.state);
    const got = await m.call('GET', `/v1/tasks/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(res.body.id);
  });

  it('returns the same task for the same Idempotency-Key and body, 409 for another body', async () => {
    const key = { 'idempotency-key': 'order-42' };
    const a = await submit({ input: { x: 1, y: 2 } }, key);
    const b = await m.call('POST', '/v1/tasks', { input: { y: 2, x: 1 }, capability: 'nobody.offers' }, key);
    expect(a.status).toBe(202);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    const c = await submit({ input: { x: 2 } }, key);
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('idempotency_conflict');
  });

  it('creates one task when the same key is posted many times at once', async () => {
    const key = { 'idempotency-key': 'burst-1' };
    const replies = await Promise.all(Array.from({ length: 8 }, () => submit({ input: 'burst' }, key)));
    expect(new Set(replies.map((r) => r.body.id)).size).toBe(1);
    expect(replies.filter((r) => r.status === 202)).toHaveLength(1);
  });

  it('lists newest first with cursor pagination and filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submit({ capability: 'page.cap', input: i })).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Reply = await m.call(
        'GET',
        `/v1/tasks?capability=page.cap&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((t: { id: string }) => t.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
    const cancelled = await m.call('POST', `/v1/tasks/${ids[0]}/cancel`);
    expect(cancelled.status).toBe(200);
    const byState = await m.call('GET', '/v1/tasks?capability=page.cap&state=cancelled');
    expect(byState.body.items.map((t: { id: string }) => t.id)).toEqual([ids[0]]);
  });

  it('long-polls until the task ends: a cancel wakes the waiting client at once', async () => {
    const { body: task } = await submit();
    const started = Date.now();
    const waiting = m.call('GET', `/v1/tasks/${task.id}?waitMs=20000`);
    setTimeout(() => void m.call('POST', `/v1/tasks/${task.id}/cancel`), 300);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('cancelled');
    expect(res.body.completedAt).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('long-poll answers after waitMs with the task unchanged', async () => {
    const { body: task } = await submit({ capability: 'nobody.else' });
    const res = await m.call('GET', `/v1/tasks/${task.id}?waitMs=200`);
    expect(res.status).toBe(200);
    expect(['pending', 'bidding', 'queued']).toContain(res.body.state);
    expect((await m.call('GET', `/v1/tasks/${task.id}?waitMs=60001`)).status).toBe(422);
  });

  it('refuses to cancel a task twice', async () => {
    const { body: task } = await submit();
    expect((await m.call('POST', `/v1/tasks/${task.id}/cancel`)).status).toBe(200);
    const again = await m.call('POST', `/v1/tasks/${task.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('task_ended');
  });

  it('keeps an audit trail, as JSON and as a live event stream that ends with the task', async () => {
    const { body: task } = await submit();
    const ctl = new AbortController();
    const res = await fetch(`${m.url}/v1/tasks/${task.id}/events`, {
      headers: { accept: 'text/event-stream' },
      signal: ctl.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    setTimeout(() => void m.call('POST', `/v1/tasks/${task.id}/cancel`), 200);
    const text = await res.text(); // ends when the task is terminal
    expect(text).toContain('event: task.submitted');
    expect(text).toContain('event: task.cancelled');
    const json = await m.call('GET', `/v1/tasks/${task.id}/events`);
    const types = json.body.items.map((e: { type: string }) => e.type);
    expect(types[0]).toBe('task.submitted');
    expect(types.at(-1)).toBe('task.cancelled');
    expect(json.body.items.at(-1).data.state).toBe('cancelled');
  });

  it('resumes the manager-wide event stream after Last-Event-ID', async () => {
    const { body: task } = await submit({ capability: 'feed.cap' });
    const all = await m.call('GET', '/v1/events?capability=feed.cap');
    expect(all.status).toBe(200);
    const first = all.body.items.find((e: { taskId: string }) => e.taskId === task.id);
    expect(first.type).toBe('task.submitted');
    await m.call('POST', `/v1/tasks/${task.id}/cancel`);
    const ctl = new AbortController();
    const res = await fetch(`${m.url}/v1/events?capability=feed.cap`, {
      headers: { accept: 'text/event-stream', 'last-event-id': first.id },
      signal: ctl.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('task.cancelled')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ctl.abort();
    expect(text).toContain('event: task.cancelled');
    expect(text).not.toContain('event: task.submitted');
  });

  it('refuses unknown fields in task, agent and bid bodies, naming each, and stores nothing', async () => {
    const before = (await m.call('GET', '/v1/tasks?limit=200')).body.items.length;
    const typo = await m.call('POST', '/v1/tasks', {
      capability: 'typo.cap',
      input: {},
      dependson: [],
      weights: { cost: 1, speed: 2 },
    });
    expect(typo.status).toBe(422);
    expect(typo.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'dependson', message: 'unknown field' },
        { field: 'weights.speed', message: 'unknown field' },
      ]),
    );
    expect((await m.call('GET', '/v1/tasks?limit=200')).body.items.length).toBe(before);
    // The input itself is the client's own JSON: any fields.
    expect(
      (await m.call('POST', '/v1/tasks', { capability: 'typo.cap', input: { anything: 1 } })).status,
    ).toBe(202);

    const agent = await m.call('POST', '/v1/agents', {
      name: 'typo-agent',
      endpointt: 'http://127.0.0.1:9',
      capabilities: [{ name: 'typo.cap', tag: 'x' }],
    });
    expect(agent.status).toBe(422);
    expect(agent.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual([
      'capabilities.0.tag',
      'endpointt',
    ]);
    expect(
      (await m.call('GET', '/v1/agents?limit=200')).body.items.map((a: { name: string }) => a.name),
    ).not.toContain('typo-agent');

    const ok = await m.call('POST', '/v1/agents', {
      name: 'typo-bidder',
      capabilities: [{ name: 'typo.cap' }],
    });
    const t = await m.call('POST', '/v1/tasks', { capability: 'typo.cap', input: {} });
    const bid = await m.call(
      'POST',
      `/v1/tasks/${t.body.id}/bids`,
      { round: 1, type: 'propose', cost: 1, etaMs: 10, costt: 2 },
      { authorization: `Bearer ${ok.body.token}` },
    );
    expect(bid.status).toBe(422);
    expect(bid.body.error.details).toEqual([{ field: 'costt', message: 'unknown field' }]);
  });

  it('answers 404 for an unknown task on every task route', async () => {
    const id = '0195a8d0-0000-7000-8000-000000000000';
    for (const [method, path] of [
      ['GET', `/v1/tasks/${id}`],
      ['POST', `/v1/tasks/${id}/cancel`],
      ['POST', `/v1/tasks/${id}/retry`],
      ['GET', `/v1/tasks/${id}/events`],
      ['GET', `/v1/tasks/${id}/bids`],
    ] as const) {
      const res = await m.call(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('retries only failed tasks', async () => {
    const { body: task } = await submit();
    const res = await m.call('POST', `/v1/tasks/${task.id}/retry`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('task_not_failed');
  });
});
