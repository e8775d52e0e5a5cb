import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep, startManager, type TestManager } from './support/harness.ts';

/** A raw HTTP/1.1 exchange: what is written is exactly `head` and then `body`. */
function raw(url: string, head: string, body: Buffer | string, opts: { end?: 'close' | 'wait' } = {}) {
  const { port } = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(head);
      socket.write(body);
      if (opts.end === 'close') socket.end();
    });
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('utf8');
    });
    socket.on('end', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

const taskCount = async (m: TestManager) =>
  (await m.call('GET', '/v1/tasks?limit=200')).body.items.length as number;

/**
 * Bodies are read from Node's own request (src/http/node-request.ts), not through a fetch
 * Request; these pin down that they are read exactly as before, and that a caller who goes away
 * frees what it held.
 */
describe('request bodies and callers read from Node directly', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({ MAX_LONG_POLLS_PER_CLIENT: '2', BODY_LIMIT_BYTES: '2048' });
  });
  afterAll(() => m.stop());

  it('takes a body that starts with a UTF-8 byte order mark, as Request.text() does', async () => {
    const json = Buffer.from(JSON.stringify({ capability: 'nobody.here', input: { s: 'é' } }));
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]);
    const { port } = new URL(m.url);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/v1/tasks',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(202);
    const task = JSON.parse(answer.text);
    expect((await m.call('GET', `/v1/tasks/${task.id}`)).body.input).toEqual({ s: 'é' });
  });

  it('replaces bytes that are not UTF-8 and still names the field a bad value is in', async () => {
    const body = Buffer.concat([
      Buffer.from('{"capability":"nobody.here","input":{},"budget":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const before = await taskCount(m);
    const answer = await raw(
      m.url,
      `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 422/);
    expect(answer).toContain('budget');
    expect(await taskCount(m)).toBe(before);
  });

  it('survives a caller that closes before the body it announced has arrived, storing nothing', async () => {
    const before = await taskCount(m);
    const partial = '{"capability":"nobody.here","input":{"n":';
    const answer = await raw(
      m.url,
      `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n`,
      partial,
      { end: 'close' },
    );
    expect(answer).not.toMatch(/^HTTP\/1\.1 2/);
    await sleep(100);
    expect(await taskCount(m)).toBe(before);
    expect((await m.call('GET', '/healthz')).status).toBe(200);
  });

  it('reads a chunked body (no Content-Length) through Hono, with the body limit counted as it streams', async () => {
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const head =
      'POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const ok = await raw(
      m.url,
      head,
      `${chunk('{"capability":"nobody.here",') + chunk('"input":{"n":1}}')}0\r\n\r\n`,
    );
    expect(ok).toMatch(/^HTTP\/1\.1 202/);
    const big = await raw(
      m.url,
      head,
      `${chunk(`{"capability":"x","input":"${'a'.repeat(3000)}"}`)}0\r\n\r\n`,
    );
    expect(big).toMatch(/^HTTP\/1\.1 413/);
  });

  it('frees a long-poll slot as soon as its caller goes away, not when its wait ends', async () => {
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.here', input: {} });
    const gone = [1, 2].map(() => new AbortController());
    const polls = gone.map((ctl) =>
      fetch(`${m.url}/v1/tasks/${task.id}?waitMs=60000`, { signal: ctl.signal }).catch(() => null),
    );
    await eventually(() => m.manager.held.polls.total === 2, 10_000, 'both long-polls held');
    expect((await m.call('GET', `/v1/tasks/${task.id}?waitMs=1`)).status).toBe(429);
    for (const ctl of gone) ctl.abort();
    await Promise.all(polls);
    // Well before the 60 s the abandoned polls asked for, both slots are free again.
    const again = await eventually(async () => {
      const r = await m.call('GET', `/v1/tasks/${task.id}?waitMs=1`);
      return r.status === 200 ? r : null;
    });
    expect(again.body.id).toBe(task.id);
  });
});
