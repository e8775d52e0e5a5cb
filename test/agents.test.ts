import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Reply, startManager, type TestManager } from './support/harness.ts';

const profile = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  endpoint: 'http://127.0.0.1:9101',
  capabilities: [{ name: 'text.summarize', description: 'extractive summary', tags: ['en'] }],
  maxConcurrency: 4,
  ...extra,
});

describe('agent registry', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m.stop());

  it('registers an agent with a one-time token and shows its profile', async () => {
    const res = await m.call('POST', '/v1/agents', profile('reg-1'));
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^cnp_/);
    expect(res.body.agent).toMatchObject({
      name: 'reg-1',
      status: 'active',
      circuit: 'closed',
      maxConcurrency: 4,
      stats: { cfps: 0, awards: 0, reputation: 0.5 },
    });
    const got = await m.call('GET', `/v1/agents/${res.body.agent.id}`);
    expect(got.status).toBe(200);
    expect(got.body.token).toBeUndefined();
    expect(got.body.capabilities[0].name).toBe('text.summarize');
  });

  it('refuses a taken name without its token and updates the profile with it, keeping id and token', async () => {
    const first = await m.call('POST', '/v1/agents', profile('reg-2'));
    const again = await m.call('POST', '/v1/agents', profile('reg-2'));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('name_taken');
    const wrong = await m.call('POST', '/v1/agents', profile('reg-2'), { authorization: 'Bearer cnp_wrong' });
    expect(wrong.status).toBe(409);
    const update = await m.call(
      'POST',
      '/v1/agents',
      profile('reg-2', { maxConcurrency: 9, endpoint: 'http://127.0.0.1:9999' }),
      { authorization: `Bearer ${first.body.token}` },
    );
    expect(update.status).toBe(200);
    expect(update.body.token).toBeUndefined();
    expect(update.body.agent).toMatchObject({
      id: first.body.agent.id,
      maxConcurrency: 9,
      endpoint: 'http://127.0.0.1:9999',
    });
    // The token still works after the update.
    const hb = await m.call(
      'POST',
      `/v1/agents/${first.body.agent.id}/heartbeat`,
      { running: 1 },
      {
        authorization: `Bearer ${first.body.token}`,
      },
    );
    expect(hb.status).toBe(200);
  });

  it('lets only the agent itself heartbeat or deregister', async () => {
    const a = await m.call('POST', '/v1/agents', profile('reg-3'));
    const b = await m.call('POST', '/v1/agents', profile('reg-4'));
    const id = a.body.agent.id;
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {})).status).toBe(401);
    expect(
      (await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, { authorization: `Bearer ${b.body.token}` }))
        .status,
    ).toBe(403);
    const hb = await m.call(
      'POST',
      `/v1/agents/${id}/heartbeat`,
      { running: 2 },
      {
        authorization: `Bearer ${a.body.token}`,
      },
    );
    expect(hb.status).toBe(200);
    expect(hb.body.running).toBe(2);
    expect(hb.body.lastHeartbeatAt).not.toBeNull();
    // A heartbeat with no body at all is fine too.
    const bare = await fetch(`${m.url}/v1/agents/${id}/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.body.token}` },
    });
    expect(bare.status).toBe(200);
    expect(
      (await m.call('DELETE', `/v1/agents/${id}`, undefined, { authorization: `Bearer ${b.body.token}` }))
        .status,
    ).toBe(403);
    const del = await m.call('DELETE', `/v1/agents/${id}`, undefined, {
      authorization: `Bearer ${a.body.token}`,
    });
    expect(del.status).toBe(200);
    expect(del.body.status).toBe('deregistered');
  });

  it("kills an agent's token and its id when it deregisters; its name comes back as a new agent", async () => {
    const a = await m.call('POST', '/v1/agents', profile('reg-5'));
    const auth = { authorization: `Bearer ${a.body.token}` };
    const id = a.body.agent.id;
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, auth)).status).toBe(200);
    await m.call('DELETE', `/v1/agents/${id}`, undefined, auth);
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, auth)).status).toBe(403);
    expect((await m.call('POST', '/v1/queue/claim', { capabilities: ['text.echo'] }, auth)).status).toBe(403);
    const back = await m.call('POST', '/v1/agents', profile('reg-5'), auth);
    expect(back.status).toBe(201);
    expect(back.body.agent).toMatchObject({ name: 'reg-5', status: 'active' });
    expect(back.body.agent.id).not.toBe(id);
    expect(back.body.token).toMatch(/^cnp_[0-9a-f]{32}_/);
    expect(back.body.token).not.toBe(a.body.token);
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, auth)).status).toBe(403);
    const fresh = { authorization: `Bearer ${back.body.token}` };
    // The new agent acts as itself, never as the dead id.
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, fresh)).status).toBe(403);
    expect((await m.call('POST', `/v1/agents/${back.body.agent.id}/heartbeat`, {}, fresh)).status).toBe(200);
    expect((await m.call('GET', `/v1/agents/${id}`)).body.status).toBe('deregistered');
  });

  it('rotates a token: the old one stops working at once, the new one works', async () => {
    const a = await m.call('POST', '/v1/agents', profile('rotor'));
    const id = a.body.agent.id;
    const old = { authorization: `Bearer ${a.body.token}` };
    const rotated = await m.call('POST', `/v1/agents/${id}/token`, undefined, old);
    expect(rotated.status).toBe(200);
    expect(rotated.body.token).toMatch(/^cnp_[0-9a-f]{32}_/);
    expect(rotated.body.token).not.toBe(a.body.token);
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, old)).status).toBe(403);
    expect((await m.call('POST', `/v1/agents/${id}/token`, undefined, old)).status).toBe(403);
    const now = { authorization: `Bearer ${rotated.body.token}` };
    expect((await m.call('POST', `/v1/agents/${id}/heartbeat`, {}, now)).status).toBe(200);
    // Another agent cannot rotate it.
    const other = await m.call('POST', '/v1/agents', profile('rotor-2'));
    const res = await m.call('POST', `/v1/agents/${id}/token`, undefined, {
      authorization: `Bearer ${other.body.token}`,
    });
    expect(res.status).toBe(403);
    const events = await m.call('GET', '/v1/events?limit=500');
    expect(JSON.stringify(events.body)).not.toContain(rotated.body.token);
  });

  it('rejects endpoints that are not plain http(s) URLs, naming the field', async () => {
    for (const endpoint of [
      'ftp://127.0.0.1/x',
      'http://user:pw@127.0.0.1:9000',
      'not a url',
      'http://[::1]:0/',
    ]) {
      const res = await m.call('POST', '/v1/agents', profile(`bad-${endpoint.length}`, { endpoint }));
      expect(res.status, endpoint).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain('endpoint');
    }
    const caps = await m.call(
      'POST',
      '/v1/agents',
      profile('bad-cap', { capabilities: [{ name: 'Not Valid' }] }),
    );
    expect(caps.status).toBe(422);
    expect(caps.body.error.details[0].field).toBe('capabilities.0.name');
    const listed = await m.call('GET', '/v1/agents?limit=200');
    expect(listed.body.items.map((a: { name: string }) => a.name)).not.toContain('bad-cap');
  });

  it('pages through agents newest first and filters by capability', async () => {
    for (let i = 0; i < 5; i++) {
      await m.call('POST', '/v1/agents', { ...profile(`page-${i}`), capabilities: [{ name: 'page.test' }] });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Reply = await m.call(
        'GET',
        `/v1/agents?capability=page.test&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((a: { name: string }) => a.name));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
  });

  it('answers 404 for an unknown agent and 422 for an id that is not a UUID', async () => {
    expect((await m.call('GET', '/v1/agents/0195a8d0-0000-7000-8000-000000000000')).status).toBe(404);
    const bad = await m.call('GET', '/v1/agents/nope');
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe('id');
  });

  it('lets only one of two concurrent registrations of a new name win', async () => {
    const results = await Promise.all([1, 2, 3].map(() => m.call('POST', '/v1/agents', profile('race-1'))));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
  });
});
