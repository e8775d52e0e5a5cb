/**
 * Round throughput and latency: a manager (PGlite in memory, or DATABASE_URL) and 5 SDK agents
 * in this process, N tasks submitted in waves; prints tasks/s, latency percentiles and memory.
 * Usage: npm run bench -- [--tasks N] [--wave W]
 */
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.ts';
import { queryRows } from '../src/db/client.ts';
import { createManager } from '../src/manager.ts';
import { defineAgent, type RunningAgent } from '../src/sdk/index.ts';

const { values } = parseArgs({
  options: { tasks: { type: 'string', default: '1000' }, wave: { type: 'string', default: '200' } },
});
const N = Number(values.tasks);
const WAVE = Number(values.wave);

const manager = await createManager(
  loadConfig({
    PORT: '0',
    LOG_LEVEL: 'silent',
    PGLITE_DATA_DIR: 'memory://',
    DATABASE_URL: process.env.DATABASE_URL,
  }),
);
const url = await manager.listen();
const run = Date.now().toString(36);
const agents: RunningAgent[] = [];
for (let i = 0; i < 5; i++) {
  agents.push(
    await defineAgent({
      // Unique per run: on a shared PostgreSQL database earlier runs' agents are still registered.
      name: `bench-${run}-${i}`,
      capabilities: [`bench.work-${run}`],
      maxConcurrency: 64,
      inlineResultMs: 20,
      bid: (_cfp, load) => ({ type: 'propose', cost: 1 + i + load.running, etaMs: 100 + 10 * i }),
      execute: (input: { n: number }) => ({ squared: input.n * input.n }),
    }).start({ manager: url, heartbeatMs: 60_000 }),
  );
}

const post = async (n: number) => {
  const res = await fetch(`${url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ capability: `bench.work-${run}`, input: { n }, bidWindowMs: 2000 }),
  });
  return ((await res.json()) as { id: string }).id;
};
const wait = async (id: string) =>
  (await (await fetch(`${url}/v1/tasks/${id}?waitMs=60000`)).json()) as {
    state: string;
    createdAt: string;
    completedAt: string;
  };

const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const results: { state: string; createdAt: string; completedAt: string }[] = [];
for (let i = 0; i < N; i += WAVE) {
  const ids = await Promise.all(Array.from({ length: Math.min(WAVE, N - i) }, (_, k) => post(i + k)));
  results.push(...(await Promise.all(ids.map(wait))));
}
const seconds = (performance.now() - started) / 1000;
const latencies = results
  .map((t) => Date.parse(t.completedAt) - Date.parse(t.createdAt))
  .sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
const completed = results.filter((t) => t.state === 'completed').length;

console.log(`database            ${manager.database.driver}`);
console.log(`tasks               ${N} in waves of ${WAVE}, 5 agents, one process`);
console.log(`completed           ${completed}/${N}`);
console.log(`throughput          ${(N / seconds).toFixed(1)} tasks/s (${seconds.toFixed(1)} s)`);
console.log(
  `latency submit->end p50 ${pct(50)} ms, p95 ${pct(95)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms`,
);
console.log(
  `rss                 ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (was ${(rssBefore / 2 ** 20).toFixed(0)} MiB before the run)`,
);

const outcomes = await queryRows<{ outcome: string; n: number }>(
  manager.database.db,
  sql`select outcome, count(*)::int as n from bids join tasks on tasks.id = bids.task_id where tasks.capability = ${`bench.work-${run}`} group by outcome order by 2 desc`,
);
const rounds = await queryRows<{ rounds: number; n: number }>(
  manager.database.db,
  sql`select round as rounds, count(*)::int as n from tasks where capability = ${`bench.work-${run}`} group by round order by 1`,
);
const awardEnds = await queryRows<{ status: string; reason: string | null; n: number }>(
  manager.database.db,
  sql`select awards.status::text, left(awards.reason, 80) as reason, count(*)::int as n from awards join tasks on tasks.id = awards.task_id where tasks.capability = ${`bench.work-${run}`} group by 1, 2 order by 3 desc`,
);
console.log(
  `awards              ${awardEnds.map((a) => `${a.status}${a.reason ? ` (${a.reason})` : ''} ${a.n}`).join(', ')}`,
);
console.log(`bid outcomes        ${outcomes.map((o) => `${o.outcome} ${o.n}`).join(', ')}`);
console.log(`rounds per task     ${rounds.map((r) => `${r.rounds}: ${r.n}`).join(', ')}`);

for (const a of agents) await a.stop({ graceMs: 100, deregister: false });
await manager.stop();
process.exit(completed === N ? 0 : 1);
