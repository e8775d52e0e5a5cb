import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarketApi } from './market-api.ts';

describe('MarketApi', () => {
  const seen: string[] = [];
  let answers: number[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.headers['idempotency-key'] ?? '-'}`);
    const status = answers.shift() ?? 200;
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(status === 503 ? { 'retry-after': '1' } : {}),
    });
    res.end(
      JSON.stringify(
        status === 503 ? { error: { code: 'database_unavailable', message: 'later' } } : { ok: true },
      ),
    );
  });
  let api: MarketApi;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    api = new MarketApi(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'Bearer k');
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends a read, or a write with an Idempotency-Key, once more after a 503', async () => {
    answers = [503, 202];
    expect(await api.call('POST', '/v1/tasks', { a: 1 }, { 'idempotency-key': 'k1' })).toEqual({
      status: 202,
      body: { ok: true },
    });
    expect(seen).toEqual(['POST k1', 'POST k1']);
  });

  it('never sends a write without a key twice', async () => {
    seen.length = 0;
    answers = [503, 200];
    expect((await api.call('POST', '/v1/tasks/x/cancel')).status).toBe(503);
    expect(seen).toEqual(['POST -']);
  });
});
