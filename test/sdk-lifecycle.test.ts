import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAgent } from '../src/sdk/index.ts';
import { fixedBidder } from './support/agents.ts';
import { eventually, sleep, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { freePort, runTs } from './support/processes.ts';

describe('agent SDK lifecycle', () => {
  let m: TestManager;
  const dir = mkdtempSync(join(tmpdir(), 'cnp-sdk-'));
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(async () => {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its id and token across restarts through its token file, and deregisters on stop', async () => {
    const tokenFile = join(dir, 'agent.json');
    const spec = fixedBidder('restarts', 1, 100);
    const first = await defineAgent(spec).start({ manager: m.url, tokenFile });
    const saved = JSON.parse(readFileSync(tokenFile, 'utf8'));
    expect(saved).toMatchObject({ agentId: first.id, manager: m.url });
    await first.stop({ deregister: false });

    const second = await defineAgent(spec).start({ manager: m.url, tokenFile });
    expect(second.id).toBe(first.id);
    expect((await m.call('GET', `/v1/agents/${second.id}`)).body.endpoint).toBe(second.url);
    await second.stop();
    expect((await m.call('GET', `/v1/agents/${second.id}`)).body.status).toBe('deregistered');
  });

  it('rotates its token: saved, used for its calls, and the manager signs with the new one', async () => {
    const tokenFile = join(dir, 'rotating.json');
    const a = await defineAgent(fixedBidder('rotating', 1, 100, { capabilities: ['rotate.test'] })).start({
      manager: m.url,
      tokenFile,
    });
    try {
      const before = JSON.parse(readFileSync(tokenFile, 'utf8')).token;
      await a.rotateToken();
      const after = JSON.parse(readFileSync(tokenFile, 'utf8')).token;
      expect(after).not.toBe(before);
      const old = { authorization: `Bearer ${before}` };
      expect((await m.call('POST', `/v1/agents/${a.id}/heartbeat`, {}, old)).status).toBe(403);
      // A round after the rotation: the cfp and award verify under the new token, the result is accepted.
      const t = await m.call('POST', '/v1/tasks', { capability: 'rotate.test', input: { n: 4 } });
      const done = await waitEnd(m, t.body.id, 15000);
      expect(done).toMatchObject({ state: 'completed', output: { doubled: 8, by: 'rotating' } });
    } finally {
      await a.stop();
    }
  });

  it('explains a name clash when it has no token for the name', async () => {
    const a = await defineAgent(fixedBidder('clash', 1, 100)).start({ manager: m.url, log: () => {} });
    // Another agent of that name, without the first one's token file.
    await expect(
      defineAgent(fixedBidder('clash', 1, 100)).start({ manager: m.url, tokenFile: false, log: () => {} }),
    ).rejects.toThrow(/registered already/);
    await a.stop();
  });

  it('runs pull-only: registered without endpoint, never sent a cfp, takes queued work by claim', async () => {
    const a = await defineAgent({
      ...fixedBidder('puller', 1, 100),
      capabilities: ['pull.only'],
      bid: () => {
        throw new Error('a pull-only agent is never asked to bid');
      },
    }).start({ manager: m.url, pullOnly: true });
    try {
      expect(a.url).toBeNull();
      expect((await m.call('GET', `/v1/agents/${a.id}`)).body.endpoint).toBeNull();
      const t = await m.call('POST', '/v1/tasks', { capability: 'pull.only', input: { n: 5 } });
      expect(t.body.state).toBe('queued');
      const done = await waitEnd(m, t.body.id, 15000);
      expect(done).toMatchObject({ state: 'completed', output: { doubled: 10, by: 'puller' } });
      expect(done.award.agentId).toBe(a.id);
    } finally {
      await a.stop();
    }
  });

  it('sends heartbeats with its running count', async () => {
    const a = await defineAgent(fixedBidder('beats', 1, 100)).start({ manager: m.url, heartbeatMs: 100 });
    await eventually(async () => (await m.call('GET', `/v1/agents/${a.id}`)).body.lastHeartbeatAt);
    await a.stop();
  });

  it('runs no more awarded tasks at once than its maxConcurrency', async () => {
    let running = 0;
    let peak = 0;
    const a = await defineAgent({
      ...fixedBidder('bounded', 1, 100),
      capabilities: ['bounded.work'],
      maxConcurrency: 2,
      execute: async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(150);
        running--;
        return 'ok';
      },
    }).start({ manager: m.url });
    const ids = await Promise.all(
      Array.from(
        { length: 6 },
        async () =>
          (await m.call('POST', '/v1/tasks', { capability: 'bounded.work', input: {}, bidWindowMs: 500 }))
            .body.id,
      ),
    );
    const ends = await Promise.all(ids.map(async (id) => (await waitEnd(m, id, 20000)).state));
    expect(ends).toEqual(Array(6).fill('completed'));
    expect(peak).toBe(2);
    await a.stop();
  });

  it('frees a work slot when the work is done, not when the manager has taken its result', async () => {
    const DELAY_MS = 3000;
    // Between agent and manager: result reports take DELAY_MS to get through, as from a busy manager.
    const proxy = await delayingProxy(
      m.url,
      (method, url) => method === 'POST' && url.endsWith('/result'),
      DELAY_MS,
    );
    const started: number[] = [];
    const a = await defineAgent({
      ...fixedBidder('slot-free', 1, 100),
      capabilities: ['slot.work'],
      maxConcurrency: 1,
      execute: async () => {
        started.push(Date.now());
        await sleep(20);
        return 'ok';
      },
    }).start({ manager: proxy.url });
    try {
      const ids = await Promise.all(
        Array.from(
          { length: 3 },
          async () =>
            (await m.call('POST', '/v1/tasks', { capability: 'slot.work', input: {}, bidWindowMs: 500 })).body
              .id,
        ),
      );
      const ends = await Promise.all(ids.map(async (id) => (await waitEnd(m, id, 30000)).state));
      expect(ends).toEqual(Array(3).fill('completed'));
      expect(started).toHaveLength(3);
      // Held until its report got through, each job would have waited DELAY_MS for the one before.
      expect(Math.max(...started) - Math.min(...started)).toBeLessThan(DELAY_MS);
    } finally {
      await a.stop();
      await proxy.close();
    }
  });
});

