/**
 * Rounds beside their network: for each agent count, the bare HTTP exchanges of a round (plain
 * keep-alive node:http, no manager, no database) and then the same rounds through a manager
 * process, agents in a process of their own, `clients` clients at once; the ratio is printed.
 *
 * Usage: node --import tsx bench/rounds.ts [--agents 1,5,25,100] [--tasks 1000] [--clients 64]
 *        [--db pglite|postgres|both] [--managers N] [--profile DIR] [--env KEY=VALUE ...]
 * PostgreSQL runs use DATABASE_URL's server (a fresh database per run).
 */
import { parseArgs } from 'node:util';
import { runBareRounds } from './support/bare-rounds.ts';
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
    /** Manager settings for this run, e.g. --env NOTIFY_BATCH_MS=20 (repeatable). */
    env: { type: 'string', multiple: true, default: [] },
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
for (const db of dbs) {
  for (const agents of agentCounts) {
    const tasks = tasksFor(agents);
    const bareAgents = spawnTs('bench/support/agents-process.ts', ['--count', String(agents)], {});
    const { endpoints } = await waitReady<{ endpoints: string[] }>(bareAgents);
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
    });
    const bareRate = tasks / bare.seconds;
    const c = m.cpuPerRound;
    const runTotal = c.manager + (c.postgres ?? 0) + c.agents + c.clients;
    const bareTotal = bareCpu.client + bareCpu.agents;
    const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
    const pct = (share: number) => `${(share * 100).toFixed(0)}%`;
    cpuRows.push(
      `| ${db} | ${agents} | ${f(bareCpu.client)} | ${f(bareCpu.agents)} | ${f(c.manager)} | ${f(c.postgres)} | ${f(c.agents)} | ${f(c.clients)} | ${(runTotal / bareTotal).toFixed(1)}x | ${pct(bareBusy)} | ${pct(m.machineBusy)} |`,
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
  '| db | agents | bare: client | bare: agents | manager | postgres | agents | clients | manager run total / bare total | cores busy: bare | cores busy: manager run |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of cpuRows) console.log(r);
process.exit(failed ? 1 : 0);
