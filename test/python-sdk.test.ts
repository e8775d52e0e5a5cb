import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startManager, waitEnd } from './support/harness.ts';
import { ROOT } from './support/processes.ts';
import { onPostgres } from './support/test-database.ts';

/**
 * The Python SDK (packages/python): its pytest suite against a real manager on this run's
 * database (PGlite, or a new database on DATABASE_URL's server), `mypy --strict`, and an
 * offline install into a fresh virtual environment running the README's ten-line agent.
 * CI installs Debian's python3-pytest, python3-mypy and python3-venv and sets REQUIRE_PYTHON=1,
 * so there a missing piece fails the suite; elsewhere these tests are skipped, saying why.
 */
const PYTHON = process.env.PYTHON ?? 'python3';
const PKG = join(ROOT, 'packages', 'python');

function has(code: string): boolean {
  return spawnSync(PYTHON, ['-c', code], { stdio: 'ignore' }).status === 0;
}
const python = has('import sys; assert sys.version_info >= (3, 10)');
const tools = {
  pytest: python && has('import pytest'),
  mypy: python && has('import mypy'),
  venv: python && has('import venv, ensurepip, setuptools, wheel'),
};
for (const [tool, ok] of Object.entries(tools)) {
  if (ok) continue;
  const why = python ? `${PYTHON} cannot import ${tool}` : `no Python 3.10+ at ${PYTHON}`;
  if (process.env.REQUIRE_PYTHON === '1') throw new Error(`REQUIRE_PYTHON=1 but ${why}`);
  console.warn(`Python SDK ${tool} tests skipped: ${why}`);
}

type Ran = { code: number | null; out: string };

/** Runs a command to its end without blocking the event loop (a manager may be serving in this process). */
function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('Python SDK', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it.runIf(tools.pytest)('passes its pytest suite against a real manager', { timeout: 240_000 }, async () => {
    const r = await run(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'packages/python/tests']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/\d+ passed/);
    expect(r.out).not.toMatch(/skipped|failed/);
  });

  // Types and packaging do not depend on the database: CI checks them in its PGlite pass only.
  it.runIf(tools.mypy && !onPostgres())(
    'is clean under mypy --strict, with its example',
    { timeout: 240_000 },
    async () => {
      const r = await run(PYTHON, ['-m', 'mypy', '--strict', 'src/contract_net', '../../examples/python'], {
        cwd: PKG,
      });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/Success: no issues found/);
    },
  );

  it.runIf(tools.venv && !onPostgres())(
    "installs offline into a fresh virtual environment and runs the README's ten-line agent to a completed task",
    { timeout: 180_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cnet-py-venv-'));
      dirs.push(dir);
      // A copy, so the build leaves nothing in the repository.
      cpSync(PKG, join(dir, 'src-copy'), { recursive: true, filter: (p) => !p.includes('__pycache__') });
      const venv = join(dir, 'venv');
      const made = await run(PYTHON, ['-m', 'venv', '--system-site-packages', venv]);
      expect(made.code, made.out).toBe(0);
      const py = join(venv, 'bin', 'python');
      const installed = await run(py, [
        '-m',
        'pip',
        'install',
        '--no-index',
        '--no-build-isolation',
        '--disable-pip-version-check',
        join(dir, 'src-copy'),
      ]);
      expect(installed.code, installed.out).toBe(0);

      const readme = readFileSync(join(PKG, 'README.md'), 'utf8');
      const agentCode = /## An agent in ten lines[\s\S]*?```python\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(agentCode).toBeTruthy();
      expect(agentCode!.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(10);
      const capability = /@agent\.capability\("([^"]+)"/.exec(agentCode!)![1]!;
      writeFileSync(join(dir, 'agent.py'), agentCode!);

      const m = await startManager();
      const agent = spawn(py, [join(dir, 'agent.py')], {
        cwd: dir,
        env: { ...process.env, CNET_MANAGER: m.url, CNET_AGENT_HOME: join(dir, 'home'), PYTHONPATH: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      agent.stderr.on('data', (d) => (log += d));
      try {
        await eventually(() => /registered as/.test(log), 30_000, `the agent to register (${log})`);
        const t = await m.call('POST', '/v1/tasks', { capability, input: { text: 'hello' } });
        expect(t.status).toBe(202);
        const done = await waitEnd(m, t.body.id, 30000);
        expect(done.state, JSON.stringify(done)).toBe('completed');
        expect(JSON.stringify(done.output)).toContain('HELLO');
        // Installed, not borrowed from the repository.
        const where = await run(py, ['-c', 'import contract_net; print(contract_net.__file__)'], {
          cwd: dir,
        });
        expect(where.out).toContain(venv);
      } finally {
        agent.kill('SIGTERM');
        await new Promise((r) => agent.once('close', r));
        await m.stop();
      }
      expect(log).not.toMatch(/Traceback/);
    },
  );
});
