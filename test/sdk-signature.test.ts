import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../src/protocol/signature.ts';
import { Fleet, fixedBidder } from './support/agents.ts';
import { eventually, sleep, startManager, type TestManager } from './support/harness.ts';

describe('agent SDK request signing', () => {
  let m: TestManager;
  let fleet: Fleet;
  let url: string;
  let token: string;
  beforeAll(async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
    const agent = await fleet.start(fixedBidder('signed', 1, 100));
    url = agent.url as string;
    token = agent.manager.token!;
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  const cfp = JSON.stringify({
    type: 'cfp',
    conversationId: '0195a8d0-0000-7000-8000-000000000001',
    round: 1,
    replyBy: new Date(Date.now() + 60_000).toISOString(),
    task: {
      id: '0195a8d0-0000-7000-8000-000000000001',
      capability: 'math.double',
      input: { n: 1 },
      budget: null,
      deadline: null,
      priority: 0,
    },
  });
  const post = (headers: Record<string, string>, body = cfp) =>
    fetch(`${url}/cfp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  it('answers a correctly signed cfp', async () => {
    const res = await post({ 'x-cnp-signature': signBody(token, cfp) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 'propose', cost: 1, etaMs: 100 });
  });

  it('rejects an unsigned request', async () => {
    expect((await post({})).status).toBe(401);
  });

  it('rejects a request signed with another key or over another body', async () => {
    expect((await post({ 'x-cnp-signature': signBody('cnp_not-the-token', cfp) })).status).toBe(401);
    expect((await post({ 'x-cnp-signature': signBody(token, `${cfp} `) })).status).toBe(401);
  });

  it('rejects a stale timestamp and a replayed request', async () => {
    const stale = signBody(token, cfp, Date.now() - 6 * 60_000);
    expect((await post({ 'x-cnp-signature': stale })).status).toBe(401);
    const sig = signBody(token, cfp);
    expect((await post({ 'x-cnp-signature': sig })).status).toBe(200);
    expect((await post({ 'x-cnp-signature': sig })).status).toBe(401);
  });

  it('refuses a signature header in any form but the one the manager writes, so a replay cannot be disguised', async () => {
    const sig = signBody(token, cfp);
    const [t, v1] = sig.split(',');
    const mac = (v1 as string).slice(3);
    for (const variant of [
      `${v1},${t}`, // swapped
      `t= ${(t as string).slice(2)},v1=${mac}`, // spaces
      `${sig},x=1`, // a trailing field
      `t=0${(t as string).slice(2)},v1=${mac}`, // a leading zero
      `t=${(t as string).slice(2)}.0,v1=${mac}`,
      `${sig.toUpperCase()}`,
    ]) {
      const res = await post({ 'x-cnp-signature': variant });
      expect(res.status, variant).toBe(401);
      expect(((await res.json()) as { error: { message: string } }).error.message, variant).toMatch(
        /malformed/,
      );
    }
    expect((await post({ 'x-cnp-signature': sig })).status).toBe(200);
  });

  it('refuses an oversized request with 413 before reading it, and an unsigned one without reading it', async () => {
    const { request } = await import('node:http');
    const send = (headers: Record<string, string>) =>
      new Promise<{ status: number; ms: number }>((resolve, reject) => {
        const t0 = performance.now();
        // Announces 300 MB and sends none of it: an agent that read before checking would wait.
        const req = request(`${url}/cfp`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(300 * 1024 * 1024),
            ...headers,
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 });
          req.destroy();
        });
        req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
        req.flushHeaders();
      });
    const big = await send({ 'x-cnp-signature': signBody(token, cfp) });
    expect(big.status).toBe(413);
    const unsigned = await send({});
    expect(unsigned.status).toBe(401);
  });

  /** Announces `bytes` of body with `signature` and sends none of it; resolves with the status, if any comes. */
  const announce = (signature: string, bytes: number, opened: (() => void)[]) =>
    new Promise<number>((resolve, reject) => {
      void import('node:http').then(({ request }) => {
        const req = request(`${url}/cfp`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(bytes),
            'x-cnp-signature': signature,
          },
        });
        opened.push(() => req.destroy());
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', (e) => (e.message.includes('socket hang up') ? resolve(0) : reject(e)));
        req.flushHeaders();
      });
    });

  it('refuses a stale or replayed signature from its header alone, before reading the body', async () => {
    const opened: (() => void)[] = [];
    try {
      expect(await announce(signBody(token, cfp, Date.now() - 6 * 60_000), 1024 * 1024, opened)).toBe(401);
      const sig = signBody(token, cfp);
      expect((await post({ 'x-cnp-signature': sig })).status).toBe(200);
      expect(await announce(sig, 1024 * 1024, opened)).toBe(401);
    } finally {
      for (const close of opened) close();
    }
  });

  it('reads forged bodies only within a budget: past it, 503 at once instead of memory', async () => {
    const opened: (() => void)[] = [];
    const forged = () =>
      `t=${Date.now()},v1=${Math.random().toString(16).slice(2).padEnd(64, '0').slice(0, 64)}`;
    try {
      // Eight bodies of the limit (2 MiB) are being read, never finished: the ninth is refused.
      const pending = Array.from({ length: 8 }, () => announce(forged(), 2 * 1024 * 1024, opened));
      const refused = await eventually(async () => {
        const status = await Promise.race([
          announce(forged(), 2 * 1024 * 1024, opened),
          sleep(1000).then(() => -1),
        ]);
        return status === 503 ? status : null;
      });
      expect(refused).toBe(503);
      for (const close of opened) close();
      await Promise.all(pending);
      // Once they are gone, the budget is back: a signed cfp is answered.
      const ok = await eventually(
        async () => (await post({ 'x-cnp-signature': signBody(token, cfp) })).status === 200,
      );
      expect(ok).toBe(true);
    } finally {
      for (const close of opened) close();
    }
  });
});
