import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepAlivePool, requestJson } from './http.ts';

export type RoundTimings = { seconds: number; latencies: number[] };

/**
 * The reference: the same HTTP exchanges as a manager's round (a cfp to every agent, one
 * accept-proposal, a reject to every other bidder, and the winner's result POSTed back) made by a
 * plain keep-alive node:http client, with no manager and no database. `clients` loops run at once.
 */
export async function runBareRounds(
  endpoints: string[],
  rounds: number,
  clients: number,
): Promise<RoundTimings> {
  const pool = keepAlivePool();
  const waiting = new Map<string, () => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { awardId: string };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"state":"completed"}');
      waiting.get(body.awardId)?.();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const resultUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/result`;

  const task = { capability: 'bench.work', budget: null, deadline: null, priority: 0 };
  const oneRound = async (n: number) => {
    const id = randomUUID();
    const cfp = {
      type: 'cfp',
      conversationId: id,
      round: 1,
      replyBy: new Date(Date.now() + 2000).toISOString(),
      task: { ...task, id, input: { n } },
    };
    const replies = await Promise.all(
      endpoints.map((e) => requestJson<{ type: string; cost: number }>(pool, 'POST', `${e}/cfp`, cfp)),
    );
    let best = 0;
    replies.forEach((r, i) => {
      if (r.body.cost < replies[best]!.body.cost) best = i;
    });
    const awardId = randomUUID();
    const done = new Promise<void>((r) => waiting.set(awardId, r));
    await requestJson(pool, 'POST', `${endpoints[best]}/award`, {
      type: 'accept-proposal',
      conversationId: id,
      round: 1,
      awardId,
      task: { ...task, id, input: { n } },
      dueAt: new Date(Date.now() + 5000).toISOString(),
      resultUrl,
    });
    const rejects = endpoints
      .filter((_, i) => i !== best)
      .map((e) =>
        requestJson(pool, 'POST', `${e}/reject`, {
          type: 'reject-proposal',
          conversationId: id,
          round: 1,
          reason: 'another_bid_accepted',
        }),
      );
    await Promise.all([done, ...rejects]);
    waiting.delete(awardId);
  };

  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < rounds) {
        const n = next++;
        const t0 = performance.now();
        await oneRound(n);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  server.close();
  pool.destroy();
  return { seconds, latencies: latencies.sort((a, b) => a - b) };
}
