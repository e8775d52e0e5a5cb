/**
 * What one call to an agent costs the manager (AgentClient: signed, timed out, breaker and
 * bulkhead, reply checked by zod, metrics), beside the same POST made by a plain keep-alive
 * node:http client and by bare undici (with and without an AbortSignal, which the timeout
 * needs), against the same agents in another process. CPU of this process per call.
 *
 * Usage: node --import tsx bench/agent-calls.ts [--calls N] [--concurrency C] [--agents K]
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
  },
});
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
const results = [];
results.push(await measure('node:http (bare)', (n, e) => requestJson(pool, 'POST', `${e}/cfp`, cfpOf(n))));
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
results.push(await measure('undici.request', undiciCfp(false)));
results.push(await measure('undici.request + AbortSignal', undiciCfp(true)));
const config = loadConfig({
  MANAGER_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
  OUTBOUND_LOOPBACK: 'allow',
});
const logger = pino({ level: 'warn' });
// The manager's own metrics (the database is read only when /metrics is scraped, never here).
const metrics = createMetrics(null as never);
const client = new AgentClient(config, logger, { guard: new OutboundGuard(), metrics });
const token = 'x'.repeat(43);
results.push(
  await measure('AgentClient.cfp', (n, e) =>
    client.cfp({ id: e, endpoint: e, token }, cfpOf(n) as never, Date.now() + 2000),
  ),
);
results.push(
  await measure('AgentClient.notify', (_n, e) =>
    client.notify({ id: e, endpoint: e, token }, '/reject', {
      type: 'reject-proposal',
      conversationId: '00000000-0000-4000-8000-000000000000',
      round: 1,
      reason: 'another_bid_accepted',
    } as never),
  ),
);
const base = results[0]!.perCallUs;
console.log(
  `# agent calls: ${calls} of each kind, ${concurrency} at once, ${values.agents} agents in another process`,
);
console.log(
  `# command: node --import tsx bench/agent-calls.ts --calls ${calls} --concurrency ${concurrency} --agents ${values.agents}`,
);
console.log('| client | CPU µs per call | vs node:http | calls/s |');
console.log('| --- | --- | --- | --- |');
for (const r of results)
  console.log(
    `| ${r.name} | ${r.perCallUs.toFixed(1)} | ${(r.perCallUs / base).toFixed(2)}x | ${r.callsPerS.toFixed(0)} |`,
  );
pool.destroy();
await client.close();
await stopChild(agentsProc);
process.exit(0);
