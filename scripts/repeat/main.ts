/**
 * Runs the whole suite several times in a row on each database and reports every failure, so a
 * test that fails once in a while is found, not rerun: `npm run test:repeat -- --runs 5`.
 * On PostgreSQL it uses DATABASE_URL (default: the CI's server at 127.0.0.1:5432/test).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';

const opts = new Command('test:repeat')
  .option(
    '--runs <n>',
    'runs per database',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('expected 1 to 100');
      return n;
    },
    5,
  )
  .option('--db <which>', 'pglite, postgres or both', 'both')
  .parse()
  .opts<{ runs: number; db: string }>();

const PG = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dbs = opts.db === 'both' ? ['pglite', 'postgres'] : [opts.db];
const dir = mkdtempSync(join(tmpdir(), 'cnet-repeat-'));
type Report = {
  testResults: {
    name: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
};

function runOnce(db: string, i: number): Promise<{ failures: string[]; seconds: number }> {
  const out = join(dir, `${db}-${i}.json`);
  const env = { ...process.env };
  if (db === 'postgres') env.DATABASE_URL = PG;
  else delete env.DATABASE_URL;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('npx', ['vitest', 'run', '--reporter=json', `--outputFile=${out}`], {
      env,
      stdio: 'ignore',
    });
    child.on('close', () => {
      let failures: string[];
      try {
        const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
        failures = report.testResults.flatMap((f) =>
          f.assertionResults
            .filter((a) => a.status === 'failed')
            .map(
              (a) =>
                `${f.name.replace(/.*?\/(test|src|agents|dashboard)\//, '$1/')}: ${a.fullName}\n    ${(a.failureMessages[0] ?? '').split('\n')[0]}`,
            ),
        );
      } catch {
        failures = ['(no report: the run did not finish)'];
      }
      resolve({ failures, seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

let total = 0;
for (const db of dbs)
  for (let i = 1; i <= opts.runs; i++) {
    const { failures, seconds } = await runOnce(db, i);
    total += failures.length;
    console.log(
      `${db} run ${i}/${opts.runs}: ${failures.length ? `${failures.length} failed` : 'all passed'} in ${seconds} s`,
    );
    for (const f of failures) console.log(`  ${f}`);
  }
console.log(
  total ? `${total} failures; reports in ${dir}` : `no failure in ${opts.runs} runs on ${dbs.join(' and ')}`,
);
process.exit(total ? 1 : 0);
