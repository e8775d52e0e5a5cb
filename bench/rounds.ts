/**
 * Rounds beside their network: for each agent count, the bare HTTP exchanges of a round (plain
 * keep-alive node:http, no manager, no database) and then the same rounds through a manager
 * process, agents in a process of their own, `clients` clients at once; the ratio is printed.
 *
 * Usage: node --import tsx bench/rounds.ts [--agents 1,5,25,100] [--tasks 1000] [--clients 64]
 *        [--db pglite|postgres|both] [--managers N] [--profile DIR] [--env KEY=VALUE ...]
 *        [--warmup 1000] [--history N] [--loads N]
 * PostgreSQL runs use DATABASE_URL's server (a fresh database per run). `--history` loads that
 * many completed tasks before measuring; `--loads` measures that many successive loads on the
 * same database and prints each (rounds/s, CPU per round, HOT updates), first beside last.
 */
import { parseArgs } from 'node:util';
import { runBareRounds } from './support/bare-rounds.ts';
import { measureFloor, roundFloorMs } from './support/floor.ts';
import { percentile } from './support/http.ts';
import { type DbKind, fmtPct, runManagerRounds } from './support/manager-rounds.ts';
import { cpuMeter, machineBusyMeter, spawnTs, stopChild, waitReady } from './support/processes.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '1,5,25,100' },
    tasks: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '64' },
    db: { type: 'string', default: process.env.DATABASE_URL ? 'both' : 'pglite' },
    profile: { type: 'string' },
    /** Manager processes sharing the database (PostgreSQL only), clients spread over them. */
    managers: { type: 'string', default: '1' },
    /** Manager settings for this run, e.g. --env AGENT_TTL_MS=30000 (repeatable). */
    env: { type: 'string', multiple: true, default: [] },
    /** Rounds run before measuring (JIT, pools, prepared statements). */
    warmup: { type: 'string', default: '1000' },
    /** Completed tasks (with bids, awards and events) loaded before measuring (PostgreSQL). */
    history: { type: 'string', default: '0' },
    /** Successive measured loads on one database (PostgreSQL). */
    loads: { type: 'string', default: '1' },
  },
});
const managerEnv = Object.fromEntries(
  values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const agentCounts = values.agents.split(',').map(Number);
const clients = Number(values.clients);
const dbs: DbKind[] = values.db === 'both' ? ['pglite', 'postgres'] : [values.db as DbKind];
const managers = Number(values.managers);
if (!Number.isInteger(managers) || managers < 1 || (managers > 1 && dbs.includes('pglite'))) {
  console.error(
    '--managers is a whole number >= 1; more than one needs --db postgres (PGlite is one process)',
  );
  process.exit(2);
}
if (dbs.includes('postgres') && !process.env.DATABASE_URL) {
  console.error('--db postgres needs DATABASE_URL (a server where this user may create databases)');
  process.exit(2);
}
/** Fewer tasks where each round costs many exchanges, so every configuration takes similar time. */
const tasksFor = (agents: number) =>
  Math.max(100, Math.round(Number(values.tasks) / Math.max(1, agents / 5)));

console.log(
  `# rounds: ${clients} clients, tasks per run ${agentCounts.map((a) => `${a} agents: ${tasksFor(a)}`).join(', ')}`,
);
if (managers > 1) console.log(`# ${managers} manager processes on one database, clients spread over them`);
console.log(`# command: npm run bench:rounds -- ${process.argv.slice(2).join(' ')}`.trimEnd());
console.log(
  '| db | agents | bare rounds/s | manager rounds/s | ratio | bare p50 ms | submit->award p50/p95/p99 ms | submit->completed p50/p95/p99 ms | p50 vs bare | commits/task | manager RSS MiB | completed |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
let failed = false;
/** Where the two cores went, per round, for the second table. */
const cpuRows: string[] = [];
/** Successive loads, for the third. */
const loadRows: string[] = [];
/** The floor's parts, measured in this run. */
const floorRows: string[] = [];
for (const db of dbs) {
  for (const agents of agentCounts) {
    const tasks = tasksFor(agents);
    const bareAgents = spawnTs('bench/support/agents-process.ts', ['--count', String(agents)], {});
    const { endpoints } = await waitReady<{ endpoints: string[] }>(bareAgents);
    const floor = await measureFloor({
      endpoint: endpoints[0]!,
      databaseUrl: db === 'postgres' ? process.env.DATABASE_URL : undefined,
    });
    await runBareRounds(endpoints, 50, clients); // warm-up
    const bareAgentsCpu = cpuMeter(() => [bareAgents.child.pid ?? 0]);
    const bareClientCpu = process.cpuUsage();
    const bareMachine = machineBusyMeter();
    const bare = await runBareRounds(endpoints, tasks, clients);
    const bareClientUsed = process.cpuUsage(bareClientCpu);
    const bareBusy = bareMachine();
    const bareCpu = {
      client: (bareClientUsed.user + bareClientUsed.system) / 1000 / tasks,
      agents: bareAgentsCpu() / tasks,
    };
    await stopChild(bareAgents);
    const m = await runManagerRounds({
      db,
      adminUrl: process.env.DATABASE_URL,
      agents,
      tasks,
      clients,
      profileDir: values.profile,
      env: managerEnv,
      managers,
      warmup: Number(values.warmup),
      history: Number(values.history),
      loads: Number(values.loads),
    });
    for (const [i, l] of m.loads.entries())
      loadRows.push(
        `| ${db} | ${agents} | ${i + 1} | ${(tasks / l.seconds).toFixed(1)} | ${l.managerCpuPerRound.toFixed(2)} | ${l.postgresCpuPerRound === null ? 'n/a' : l.postgresCpuPerRound.toFixed(2)} | ${(l.hot.tasks * 100).toFixed(0)}% | ${(l.hot.awards * 100).toFixed(0)}% | ${l.wal.records.toFixed(1)} | ${(l.wal.bytes / 1024).toFixed(1)} |`,
      );
    const bareRate = tasks / bare.seconds;
    const c = m.cpuPerRound;
    const runTotal = c.manager + (c.postgres ?? 0) + c.agents + c.clients;
    const bareTotal = bareCpu.client + bareCpu.agents;
    const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
    const pct = (share: number) => `${(share * 100).toFixed(0)}%`;
    const floorMs = roundFloorMs(floor, agents, m.commitsPerTask);
    cpuRows.push(
      `| ${db} | ${agents} | ${f(bareCpu.client)} | ${f(bareCpu.agents)} | ${f(c.manager)} | ${f(floorMs)} | ${(c.manager / floorMs).toFixed(1)}x | ${f(c.postgres)} | ${f(c.agents)} | ${f(c.clients)} | ${(runTotal / bareTotal).toFixed(1)}x | ${pct(bareBusy)} | ${pct(m.machineBusy)} |`,
    );
    floorRows.push(
      `| ${db} | ${agents} | ${(floor.outboundMs * 1000).toFixed(0)} | ${(floor.inboundMs * 1000).toFixed(0)} | ${floor.statementMs === null ? 'n/a' : (floor.statementMs * 1000).toFixed(0)} | ${2 * agents} + 3 + ${m.commitsPerTask === null ? 'n/a' : m.commitsPerTask.toFixed(1)} |`,
    );
    const rate = tasks / m.seconds;
    const bareP50 = percentile(bare.latencies, 50);
    if (m.completed !== tasks) failed = true;
    console.log(
      `| ${db} | ${agents} | ${bareRate.toFixed(0)} | ${rate.toFixed(1)} | ${(rate / bareRate).toFixed(3)}x | ${bareP50.toFixed(0)} | ${fmtPct(m.toAward)} | ${fmtPct(m.latencies)} | ${(percentile(m.latencies, 50) / bareP50).toFixed(1)}x | ${m.commitsPerTask === null ? 'n/a' : m.commitsPerTask.toFixed(2)} | ${m.rssMiB.toFixed(0)} | ${m.completed}/${tasks} |`,
    );
  }
}
console.log('\nCPU ms per round, each side (read from /proc; PostgreSQL backends only on PostgreSQL):\n');
console.log(
  '| db | agents | bare: client | bare: agents | manager | manager floor | manager / floor | postgres | agents | clients | manager run total / bare total | cores busy: bare | cores busy: manager run |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of cpuRows) console.log(r);
console.log(
  '\nThe floor, measured in this run: CPU µs of one bare call out (node:http keep-alive, client side), one minimal request in (node:http server side) and one prepared statement (postgres.js, client side); a round makes 2 × agents calls, 3 requests and its statements (commits per task):\n',
);
console.log(
  '| db | agents | call out µs | request in µs | statement µs | calls + requests + statements per round |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of floorRows) console.log(r);
// Accounts on: each task's hold and settlement ride in the statements that change the task, so
// the commits per task must not move (issue 28); measured beside a run with them off.
if (dbs.includes('postgres')) {
  console.log(
    '\nAccounts (ACCOUNTS=true) against off, 5 agents, PostgreSQL: commits per task must be equal:\n',
  );
  console.log('| accounts | rounds/s | commits/task | manager ms/round | postgres ms/round | completed |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const tasks = tasksFor(5);
  for (const accounts of [false, true]) {
    const m = await runManagerRounds({
      db: 'postgres',
      adminUrl: process.env.DATABASE_URL,
      agents: 5,
      tasks,
      clients,
      env: managerEnv,
      warmup: Math.min(Number(values.warmup), 300),
      accounts,
    });
    if (m.completed !== tasks) failed = true;
    const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
    console.log(
      `| ${accounts ? 'on' : 'off'} | ${(tasks / m.seconds).toFixed(1)} | ${f(m.commitsPerTask)} | ${f(m.cpuPerRound.manager)} | ${f(m.cpuPerRound.postgres)} | ${m.completed}/${tasks} |`,
    );
  }
}
if (loadRows.length) {
  console.log(
    `\nSuccessive loads of the same database${Number(values.history) ? ` after ${values.history} completed tasks of history` : ''} (PostgreSQL CPU from its backends; HOT: updates that wrote no index entry):\n`,
  );
  console.log(
    '| db | agents | load | rounds/s | manager ms/round | postgres ms/round | tasks HOT | awards HOT | WAL records/round | WAL KiB/round |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of loadRows) console.log(r);
}
process.exit(failed ? 1 : 0);
