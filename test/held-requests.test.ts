import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAgent } from '../src/sdk/index.ts';
import { fixedBidder } from './support/agents.ts';
import { eventually, sleep, startManager, type TestManager } from './support/harness.ts';
import { openStream } from './support/sse.ts';

const eventIds = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

describe('held requests: caps, the shared event feed and bounded replay', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({
      MAX_STREAMS_PER_CLIENT: '24',
      MAX_LONG_POLLS_PER_CLIENT: '2',
      EVENT_REPLAY_MAX: '5',
    });
  });
  afterAll(() => m.stop());

  it('caps the event streams one client holds open; closing one frees its slot', async () => {
    const streams = [];
    for (let i = 0; i < 24; i++) streams.push(await openStream(`${m.url}/v1/events`));
    expect(streams.map((s) => s.status)).toEqual(Array(24).fill(200));
    const over = await openStream(`${m.url}/v1/events`);
    expect(over.status).toBe(429);
    expect(over.res.headers.get('retry-after')).toBe('1');
    expect(((await over.res.json()) as { error: { code: string } }).error.code).toBe('too_many_open');
    // The per-task stream counts against the same cap.
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.here', input: {} });
    expect((await openStream(`${m.url}/v1/tasks/${task.id}/events`)).status).toBe(429);
    streams[0]!.close();
    const again = await eventually(async () => {
      const s = await openStream(`${m.url}/v1/events`);
      return s.status === 200 ? s : null;
    });
    for (const s of [...streams, again]) s.close();
  });

  it('caps long-polls per client', async () => {
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.here', input: {} });
    const polls = [1, 2].map(() => m.call('GET', `/v1/tasks/${task.id}?waitMs=3000`));
    await eventually(() => m.manager.held.polls.total === 2, 10_000, 'both long-polls held');
    const over = await m.call('GET', `/v1/tasks/${task.id}?waitMs=3000`);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('too_many_open');
    // A plain read is not a long-poll and is not capped.
    expect((await m.call('GET', `/v1/tasks/${task.id}`)).status).toBe(200);
    expect((await Promise.all(polls)).map((p) => p.status)).toEqual([200, 200]);
    expect((await m.call('GET', `/v1/tasks/${task.id}?waitMs=10`)).status).toBe(200);
  });

  it('reads each batch of events once for every /v1/events stream', async () => {
    const agent = await defineAgent(
      fixedBidder('feed-worker', 1, 10, { capabilities: ['feed.shared'] }),
    ).start({
      manager: m.url,
    });
    try {
      const streams: Awaited<ReturnType<typeof openStream>>[] = [];
      for (let i = 0; i < 20; i++)
        streams.push(await openStream(`${m.url}/v1/events?capability=feed.shared`));
      const before = m.manager.feed.fetches;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const t = await m.call('POST', '/v1/tasks', { capability: 'feed.shared', input: { n: i } });
        ids.push(t.body.id);
        await m.call('GET', `/v1/tasks/${t.body.id}?waitMs=10000`);
      }
      await eventually(() =>
        streams.every((s) => ids.every((id) => s.text.includes(id) && s.text.includes('task.completed'))),
      );
      const fetches = m.manager.feed.fetches - before;
      // Every stream got the same events, in order and once each.
      const first = eventIds(streams[0]!.text);
      for (const s of streams) expect(eventIds(s.text)).toEqual(first);
      expect(new Set(first).size).toBe(first.length);
      // About one statement per wake-up of the feed (other capabilities' events wake it too),
      // not one per stream: a stream of its own each would be 20 per event.
      expect(fetches).toBeGreaterThan(0);
      expect(fetches).toBeLessThanOrEqual(2 * first.length);
      for (const s of streams) s.close();
    } finally {
      await agent.stop();
    }
  });

  it('replays at most EVENT_REPLAY_MAX events after Last-Event-ID, and starts live without one', async () => {
    const all = await m.call('GET', '/v1/events?limit=1000');
    const newest = Number(all.body.items.at(-1).id);
    expect(all.body.items.length).toBeGreaterThan(5);
    const resumed = await openStream(`${m.url}/v1/events`, { 'last-event-id': '0' });
    const live = await openStream(`${m.url}/v1/events`);
    await eventually(() => resumed.text.includes('events_skipped'));
    expect(eventIds(resumed.text)).toHaveLength(5);
    expect(resumed.text).toContain(`"through":${newest}`);
    // Then both go on live.
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.here', input: {} });
    await eventually(() => resumed.text.includes(task.id) && live.text.includes(task.id));
    expect(eventIds(live.text).every((id) => id > newest)).toBe(true);
    resumed.close();
    live.close();
  });

  it('adds one abort listener per claim long-poll, however often it wakes', async () => {
    const reg = await m.call('POST', '/v1/agents', {
      name: 'claimer',
      capabilities: [{ name: 'claim.wake' }],
    });
    const agent = await m.manager.registry.get(reg.body.agent.id);
    const ctl = new AbortController();
    const claim = m.manager.market.claim(
      agent,
      { capabilities: ['claim.wake'], limit: 1, leaseMs: 30_000, waitMs: 5000 },
      ctl.signal,
    );
    // Waiting: it listens for its caller going away.
    await eventually(() => getEventListeners(ctl.signal, 'abort').length >= 1);
    // Wake-ups that find nothing to claim (another claimer was quicker).
    for (let i = 0; i < 50; i++) {
      m.manager.hub.deliver({
        id: 0,
        taskId: null,
        agentId: null,
        type: 'task.queued',
        capability: 'claim.wake',
      });
      await sleep(5);
    }
    expect(getEventListeners(ctl.signal, 'abort').length).toBeLessThanOrEqual(1);
    ctl.abort();
    expect(await claim).toEqual([]);
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
  });
});
