/**
 * The fallback queue beside graphile-worker and pg-boss on the same PostgreSQL, each doing the
 * same no-op jobs with its defaults and with its best batching; the manager's RSS with
 * `--jobs` tasks queued; and the time to pick eligible agents among 10,000 registered.
 *
 * Usage: node --import tsx bench/queue.ts [--jobs 10000] [--agents 10000] [--db pglite|postgres|both]
 * The queue comparison needs DATABASE_URL (a server where this user may create databases).
 */
import { parseArgs } from 'node:util';
import { runEligibility } from './support/eligibility.ts';
import { freshDatabase } from './support/manager-rounds.ts';
import { type QueueRun, runGraphile, runManagerQueue, runPgBoss } from './support/queue-runs.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    agents: { type: 'string', default: '10000' },
    db: { type: 'string', default: process.env.DATABASE_URL ? 'both' : 'pglite' },
  },
});
const jobs = Number(values.jobs);
const adminUrl = process.env.DATABASE_URL;
const dbs = values.db === 'both' ? ['pglite', 'postgres'] : [values.db];
console.log(`# command: npm run bench:queue -- ${process.argv.slice(2).join(' ')}`.trimEnd());

if (adminUrl && dbs.includes('postgres')) {
  console.log(`\n## queue: ${jobs} no-op jobs on one PostgreSQL server, enqueued then processed`);
  const ours = await runManagerQueue(adminUrl, jobs, 50, 8);
  const runs: QueueRun[] = [
    ours.run,
    await runGraphile(adminUrl, jobs, false),
    await runGraphile(adminUrl, jobs, true),
    await runPgBoss(adminUrl, jobs, false),
    await runPgBoss(adminUrl, jobs, true),
  ];
  console.log('| system | mode | enqueue jobs/s | process jobs/s | contract-net process ratio | note |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of runs) {
    console.log(
      `| ${r.system} | ${r.mode} | ${r.enqueuePerS.toFixed(0)} | ${r.processPerS.toFixed(r.processPerS < 10 ? 1 : 0)} | ${(ours.run.processPerS / r.processPerS).toFixed(2)}x | ${r.note ?? ''} |`,
    );
  }
  console.log(
    `\nclaim path (HTTP, batch 50): ${ours.claimPerS.toFixed(0)} tasks/s; manager RSS with ${jobs} tasks queued: ${ours.rssQueuedMiB.toFixed(0)} MiB (postgres)`,
  );
} else {
  console.log('\n(queue comparison skipped: it needs DATABASE_URL)');
}

console.log(`\n## eligibility: the agents a round may invite, among ${values.agents} registered`);
console.log('| db | capability offered by | agents found | p50 ms | p99 ms |');
console.log('| --- | --- | --- | --- | --- |');
for (const db of dbs) {
  let target: Parameters<typeof runEligibility>[0];
  let drop = async () => {};
  if (db === 'postgres') {
    if (!adminUrl) continue;
    const fresh = await freshDatabase(adminUrl, `cnet_bench_elig_${process.pid}`);
    target = { kind: 'postgres', url: fresh.url, poolMax: 2 };
    drop = () => fresh.drop();
  } else {
    target = { kind: 'pglite', dataDir: 'memory://' };
  }
  const r = await runEligibility(target, Number(values.agents));
  await drop();
  for (const [label, m] of [
    ['few (1 in 2000)', r.rare],
    ['many (1 in 10)', r.common],
  ] as const) {
    console.log(`| ${db} | ${label} | ${m.found} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} |`);
  }
}
process.exit(0);
