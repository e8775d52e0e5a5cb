import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startManager, type TestManager } from './support/harness.ts';
import { runTs } from './support/processes.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

const env = {
  PATH: process.env.PATH ?? '',
  ...(process.env.PYTHON ? { PYTHON: process.env.PYTHON } : {}),
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
};

async function demo(args: string[]) {
  // On PostgreSQL the demo gets a database of its own; on PGlite it makes a fresh one itself.
  const db = await createTestDatabase();
  try {
    const p = runTs('scripts/demo/main.ts', ['--json', ...args], {
      ...env,
      ...(db.env.DATABASE_URL ? { DATABASE_URL: db.env.DATABASE_URL } : {}),
    });
    const code = await p.exited;
    return { code, summary: JSON.parse(p.stdout()), stderr: p.stderr() };
  } finally {
    await db.drop();
  }
}

describe('npm run demo', () => {
  it('runs 30 tasks and a three-stage pipeline end to end and ends them all', async () => {
    const { code, summary } = await demo(['--tasks', '30']);
    expect(code).toBe(0);
    expect(summary).toMatchObject({ tasks: 33, pipelines: 1, terminal: 33 });
    expect(summary.outcomes.completed).toBe(33);
    const names = summary.agents.map((a: { agent: string }) => a.agent);
    expect(names).toEqual(
      expect.arrayContaining(['calculator', 'summarizer', 'statistician', 'queue-worker', 'units-converter']),
    );
    // The over-budget tasks found no acceptable bid and were served from the fallback queue.
    expect(summary.servedFromQueue).toBeGreaterThanOrEqual(3);
    // The agent built only with the official A2A SDK did its unit conversions through the market.
    expect(summary.agents.find((a: { agent: string }) => a.agent === 'units-converter').completions).toBe(2);
    // With a Python 3.10+, the agent written with the Python SDK scored the texts' readability.
    if (summary.python)
      expect(summary.agents.find((a: { agent: string }) => a.agent === 'readability-py').completions).toBe(2);
    else expect(process.env.REQUIRE_PYTHON).not.toBe('1');
    const done = summary.agents.reduce((s: number, a: { completions: number }) => s + a.completions, 0);
    expect(done).toBe(33);
  }, 120_000);

  // The misbehaving agents test the manager's fault handling, which the resilience tests cover on
  // both databases and `npm run chaos` on PostgreSQL with managers killed; the flag itself once.
  it.skipIf(onPostgres())(
    'with --chaos, still ends every task while the misbehaving agents are cut off',
    async () => {
      const { code, summary } = await demo(['--tasks', '30', '--chaos']);
      expect(code).toBe(0);
      expect(summary.terminal).toBe(33);
      const byName = Object.fromEntries(summary.agents.map((a: { agent: string }) => [a.agent, a]));
      expect(Object.keys(byName)).toEqual(
        expect.arrayContaining(['calculator-flaky', 'summarizer-hung', 'hasher-garbage']),
      );
      // The hung agent never completes anything.
      expect(byName['summarizer-hung'].completions).toBe(0);
    },
    120_000,
  );

  it('rejects a bad flag before starting anything', async () => {
    const p = runTs('scripts/demo/main.ts', ['--tasks', 'many'], env);
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toMatch(/--tasks/);
  });
});

