/**
 * Benchmark agents in a process of their own: K plain node:http servers that answer at once
 * (propose with a fixed price, agree to awards, then report the result to `resultUrl`).
 * With --manager they register there first; without, they serve the bare reference run.
 * Prints one JSON line `{"ready": true, "endpoints": [...]}` once every server listens.
 *
 * Usage: node --import tsx bench/support/agents-process.ts --count K [--manager URL --capability C]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { keepAlivePool, requestJson } from './http.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '5' },
    manager: { type: 'string' },
    capability: { type: 'string', default: 'bench.work' },
    run: { type: 'string', default: String(process.pid) },
  },
});
const count = Number(values.count);
const pool = keepAlivePool();

type Award = { awardId: string; conversationId: string; resultUrl: string; task: { input: { n?: number } } };

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function startAgent(index: number): Promise<{ endpoint: string; setToken(t: string): void }> {
  let token = '';
  const server = http.createServer(async (req, res) => {
    const raw = await readBody(req);
    const send = (body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    switch (req.url) {
      case '/cfp':
        return send({ type: 'propose', cost: 1 + index, etaMs: 100 + index });
      case '/award': {
        send({ type: 'agree' });
        const award = JSON.parse(raw) as Award;
        const n = award.task.input.n ?? 0;
        // Report at once; retry a few times on transport errors, as any agent would.
        for (let attempt = 0; attempt < 5; attempt++) {
          try {
            await requestJson(
              pool,
              'POST',
              award.resultUrl,
              { awardId: award.awardId, type: 'inform-result', output: { squared: n * n } },
              token ? { authorization: `Bearer ${token}` } : {},
            );
            return;
          } catch {
            await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
          }
        }
        return;
      }
      default:
        return send({ ok: true });
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, setToken: (t) => (token = t) };
}

const agents = await Promise.all(Array.from({ length: count }, (_, i) => startAgent(i)));
if (values.manager) {
  for (const [i, a] of agents.entries()) {
    const res = await requestJson<{ token?: string }>(pool, 'POST', `${values.manager}/v1/agents`, {
      name: `bench-${values.run}-${i}`,
      endpoint: a.endpoint,
      capabilities: [{ name: values.capability }],
      maxConcurrency: 1000,
    });
    if (res.status !== 201 || !res.body.token) {
      console.error(`registration failed: ${res.status} ${JSON.stringify(res.body)}`);
      process.exit(1);
    }
    a.setToken(res.body.token);
  }
}
console.log(JSON.stringify({ ready: true, endpoints: agents.map((a) => a.endpoint) }));
process.on('SIGTERM', () => process.exit(0));