/** An HTTP proxy to `target` that holds requests matching `slow` for `delayMs` before forwarding them. */
async function delayingProxy(
  target: string,
  slow: (method: string, url: string) => boolean,
  delayMs: number,
) {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (slow(req.method!, req.url!)) await sleep(delayMs);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
    ) as Record<string, string>;
    const upstream = await fetch(target + req.url, {
      method: req.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
    });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('an SDK agent process, as a user runs it (npm run agent)', () => {
  it('waits for a manager that is not up, says where it listens, comes back under its id, deregisters on SIGTERM', async () => {
    const home = mkdtempSync(join(tmpdir(), 'cnp-agent-home-'));
    const port = await freePort();
    const managerUrl = `http://127.0.0.1:${port}`;
    const run = () =>
      runTs('bin/cnet.js', ['--manager', managerUrl, 'agent', 'calculator'], { CNET_AGENT_HOME: home });
    let p = run();
    let m: TestManager | undefined;
    try {
      // No manager yet: one line saying so, and it tries again.
      await eventually(
        () => p.stderr().includes(`cannot reach the manager at ${managerUrl} (ECONNREFUSED)`),
        15_000,
      );
      expect(p.stderr()).not.toMatch(/TypeError|at .*\.ts:\d+/);
      m = await startManager({ PORT: String(port) });
      const line = await eventually(
        () =>
          /agent "calculator" listening on (http:\/\/127\.0\.0\.1:\d+), registered as (\S+) with/.exec(
            p.stderr(),
          ),
        20_000,
        'the agent to register',
      );
      const id = line[2]!;
      expect((await m.call('GET', `/v1/agents/${id}`)).body).toMatchObject({
        status: 'active',
        endpoint: line[1],
      });
      // Killed outright, it comes back under the same id (its token file is per name and manager).
      p.child.kill('SIGKILL');
      await p.exited;
      p = run();
      await eventually(() => p.stderr().includes(`registered as ${id}`), 20_000, 'the same id again');
      // SIGTERM: it deregisters and exits.
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(143);
      expect((await m.call('GET', `/v1/agents/${id}`)).body.status).toBe('deregistered');
    } finally {
      p.child.kill('SIGKILL');
      await m?.stop();
      rmSync(home, { recursive: true, force: true });
    }
  }, 90_000);
});
