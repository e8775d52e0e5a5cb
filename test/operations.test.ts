import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Fleet, json } from './support/agents.ts';
import { client, eventually, sleep, startManager, sweeps } from './support/harness.ts';
import { runTs, waitForListening } from './support/processes.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

describe('operations', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('reports health, readiness, metrics, the OpenAPI document and docs page', async () => {
    const m = await startManager();
    try {
      expect((await m.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
      const ready = await m.call('GET', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body.database).toBe(onPostgres() ? 'postgres' : 'pglite');
      const doc = await m.call('GET', '/openapi.json');
      expect(doc.body.openapi).toBe('3.1.0');
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining(['/v1/tasks', '/v1/agents', '/v1/tasks/{id}']),
      );
      const docs = await fetch(`${m.url}/docs`);
      expect(await docs.text()).toContain('/openapi.json');
      const card = await m.call('GET', '/.well-known/agent-card.json');
      // The truthful card: no agent registered, so no skill; the interface it really serves.
      expect(card.body.skills).toEqual([]);
      expect(card.body.supportedInterfaces[0]).toMatchObject({
        protocolBinding: 'JSONRPC',
        protocolVersion: '1.0',
      });
    } finally {
      await m.stop();
    }
  });

  it('keeps an idle keep-alive connection open for HTTP_KEEP_ALIVE_MS and says so, then closes it', async () => {
    /** A raw connection: GETs written to it, the answers read back, and when the server closed it. */
    const connect = (url: string) => {
      const u = new URL(url);
      const socket = net.connect(Number(u.port), u.hostname);
      let text = '';
      socket.on('data', (d) => (text += d));
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      return {
        get: () => socket.write(`GET /healthz HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`),
        answers: () => text.match(/HTTP\/1\.1 200/g)?.length ?? 0,
        keepAlive: () => text.match(/^keep-alive: (.*)\r$/im)?.[1],
        closed,
        destroy: () => socket.destroy(),
      };
    };
    const short = await startManager({ HTTP_KEEP_ALIVE_MS: '1000' });
    const usual = await startManager();
    try {
      const a = connect(short.url);
      a.get();
      await eventually(async () => a.answers() === 1);
      expect(a.keepAlive()).toBe('timeout=1');
      // Idle for less than the timeout: the same connection still answers.
      await sleep(400);
      a.get();
      await eventually(async () => a.answers() === 2);
      // Idle past it: the server closes the connection.
      await a.closed;
      const b = connect(usual.url);
      b.get();
      await eventually(async () => b.answers() === 1);
      expect(b.keepAlive()).toBe('timeout=65');
      b.destroy();
    } finally {
      await short.stop();
      await usual.stop();
    }
  });

  it('reports not ready once the database is gone', async () => {
    const m = await startManager();
    await m.manager.database.close();
    const res = await m.call('GET', '/readyz');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('not_ready');
    await m.stop().catch(() => {});
  });

  it('keeps its data across a restart on the same database', async () => {
    const db = await createTestDatabase();
    const env: Record<string, string> = { ...db.env };
    if (!onPostgres()) {
      const dir = mkdtempSync(join(tmpdir(), 'cnp-restart-'));
      dirs.push(dir);
      env.PGLITE_DATA_DIR = dir;
    }
    const first = await startManager(env, db);
    const agent = await first.call('POST', '/v1/agents', {
      name: 'survivor',
      endpoint: 'http://127.0.0.1:9999',
      capabilities: [{ name: 'x.y' }],
    });
    const task = await first.call('POST', '/v1/tasks', { capability: 'nobody.here', input: { keep: true } });
    await first.stop();

    const second = await startManager(env, db);
    try {
      expect((await second.call('GET', `/v1/tasks/${task.body.id}`)).body.input).toEqual({ keep: true });
      // The agent's token still works: the manager secret lives in the database.
      const hb = await second.call(
        'POST',
        `/v1/agents/${agent.body.agent.id}/heartbeat`,
        {},
        {
          authorization: `Bearer ${agent.body.token}`,
        },
      );
      expect(hb.status).toBe(200);
    } finally {
      await second.stop();
      await db.drop();
    }
  });

  it('after a restart, lets an agent deliver a result whose dueAt passed while the manager was down', async () => {
    const db = await createTestDatabase();
    const env: Record<string, string> = {
      ...db.env,
      DUE_GRACE_FACTOR: '1',
      DUE_GRACE_MS: '0',
      RESTART_GRACE_MS: '5000',
    };
    if (!onPostgres()) {
      const dir = mkdtempSync(join(tmpdir(), 'cnp-restart-grace-'));
      dirs.push(dir);
      env.PGLITE_DATA_DIR = dir;
    }
    const first = await startManager(env, db);
    const fleet = new Fleet(first.url);
    // Agrees to the award and keeps the result, as if the manager died before it could report.
    // Its estimate leaves the first manager time to stop before the award falls due (a loaded
    // machine needed more than 200 ms between the agreement and the stop).
    const holder = await fleet.raw('holder', 'hold.work', (req, res) =>
      req.path === '/cfp'
        ? json(res, { type: 'propose', cost: 1, etaMs: 2000 })
        : json(res, req.path === '/award' ? { type: 'agree' } : { ok: true }),
    );
    try {
      const id = (
        await first.call('POST', '/v1/tasks', { capability: 'hold.work', input: {}, bidWindowMs: 500 })
      ).body.id;
      const events = async () =>
        (await first.call('GET', `/v1/tasks/${id}/events`)).body.items as { type: string; data: any }[];
      const agreed = await eventually(async () => (await events()).find((e) => e.type === 'award.agreed'));
      await first.stop();
      await sleep(Math.max(0, Date.parse(agreed.data.dueAt) - Date.now()) + 300);

      const second = await startManager(env, db);
      try {
        await sweeps(second, 3);
        const res = await second.call(
          'POST',
          `/v1/tasks/${id}/result`,
          { awardId: agreed.data.awardId, type: 'inform-result', output: { late: true } },
          { authorization: `Bearer ${holder.token}` },
        );
        expect(res.status).toBe(200);
        expect(res.body.state).toBe('completed');
      } finally {
        await second.stop();
      }
    } finally {
      await fleet.stopAll();
      await db.drop();
    }
  });

  it('stops at startup on a bad setting, saying which variable and what is expected', async () => {
    const p = runTs('src/server.ts', [], { PORT: 'eighty', PGLITE_DATA_DIR: 'memory://' });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toMatch(/PORT="eighty"/);
    expect(p.stderr().trim().split('\n')).toHaveLength(1);
    const q = runTs('src/server.ts', [], { DATABASE_URL: 'mysql://x', PGLITE_DATA_DIR: 'memory://' });
    expect(await q.exited).toBe(2);
    expect(q.stderr()).toMatch(/DATABASE_URL/);
  });

  it('shuts down gracefully on SIGTERM, finishing an in-flight long-poll', async () => {
    const db = await createTestDatabase();
    const p = runTs('src/server.ts', [], { ...db.env, PORT: '0', SHUTDOWN_TIMEOUT_MS: '1000' });
    try {
      const url = await waitForListening(p);
      const call = client(url);
      const task = await call('POST', '/v1/tasks', { capability: 'nobody.here', input: 1 });
      const poll = call('GET', `/v1/tasks/${task.body.id}?waitMs=30000`).catch((e) => e);
      await new Promise((r) => setTimeout(r, 200));
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      await poll;
      expect(p.stdout()).toContain('shutting down');
    } finally {
      p.child.kill('SIGKILL');
      await db.drop();
    }
  });
});
