import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundGuard } from '../src/resilience/outbound-guard.ts';
import { allowList } from '../src/resilience/outbound-policy.ts';
import { startManager, type TestManager } from './support/harness.ts';

const reg = (endpoint: string, name = `ssrf-${Math.random().toString(36).slice(2)}`) => ({
  name,
  endpoint,
  capabilities: [{ name: 'ssrf.cap' }],
});

describe('outbound calls: the manager is no proxy into its network', () => {
  let m: TestManager;
  let deny: TestManager;
  beforeAll(async () => {
    m = await startManager();
    deny = await startManager({ OUTBOUND_LOOPBACK: 'deny', OUTBOUND_ALLOW: '10.0.0.0/8' });
  });
  afterAll(async () => {
    await m.stop();
    await deny.stop();
  });

  it('refuses metadata, link-local and private endpoints at registration, naming the field', async () => {
    for (const endpoint of [
      'http://169.254.169.254/latest',
      'http://[fe80::1]:80',
      'http://10.0.0.5:8080',
      'http://0.0.0.0:9',
    ]) {
      const r = await m.call('POST', '/v1/agents', reg(endpoint));
      expect(r.status, endpoint).toBe(422);
      expect(r.body.error.details[0].field).toBe('endpoint');
    }
    expect((await m.call('GET', '/v1/agents')).body.items).toHaveLength(0);
  });

  it('refuses endpoints with a query or a fragment (they would rewrite the path the manager calls)', async () => {
    for (const endpoint of [
      'http://127.0.0.1:9/admin/secret?x=',
      'http://127.0.0.1:9/admin#',
      'http://127.0.0.1:9/?',
    ]) {
      const r = await m.call('POST', '/v1/agents', reg(endpoint));
      expect(r.status, endpoint).toBe(422);
      expect(JSON.stringify(r.body.error.details)).toMatch(/query or a fragment/);
    }
  });

  it('allows loopback while the manager listens on loopback, and refuses it when told to', async () => {
    expect((await m.call('POST', '/v1/agents', reg('http://127.0.0.1:9'))).status).toBe(201);
    for (const endpoint of ['http://127.0.0.1:9', 'http://localhost:9', 'http://[::1]:9']) {
      const r = await deny.call('POST', '/v1/agents', reg(endpoint));
      expect(r.status, endpoint).toBe(422);
      expect(r.body.error.details[0].message).toMatch(/loopback/);
    }
    // A private network on the allowlist is allowed.
    expect((await deny.call('POST', '/v1/agents', reg('http://10.1.2.3:8080'))).status).toBe(201);
  });

  it('refuses a callbackUrl the manager would not call, storing no task', async () => {
    const before = (await m.call('GET', '/v1/tasks')).body.items.length;
    const r = await m.call('POST', '/v1/tasks', {
      capability: 'ssrf.cap',
      input: {},
      callbackUrl: 'http://169.254.169.254/latest/meta-data/',
    });
    expect(r.status).toBe(422);
    expect(r.body.error.details[0].field).toBe('callbackUrl');
    const denied = await deny.call('POST', '/v1/tasks', {
      capability: 'x',
      input: {},
      callbackUrl: 'http://localhost:1/hook',
    });
    expect(denied.status).toBe(422);
    expect((await m.call('GET', '/v1/tasks')).body.items.length).toBe(before);
  });

  it('calls agents on loopback while it listens there, but no callback on loopback unless allowed outright', async () => {
    // The manager is on loopback (OUTBOUND_LOOPBACK=auto): agents there are fine, callbacks are
    // not, or any client could map the manager's host port by port from its callbacks' outcomes.
    for (const url of [
      'http://127.0.0.1:1/',
      'http://127.0.0.1:5432/',
      'http://localhost:8080/x?y=1',
      'http://[::1]:22/',
    ]) {
      const r = await m.call('POST', '/v1/tasks', { capability: 'probe', input: {}, callbackUrl: url });
      expect(r.status, url).toBe(422);
      expect(r.body.error.details[0]).toMatchObject({ field: 'callbackUrl' });
      expect(r.body.error.details[0].message).toMatch(/loopback/);
    }
    expect((await m.call('POST', '/v1/agents', reg('http://127.0.0.1:9/'))).status).toBe(201);
    const allowed = await startManager({ OUTBOUND_LOOPBACK: 'allow' });
    try {
      const r = await allowed.call('POST', '/v1/tasks', {
        capability: 'probe',
        input: {},
        callbackUrl: 'http://127.0.0.1:1/',
      });
      expect(r.status).toBe(202);
    } finally {
      await allowed.stop();
    }
  });

  it('checks again after DNS resolution at connect time (a name may resolve elsewhere later)', async () => {
    const guard = new OutboundGuard({ allowLoopback: false, allow: allowList([]) });
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      guard.lookup('localhost', {}, (e) => resolve(e)),
    );
    expect(err?.message).toMatch(/loopback/);
    expect(guard.refuseLiteral('http://127.0.0.1:80/cfp')).toMatch(/loopback/);
    expect(guard.refuseLiteral('http://[::ffff:169.254.169.254]/cfp')).toMatch(/metadata/);
    const open = new OutboundGuard({ allowLoopback: true, allow: allowList([]) });
    const ok = await new Promise<string | unknown>((resolve) =>
      open.lookup('localhost', {}, (e, a) => resolve(e ?? a)),
    );
    expect(typeof ok).toBe('string');
  });
});