describe('cnet CLI', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m.stop());

  const cli = async (args: string[], input?: string) => {
    const p = runTs('bin/cnet.js', ['--manager', m.url, ...args], env);
    if (input !== undefined) {
      p.child.stdin?.end(input);
    }
    return { code: await p.exited, out: p.stdout(), err: p.stderr() };
  };

  it('runs a sample agent, submits with --wait and prints the result', async () => {
    const agent = runTs('bin/cnet.js', ['--manager', m.url, 'agent', 'calculator'], env);
    try {
      for (let i = 0; i < 200 && !agent.stdout().includes('listening'); i++)
        await new Promise((r) => setTimeout(r, 50));
      const res = await cli([
        'submit',
        '-c',
        'math.evaluate',
        '-i',
        '{"expression": "6 * 7"}',
        '--wait',
        '20000',
      ]);
      expect(res.code).toBe(0);
      expect(JSON.parse(res.out)).toEqual({ result: 42 });
      const list = await cli(['tasks', '--json']);
      expect(list.code).toBe(0);
      const tasks = JSON.parse(list.out);
      expect(tasks[0]).toMatchObject({
        capability: 'math.evaluate',
        state: 'completed',
        output: { result: 42 },
      });
      const agents = await cli(['agents']);
      expect(agents.out).toMatch(/calculator\s+active\s+closed/);
      // A task nobody can do, with a short deadline: it fails, and the exit code says so.
      const failed = await cli([
        'submit',
        '-c',
        'nobody.here',
        '--deadline',
        new Date(Date.now() + 500).toISOString(),
        '--wait',
        '20000',
      ]);
      expect(failed.code).toBe(3);
      expect(failed.err).toMatch(/deadline_exceeded/);
    } finally {
      agent.child.kill('SIGINT');
      await agent.exited;
    }
  }, 60_000);

  it('submits the example pipeline: each stage works on what the one before produced', async () => {
    const agents = ['summarizer', 'hasher'].map((name) =>
      runTs('bin/cnet.js', ['--manager', m.url, 'agent', name], env),
    );
    try {
      for (let i = 0; i < 200 && !agents.every((a) => a.stdout().includes('listening')); i++)
        await new Promise((r) => setTimeout(r, 50));
      const res = await cli(['pipeline', 'examples/pipeline.json', '--wait', '30000']);
      expect(res.code, res.err).toBe(0);
      const lines = res.out.split('\n').filter((l) => /\t/.test(l));
      expect(lines.map((l) => l.split('\t')[0])).toEqual(['summary', 'keywords', 'fingerprint']);
      // Submitted waiting for the summary, or already released if the summary was that quick.
      expect(lines[1]).toMatch(/\t(waiting|pending|bidding)$/);
      const outputs = JSON.parse(res.out.slice(res.out.indexOf('{')));
      expect(outputs.summary.summary).toEqual(expect.any(String));
      expect(outputs.keywords.keywords).toHaveLength(3);
      expect(outputs.fingerprint).toMatchObject({
        algorithm: 'sha256',
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const cyclic = join(tmpdir(), `cnp-cycle-${process.pid}.json`);
      writeFileSync(cyclic, JSON.stringify({ tasks: [{ name: 'a', dependsOn: ['a'] }] }));
      const bad = await cli(['pipeline', cyclic]);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/cycle/);
    } finally {
      for (const a of agents) a.child.kill('SIGINT');
      await Promise.all(agents.map((a) => a.exited));
    }
  }, 60_000);

  it('prints an account and its statement, and every account for the operator', async () => {
    const books = await startManager({ ACCOUNTS: 'true' });
    try {
      await books.call('POST', '/v1/accounts/anonymous/movements', {
        kind: 'credit',
        amount: 40,
        memo: 'cli',
      });
      const id = (
        await books.call('POST', '/v1/tasks', { capability: 'nobody.offers', input: {}, budget: 15 })
      ).body.id;
      const mine = runTs('bin/cnet.js', ['--manager', books.url, 'accounts'], env);
      expect(await mine.exited).toBe(0);
      expect(mine.stdout()).toContain('anonymous (client): balance 25, held 15');
      const rows = mine
        .stdout()
        .split('\n')
        .filter((l) => /^\d{4}-/.test(l));
      expect(rows.map((l) => l.split(/\s+/).slice(1, 4))).toEqual([
        ['hold', '-15', `escrow:${id}`],
        ['credit', '40', 'issuance'],
      ]);
      const all = runTs('bin/cnet.js', ['--manager', books.url, 'accounts', '--all', '--json'], env);
      expect(await all.exited).toBe(0);
      const listed = JSON.parse(all.stdout()) as { id: string; balance: number }[];
      expect(listed).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: 'anonymous', balance: 25 }),
          expect.objectContaining({ id: 'issuance', balance: -40 }),
        ]),
      );
      // A market without accounts says so, with exit code 1.
      const off = await cli(['accounts']);
      expect(off.code).toBe(1);
      expect(off.err).toMatch(/accounts_off/);
    } finally {
      await books.stop();
    }
  }, 60_000);

  it('answers a bad flag with exit code 2 and one line, and a refused task with exit code 1', async () => {
    const bad = await cli(['tasks', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    const refused = await cli(['submit', '-c', 'Not Valid']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^cnet: 422 invalid_request: capability/);
    const unreachable = runTs('bin/cnet.js', ['--manager', 'http://127.0.0.1:9', 'tasks'], env);
    expect(await unreachable.exited).toBe(1);
    expect(unreachable.stderr()).toMatch(/cannot reach the manager/);
  });
});
