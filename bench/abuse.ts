/**
 * Honest clients beside an abusive one. The same honest load (clients with API keys of their
 * own, submitting to agents that work and long-polling each task to its end) runs through a
 * manager twice: alone, and beside one client key that does everything the abuse audit found
 * (issue 22): floods tasks with ten-minute bid windows at priority 1000 for an agent of its own
 * that defers every bid and never sends it, floods tasks for a capability nobody offers, submits
 * large inputs and cancels them, holds long-polls, all as fast as the manager answers (a 429 is
 * waited out briefly and tried again). It prints the honest clients' completion rate and latency
 * both ways, their ratio, and whether each stays within 20% (exit 1 if not).
 *
 * Usage: node --import tsx bench/abuse.ts [--agents 5] [--tasks 600] [--clients 32] [--pairs 3] [--db pglite|postgres]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { keepAlivePool, percentile, requestJson } from './support/http.ts';
import { type DbKind, fmtPct, type ManagerRoundsResult, runManagerRounds } from './support/manager-rounds.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '5' },
    tasks: { type: 'string', default: '600' },
    clients: { type: 'string', default: '32' },
    db: { type: 'string', default: 'pglite' },
    /** Runs alone and beside the abuser, alternated; the figures are each side's median. */
    pairs: { type: 'string', default: '3' },
  },
});
const db = values.db as DbKind;
if (db === 'postgres' && !process.env.DATABASE_URL) {
  console.error('--db postgres needs DATABASE_URL');
  process.exit(2);
}
/** One key per honest client: each is a client of its own, as the abuser is. */
const honestKeys = Array.from({ length: Number(values.clients) }, (_, i) => `bench-honest-key-${i}`);
const ABUSER_KEY = 'bench-abuser-key';
const env = {
  API_KEYS: [...honestKeys, ABUSER_KEY].join(','),
  // The per-key request budget a deployment sets for clients like these: 10 requests a second,
  // about twice what each honest client sends here, counted over 1 s windows (over 10 s ones the
  // abuser spent a window's budget in its first second). Past it the abuser gets 429s (cheap);
  // what it costs beyond them is what it submits within its budget, and what that holds.
  RATE_LIMIT_WINDOW_MS: '1000',
  RATE_LIMIT_PER_KEY: '10',
  // And bytes: 500 kB of bodies a second per key, a thousand times an honest client's here.
  RATE_LIMIT_BYTES_PER_KEY: '500000',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type AbuseCounts = { requests: number; refused: number; stored: number; errors: number };

/** The abusive client and its agent, against the manager at `url`, until stopped. */
async function abuse(url: string, counts: AbuseCounts): Promise<{ stop(): Promise<void> }> {
  // Its agent: defers every bid and never sends one, so each of its rounds waits out its window.
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/cfp' ? { type: 'deferred' } : {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pool = keepAlivePool(64);
  const auth = { authorization: `Bearer ${ABUSER_KEY}` };
  const reg = await requestJson(pool, 'POST', `${url}/v1/agents`, {
    name: 'bench-abusive-agent',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    capabilities: [{ name: 'abuse.defer' }],
    maxConcurrency: 1000,
  });
  if (reg.status !== 201) throw new Error(`abusive agent: ${reg.status} ${JSON.stringify(reg.body)}`);
  let running = true;
  const ids: string[] = [];
  const big = 'x'.repeat(200_000);
  const send = async (method: string, path: string, body?: unknown) => {
    counts.requests++;
    try {
      const r = await requestJson<{ id?: string }>(pool, method, `${url}${path}`, body, auth);
      if (r.status === 429) {
        counts.refused++;
        await sleep(100);
      } else if (r.status >= 500) counts.errors++;
      return r;
    } catch {
      counts.errors++;
      return null;
    }
  };
  const loop = async (kind: number) => {
    for (let i = 0; running; i++) {
      if (kind === 0) {
        const r = await send('POST', '/v1/tasks', {
          capability: 'abuse.defer',
          input: { i },
          bidWindowMs: 600_000,
          priority: 1000,
        });
        if (r?.status === 202 && r.body.id) {
          counts.stored++;
          ids.push(r.body.id);
        }
      } else if (kind === 1) {
        const r = await send('POST', '/v1/tasks', {
          capability: 'abuse.nobody',
          input: { i },
          priority: 1000,
        });
        if (r?.status === 202) counts.stored++;
      } else if (kind === 2) {
        const r = await send('POST', '/v1/tasks', {
          capability: 'abuse.nobody',
          input: { big },
          priority: 1000,
        });
        if (r?.status === 202 && r.body.id) {
          counts.stored++;
          await send('POST', `/v1/tasks/${r.body.id}/cancel`);
        }
      } else {
        const id = ids[i % Math.max(1, ids.length)];
        if (id) await send('GET', `/v1/tasks/${id}?waitMs=30000`);
        else await sleep(50);
      }
    }
  };
  // For experiments: ABUSE_KINDS=0,1 runs only those loops (0 long windows, 1 unservable, 2 large inputs cancelled, 3 long-polls).
  const kinds = (process.env.ABUSE_KINDS ?? '0,0,1,1,2,3,3,3').split(',').map(Number);
  const loops = kinds.map((k) => loop(k));
  return {
    async stop() {
      running = false;
      pool.destroy();
      await Promise.allSettled(loops);
      server.closeAllConnections();
      server.close();
    },
  };
}

const common = {
  db,
  adminUrl: process.env.DATABASE_URL,
  agents: Number(values.agents),
  tasks: Number(values.tasks),
  clients: Number(values.clients),
  env,
  clientKeys: honestKeys,
};
console.log(
  `# abuse: ${common.clients} honest clients (${honestKeys.length} keys), ${common.agents} agents, ${common.tasks} tasks, ${db}; beside one abusive client key and its deferring agent`,
);
console.log(`# command: npm run bench:abuse -- ${process.argv.slice(2).join(' ')}`.trimEnd());
const counts: AbuseCounts = { requests: 0, refused: 0, stored: 0, errors: 0 };
// Alternated, so a drift of the machine (another process, a warm cache) falls on both sides.
const alones: ManagerRoundsResult[] = [];
const besides: ManagerRoundsResult[] = [];
for (let i = 0; i < Number(values.pairs); i++) {
  alones.push(await runManagerRounds(common));
  besides.push(await runManagerRounds({ ...common, alongside: (url) => abuse(url, counts) }));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const rate = (r: ManagerRoundsResult) => r.completed / r.seconds;
const both = (f: (r: ManagerRoundsResult) => number): [number, number] => [
  median(alones.map(f)),
  median(besides.map(f)),
];
const rows: [string, number, number, boolean][] = [
  ['honest completed tasks/s', ...both(rate), true],
  ['honest completed share', ...both((r) => r.completed / r.tasks), true],
  ['honest submit->completed p50 ms', ...both((r) => percentile(r.latencies, 50)), false],
  ['honest submit->completed p95 ms', ...both((r) => percentile(r.latencies, 95)), false],
];
/** Not judged, shown: where the difference goes. */
const shown: [string, number, number][] = [
  ["manager CPU ms per honest task (the abuser's work included)", ...both((r) => r.cpuPerRound.manager)],
  ['cores busy', ...both((r) => r.machineBusy)],
];
const alone = alones[0]!;
const beside = besides[0]!;
console.log(
  `\nmedians of ${alones.length} runs each way (alternated); honest tasks/s per run alone: ${alones.map((r) => rate(r).toFixed(0)).join(', ')}; beside: ${besides.map((r) => rate(r).toFixed(0)).join(', ')}`,
);
console.log('\n| figure | alone | beside the abuser | ratio | within 20% |');
console.log('| --- | --- | --- | --- | --- |');
let failed = false;
for (const [name, a, b, higherIsBetter] of rows) {
  const ratio = b / a;
  const ok = higherIsBetter ? ratio >= 0.8 : ratio <= 1.2;
  if (!ok) failed = true;
  const f = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
  console.log(`| ${name} | ${f(a)} | ${f(b)} | ${ratio.toFixed(2)} | ${ok ? 'yes' : 'NO'} |`);
}
for (const [name, x, y] of shown)
  console.log(`| ${name} | ${x.toFixed(2)} | ${y.toFixed(2)} | ${(y / x).toFixed(2)} | (shown) |`);
console.log(
  `\nfirst runs' latency p50/p95/p99 ms alone: ${fmtPct(alone.latencies)}; beside: ${fmtPct(beside.latencies)}; manager RSS ${alone.rssMiB.toFixed(0)} / ${beside.rssMiB.toFixed(0)} MiB`,
);
console.log(
  `the abuser, all runs: ${counts.requests} requests, ${counts.refused} answered 429, ${counts.stored} tasks stored, ${counts.errors} errors or 5xx (requests cut off when it is stopped included)`,
);
process.exit(failed ? 1 : 0);
