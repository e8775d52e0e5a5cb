import { existsSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { hotUpdates, loadHistory } from './history.ts';
import { keepAlivePool, percentile, requestJson } from './http.ts';
import {
  type Child,
  cpuMeter,
  freePort,
  machineBusyMeter,
  ROOT,
  rssMiB,
  spawnTs,
  stopChild,
  waitReady,
} from './processes.ts';

export type DbKind = 'pglite' | 'postgres';

/** `'a=1 b=two'` (an experiment's knob from the environment) as `{ a: '1', b: 'two' }`. */
function settingsOf(text: string | undefined): Record<string, string> {
  const pairs = (text ?? '').split(/\s+/).filter((kv) => kv.includes('='));
  return Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** A fresh database on the server of `adminUrl`, dropped by `drop()`: pg_stat_database counts it alone. */
export async function freshDatabase(adminUrl: string, name: string) {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name}`);
  await admin.unsafe(`create database ${name}`);
  // For finding where commits go: every statement of this database in the server's log.
  if (process.env.BENCH_LOG_STATEMENTS)
    await admin.unsafe(`alter database ${name} set log_min_duration_statement = 0`);
  // For experiments: server settings for this database, e.g. BENCH_DB_SETTINGS='synchronous_commit=off'.
  for (const [key, value] of Object.entries(settingsOf(process.env.BENCH_DB_SETTINGS)))
    await admin.unsafe(`alter database ${name} set ${key} = '${value}'`);
  if (process.env.BENCH_EXPLAIN) {
    // Plans of the slow statements, with timing and buffers, in the server's log.
    await admin.unsafe(`alter database ${name} set session_preload_libraries = 'auto_explain'`);
    await admin.unsafe(
      `alter database ${name} set auto_explain.log_min_duration = '${process.env.BENCH_EXPLAIN}ms'`,
    );
    await admin.unsafe(`alter database ${name} set auto_explain.log_analyze = on`);
    await admin.unsafe(`alter database ${name} set auto_explain.log_buffers = on`);
    await admin.unsafe(`alter database ${name} set auto_explain.log_nested_statements = on`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    /** Committed transactions of that database so far (server-wide statistics). */
    async commits(): Promise<number> {
      const [row] = await admin`select xact_commit::int8 as n from pg_stat_database where datname = ${name}`;
      return Number(row?.n ?? 0);
    },
    /** The server processes serving this database now (PostgreSQL backends). */
    async backendPids(): Promise<number[]> {
      const rows = await admin`select pid from pg_stat_activity where datname = ${name}`;
      return rows.map((r) => Number(r.pid));
    },
    /** Runs `sql` on this database (not the admin one). */
    async run(sql: string) {
      const c = postgres(url.toString(), { max: 1, onnotice: () => {} });
      await c.unsafe(sql);
      await c.end();
    },
    async drop() {
      // For experiments: BENCH_KEEP_DB=1 keeps the database (its tasks and events) to query after.
      if (!process.env.BENCH_KEEP_DB)
        await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end();
    },
  };
}

export type ManagerHandle = { url: string; proc: Child; stop(): Promise<void> };

/** Starts the manager as its own process (src/server.ts) and waits until it is ready. */
export async function startManager(
  db: { kind: DbKind; url?: string },
  opts: { profileDir?: string; env?: Record<string, string> } = {},
): Promise<ManagerHandle> {
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    MANAGER_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
    ...(db.kind === 'postgres' ? { DATABASE_URL: db.url! } : { PGLITE_DATA_DIR: 'memory://' }),
    ...opts.env,
    // For experiments: manager settings from the bench's environment, e.g. BENCH_MANAGER_ENV='PG_POOL_MAX=4'.
    ...settingsOf(process.env.BENCH_MANAGER_ENV),
  };
  const nodeArgs = [
    ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
    // For experiments: Node flags for the manager, e.g. BENCH_NODE_ARGS='--max-semi-space-size=32'.
    ...(process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  ];
  // The manager as deployed, from compiled JavaScript (npm run build), if it has been built.
  const compiled = existsSync(join(ROOT, 'dist/src/server.js'));
  const proc = spawnTs(compiled ? 'dist/src/server.js' : 'src/server.ts', [], env, nodeArgs);
  const url = `http://127.0.0.1:${port}`;
  const pool = keepAlivePool(4);
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await requestJson(pool, 'GET', `${url}/readyz`);
      if (r.status === 200) break;
    } catch {}
    if (proc.child.exitCode !== null || Date.now() > until)
      throw new Error(`manager did not start: ${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  pool.destroy();
  return { url, proc, stop: () => stopChild(proc) };
}

/** One of several successive loads on one database. */
export type LoadResult = {
  seconds: number;
  managerCpuPerRound: number;
  postgresCpuPerRound: number | null;
  /** Shares of updates PostgreSQL made HOT during the load. */
  hot: { tasks: number; awards: number };
  /** WAL written per round during the load (records, bytes). */
  wal: { records: number; bytes: number };
};

const hotShare = (a: Awaited<ReturnType<typeof hotUpdates>>, b: Awaited<ReturnType<typeof hotUpdates>>) => {
  const share = (t: 'tasks' | 'awards') => {
    const updates = b[t].updates - a[t].updates;
    return updates ? (b[t].hot - a[t].hot) / updates : 0;
  };
  return { tasks: share('tasks'), awards: share('awards') };
};

export type ManagerRoundsResult = {
  /** Successive loads after the first (with --loads), and the HOT shares of the first. */
  loads: LoadResult[];
  seconds: number;
  completed: number;
  tasks: number;
  latencies: number[];
  toAward: number[];
  commitsPerTask: number | null;
  rssMiB: number;
  /** CPU ms per round of each side of the run (PostgreSQL's backends only on PostgreSQL). */
  cpuPerRound: { manager: number; postgres: number | null; agents: number; clients: number };
  /** Share of all cores busy during the measured part (the whole machine, not only this run). */
  machineBusy: number;
};

type TaskView = { state: string; createdAt: string; award: { awardedAt: string } | null };

/**
 * `tasks` tasks through a manager process with `agents` agents in another process, `clients` at
 * once, each submitting a task and long-polling it to its end (what a user's client does).
 */
export async function runManagerRounds(opts: {
  db: DbKind;
  adminUrl?: string;
  agents: number;
  tasks: number;
  clients: number;
  profileDir?: string;
  env?: Record<string, string>;
  /** Manager processes sharing the database (PostgreSQL only); client n talks to manager n mod this. */
  managers?: number;
  /** API keys of the clients (the manager's API_KEYS): task n is submitted with key n mod their count. */
  clientKeys?: string[];
  /** Started once the warm-up is done, stopped when the measured tasks are: load beside the clients. */
  alongside?: (managerUrl: string) => Promise<{ stop(): Promise<void> }>;
  /** Completed tasks loaded into the database before the first measured load (PostgreSQL). */
  history?: number;
  /** Successive measured loads of `tasks` each on the same database (the first is the result). */
  loads?: number;
  /** Rounds run before measuring, so the measured part runs compiled code. */
  warmup?: number;
  /** Accounts on (ACCOUNTS=true): the client is credited, and every task has a budget held. */
  accounts?: boolean;
}): Promise<ManagerRoundsResult> {
  const database =
    opts.db === 'postgres'
      ? await freshDatabase(opts.adminUrl!, `cnet_bench_${process.pid}_${opts.agents}`)
      : null;
  const managers: ManagerHandle[] = [];
  // One after another: the first migrates the database, the others find it ready.
  for (let i = 0; i < (opts.managers ?? 1); i++)
    managers.push(
      await startManager(
        { kind: opts.db, url: database?.url },
        { profileDir: opts.profileDir, env: { ...opts.env, ...(opts.accounts ? { ACCOUNTS: 'true' } : {}) } },
      ),
    );
  const manager = managers[0]!;
  const managerOf = (n: number) => managers[Math.abs(n) % managers.length]!;
  const agentsProc = spawnTs(
    'bench/support/agents-process.ts',
    [
      '--count',
      String(opts.agents),
      '--manager',
      manager.url,
      '--capability',
      'bench.work',
      '--run',
      String(process.pid),
    ],
    {},
  );
  try {
    await waitReady(agentsProc);
    const pool = keepAlivePool(opts.clients + 8);
    const keys = opts.clientKeys ?? [];
    if (opts.accounts) {
      // Keys off: every client is `anonymous`, which may credit itself as the operator.
      const credit = await requestJson(pool, 'POST', `${manager.url}/v1/accounts/anonymous/movements`, {
        kind: 'credit',
        amount: 1_000_000_000_000,
      });
      if (credit.status !== 200) throw new Error(`credit: ${credit.status} ${JSON.stringify(credit.body)}`);
    }
    const budget = opts.accounts ? { budget: 1000 } : {};
    const one = async (n: number) => {
      const t0 = performance.now();
      const { url } = managerOf(n);
      const auth: Record<string, string> = keys.length
        ? { authorization: `Bearer ${keys[Math.abs(n) % keys.length]}` }
        : {};
      const sub = await requestJson<{ id: string }>(
        pool,
        'POST',
        `${url}/v1/tasks`,
        { capability: 'bench.work', input: { n }, bidWindowMs: 2000, ...budget },
        auth,
      );
      if (sub.status !== 202) throw new Error(`submit: ${sub.status} ${JSON.stringify(sub.body)}`);
      let view: TaskView;
      do {
        view = (
          await requestJson<TaskView>(
            pool,
            'GET',
            `${url}/v1/tasks/${sub.body.id}?waitMs=60000`,
            undefined,
            auth,
          )
        ).body;
      } while (!['completed', 'failed', 'cancelled'].includes(view.state));
      return { ms: performance.now() - t0, view };
    };
    // Warm up (JIT, connection pools, prepared statements), then let every backend flush its
    // statistics. Long enough that the optimising compiler is done before measuring: with 16 rounds
    // it took a fifth of the manager's CPU in the measured part's first seconds.
    const warmup = opts.warmup ?? 1000;
    let w = 0;
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (w < warmup) await one(-1 - w++);
      }),
    );
    if (database && opts.history) {
      const h = await loadHistory(database.url, opts.history);
      console.error(`# history: ${opts.history} completed tasks loaded in ${h.seconds.toFixed(0)} s`);
    }
    // For experiments: SQL run on the bench database once it is migrated, e.g. dropping an index.
    if (database && process.env.BENCH_SQL) await database.run(process.env.BENCH_SQL);
    if (database) await new Promise((r) => setTimeout(r, 11_000));
    const before = database ? await database.commits() : 0;
    const beside = await opts.alongside?.(manager.url);

    const pgPids = database ? await database.backendPids() : [];
    const managerCpu = cpuMeter(() => managers.map((m) => m.proc.child.pid ?? 0));
    const agentsCpu = cpuMeter(() => [agentsProc.child.pid ?? 0]);
    const pgCpu = cpuMeter(() => pgPids);
    const clientsCpu = process.cpuUsage();
    const machineBusy = machineBusyMeter();
    const latencies: number[] = [];
    const toAward: number[] = [];
    let completed = 0;
    let next = 0;
    /** One measured load: `opts.tasks` rounds from the clients, numbered from `base`. */
    const load = async (base: number) => {
      const end = next + opts.tasks;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: opts.clients }, async () => {
          while (next < end) {
            const r = await one(base + next++);
            latencies.push(r.ms);
            if (r.view.state === 'completed') completed++;
            if (r.view.award) toAward.push(Date.parse(r.view.award.awardedAt) - Date.parse(r.view.createdAt));
          }
        }),
      );
      return (performance.now() - t0) / 1000;
    };
    const hot0 = database ? await hotUpdates(database.url) : null;
    const seconds = await load(0);
    await beside?.stop();
    const clientsUsed = process.cpuUsage(clientsCpu);
    const busy = machineBusy();
    const cpuPerRound = {
      manager: managerCpu() / opts.tasks,
      postgres: database ? pgCpu() / opts.tasks : null,
      agents: agentsCpu() / opts.tasks,
      clients: (clientsUsed.user + clientsUsed.system) / 1000 / opts.tasks,
    };
    const first = { completed, latencies: [...latencies], toAward: [...toAward] };
    const loads: LoadResult[] = [];
    if ((opts.loads ?? 1) > 1 && database) {
      // Each load on the database the ones before left: rounds/s, CPU per round, HOT updates.
      await new Promise((r) => setTimeout(r, 1500)); // backends flush their statistics
      let hotBefore = hot0!;
      for (let i = 0; i < opts.loads!; i++) {
        const pg = cpuMeter(() => pgPids);
        const mg = cpuMeter(() => managers.map((m) => m.proc.child.pid ?? 0));
        const s = i === 0 ? seconds : await load(0);
        const cpu =
          i === 0
            ? { manager: cpuPerRound.manager, postgres: cpuPerRound.postgres }
            : { manager: mg() / opts.tasks, postgres: pg() / opts.tasks };
        if (i > 0) await new Promise((r) => setTimeout(r, 1500));
        const hot = await hotUpdates(database.url);
        loads.push({
          seconds: s,
          managerCpuPerRound: cpu.manager,
          postgresCpuPerRound: cpu.postgres,
          hot: hotShare(hotBefore, hot),
          wal: {
            records: (hot.wal.records - hotBefore.wal.records) / opts.tasks,
            bytes: (hot.wal.bytes - hotBefore.wal.bytes) / opts.tasks,
          },
        });
        hotBefore = hot;
      }
    }
    const rss = rssMiB(manager.proc.child.pid!);
    pool.destroy();
    await stopChild(agentsProc);
    for (const m of managers) await m.stop();
    // Backends flush their statistics when they exit; the manager's have all exited now.
    let commitsPerTask: number | null = null;
    if (database) {
      await new Promise((r) => setTimeout(r, 500));
      commitsPerTask = ((await database.commits()) - before) / (opts.tasks * Math.max(1, loads.length));
    }
    return {
      loads,
      seconds,
      completed: first.completed,
      tasks: opts.tasks,
      latencies: first.latencies.sort((a, b) => a - b),
      toAward: first.toAward.sort((a, b) => a - b),
      commitsPerTask,
      rssMiB: rss,
      cpuPerRound,
      machineBusy: busy,
    };
  } finally {
    await stopChild(agentsProc);
    for (const m of managers) await m.stop();
    await database?.drop();
  }
}

export const fmtPct = (xs: number[]) =>
  `${percentile(xs, 50).toFixed(0)} / ${percentile(xs, 95).toFixed(0)} / ${percentile(xs, 99).toFixed(0)}`;
