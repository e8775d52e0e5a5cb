import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { keepAlivePool, requestJson } from './http.ts';

/** CPU ms of this process for `work`, divided by `n`. */
async function cpuPer(n: number, work: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / n;
}

/** `n` calls of `one`, `concurrency` at a time. */
async function many(n: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
}

/** A cfp-sized JSON body, as a round sends. */
const BODY = {
  type: 'cfp',
  conversationId: '0190b2d4-0000-7000-8000-000000000000',
  round: 1,
  replyBy: new Date().toISOString(),
  task: {
    id: '0190b2d4-0000-7000-8000-000000000000',
    capability: 'bench.work',
    input: { n: 1 },
    budget: null,
  },
};

/** A client in a process of its own: `n` keep-alive POSTs to `url`, 16 at a time. */
const CLIENT = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const [url, n, body] = process.argv.slice(1);
let next = 0;
const one = () => new Promise((resolve, reject) => {
  const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', reject);
  req.end(body);
});
Promise.all(Array.from({ length: 16 }, async () => { while (next < Number(n)) { next++; await one(); } })).then(() => process.exit(0));
`;

export type Floor = { outboundMs: number; inboundMs: number; statementMs: number | null };

/**
 * The floor of a round's messages, measured in this run on this machine: the CPU of one bare
 * outbound call (node:http keep-alive, client side, to a bare agent), one minimal inbound request
 * (node:http server side, body read and answered with JSON) and one prepared statement
 * (postgres.js, client side). A round at the floor costs 2 × agents calls out (cfps, the award,
 * the rejects), 3 requests in (submit, long-poll, result) and its statements.
 */
export async function measureFloor(opts: {
  endpoint: string;
  databaseUrl?: string;
  n?: number;
}): Promise<Floor> {
  const n = opts.n ?? 4000;
  const pool = keepAlivePool(16);
  const url = `${opts.endpoint}/cfp`;
  await many(500, 16, () => requestJson(pool, 'POST', url, BODY)); // warm-up
  const outboundMs = await cpuPer(n, () => many(n, 16, () => requestJson(pool, 'POST', url, BODY)));
  pool.destroy();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { round: number };
      const text = JSON.stringify({ type: 'propose', cost: parsed.round, etaMs: 100 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const drive = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', CLIENT, target, String(count), JSON.stringify(BODY)], {
        stdio: 'ignore',
      });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client exited ${code}`))));
    });
  await drive(500);
  const inboundMs = await cpuPer(n, () => drive(n));
  server.closeAllConnections();
  await new Promise((r) => server.close(r));

  let statementMs: number | null = null;
  if (opts.databaseUrl) {
    const sql = postgres(opts.databaseUrl, { max: 4, onnotice: () => {} });
    const one = (i: number) => sql.unsafe('select $1::int as x', [i], { prepare: true });
    await many(500, 16, one);
    statementMs = await cpuPer(n, () => many(n, 16, one));
    await sql.end();
  }
  return { outboundMs, inboundMs, statementMs };
}

/** A round's floor in CPU ms: its calls out, its requests in and its statements at their floor. */
export const roundFloorMs = (f: Floor, agents: number, statements: number | null): number =>
  2 * agents * f.outboundMs + 3 * f.inboundMs + (statements ?? 3) * (f.statementMs ?? 0);
