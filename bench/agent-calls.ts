/**
 * What one call to an agent costs the manager (AgentClient: signed, timed out, breaker and
 * bulkhead, reply checked by zod, metrics), beside the same POST made by a plain keep-alive
 * node:http client and by bare undici (with and without an AbortSignal, which the timeout
 * needs), against the same agents in another process. CPU of this process per call.
 *
 * Each client is measured `repeat` times, the clients taking turns; the median is printed.
 *
 * Usage: node --import tsx bench/agent-calls.ts [--calls N] [--concurrency C] [--agents K] [--repeat R]
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { request } from 'undici';
import { loadConfig } from '../src/config.ts';
import { createMetrics } from '../src/observability/prometheus.ts';
import { AgentClient } from '../src/resilience/agent-client.ts';
import { OutboundGuard } from '../src/resilience/outbound-guard.ts';
import { keepAlivePool, requestJson } from './support/http.ts';
import { spawnTs, stopChild, waitReady } from './support/processes.ts';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '40000' },
    concurrency: { type: 'string', default: '64' },
    agents: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '3' },
  },
});
const repeat = Number(values.repeat);
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);

const agentsProc = spawnTs('bench/support/agents-process.ts', ['--count', values.agents!], {});
const { endpoints } = await waitReady<{ endpoints: string[] }>(agentsProc);

const cfpOf = (n: number) => ({
  type: 'cfp',
  conversationId: '00000000-0000-4000-8000-000000000000',
  round: 1,
  replyBy: new Date(Date.now() + 2000).toISOString(),
  task: {
    id: '00000000-0000-4000-8000-000000000000',
    capability: 'bench.work',
    input: { n },
    budget: null,
    deadline: null,
    priority: 0,
  },
});

async function measure(name: string, one: (n: number, endpoint: string) => Promise<unknown>) {
  const run = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const n = next++;
          await one(n, endpoints[n % endpoints.length]!);
        }
      }),
    );
  };
  await run(Math.min(5000, calls)); // warm up
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await run(calls);
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  const perCall = (used.user + used.system) / 1000 / calls;
  return { name, perCallUs: perCall * 1000, callsPerS: calls / (ms / 1000) };
}

const pool = keepAlivePool(256);
type Variant = [name: string, one: (n: number, endpoint: string) => Promise<unknown>];
const variants: Variant[] = [];
variants.push(['node:http (bare)', (n, e) => requestJson(pool, 'POST', `${e}/cfp`, cfpOf(n))]);
/** A cfp by bare undici; `withSignal`: with an AbortSignal, as a timeout needs. */
const undiciCfp = (withSignal: boolean) => async (n: number, e: string) => {
  const res = await request(`${e}/cfp`, {
    method: 'POST',
    body: JSON.stringify(cfpOf(n)),
    headers: { 'content-type': 'application/json' },
    ...(withSignal ? { signal: new AbortController().signal } : {}),
  });
  return JSON.parse(await res.body.text());
};
variants.push(['undici.request', undiciCfp(false)]);
variants.push(['undici.request + AbortSignal', undiciCfp(true)]);
const config = loadConfig({
  MANAGER_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
  OUTBOUND_LOOPBACK: 'allow',
});
const logger = pino({ level: 'warn' });
// The manager's own metrics (the database is read only when /metrics is scraped, never here).
const metrics = createMetrics(null as never);
const client = new AgentClient(config, logger, { guard: new OutboundGuard(), metrics });
const token = 'x'.repeat(43);
variants.push([
  'AgentClient.cfp',
  (n, e) => client.cfp({ id: e, endpoint: e, token }, cfpOf(n) as never, Date.now() + 2000),
]);
const reject = {
  type: 'reject-proposal',
  conversationId: '00000000-0000-4000-8000-000000000000',
  round: 1,
  reason: 'another_bid_accepted',
} as const;
variants.push([
  'AgentClient.notify',
  (_n, e) => client.notify({ id: e, endpoint: e, token }, '/reject', reject),
]);
// A round's losers: four reject-proposals at once under one shared deadline (every fourth
// turn sends four, so the CPU per turn is the CPU per call).
variants.push([
  'AgentClient.notifyEach, 4 at once (per call)',
  async (n) => {
    if (n % 4 !== 0) return;
    await client.notifyEach(
      [0, 1, 2, 3].map((k) => {
        const e = endpoints[(n + k) % endpoints.length]!;
        return { id: e, endpoint: e, token };
      }),
      reject,
    );
  },
]);
// Each variant measured `repeat` times, the variants taking turns, so that a slow spell of the
// machine falls on all of them; the median is printed, with the range.
const runs = new Map<string, { perCallUs: number; callsPerS: number }[]>();
for (let r = 0; r < repeat; r++)
  for (const [name, one] of variants) {
    const m = await measure(name, one);
    runs.set(name, [...(runs.get(name) ?? []), m]);
  }
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = [...runs].map(([name, ms]) => ({
  name,
  perCallUs: median(ms.map((m) => m.perCallUs)),
  lo: Math.min(...ms.map((m) => m.perCallUs)),
  hi: Math.max(...ms.map((m) => m.perCallUs)),
  callsPerS: median(ms.map((m) => m.callsPerS)),
}));
const base = results[0]!.perCallUs;
console.log(
  `# agent calls: ${calls} of each kind, ${concurrency} at once, ${values.agents} agents in another process`,
);
console.log(
  `# command: node --import tsx bench/agent-calls.ts --calls ${calls} --concurrency ${concurrency} --agents ${values.agents}`,
);
console.log(`# median of ${repeat} turns each (range in brackets)`);
console.log('| client | CPU µs per call | vs node:http | calls/s |');
console.log('| --- | --- | --- | --- |');
for (const r of results)
  console.log(
    `| ${r.name} | ${r.perCallUs.toFixed(1)} [${r.lo.toFixed(0)}-${r.hi.toFixed(0)}] | ${(r.perCallUs / base).toFixed(2)}x | ${r.callsPerS.toFixed(0)} |`,
  );
pool.destroy();
await client.close();
await stopChild(agentsProc);
process.exit(0);
