import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { ROOT } from './support/processes.ts';
import { onPostgres } from './support/test-database.ts';

const run = promisify(execFile);
const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 16 * 1024 * 1024 });

/** Bytes under a directory, symlinks not followed. */
async function sizeOf(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split(/\s/)[0]);
}

const AGENT_JS = `
import { defineAgent } from '@contract-net/sdk/sdk';

const agent = defineAgent({
  name: 'packed-agent',
  capabilities: ['packed.echo'],
  bid: (cfp) => ({ type: 'propose', cost: 1, etaMs: 50 }),
  execute: (input) => ({ echoed: input.text, by: 'a packed agent' }),
});
const running = await agent.start({ manager: process.env.MANAGER_URL });
console.log('ready ' + running.id);
process.on('SIGTERM', async () => {
  await running.stop({ graceMs: 100 });
  process.exit(0);
});
`;

const AGENT_TS = `
import { type AgentSpec, defineAgent } from '@contract-net/sdk';
import { TaskSubmission } from '@contract-net/sdk/protocol';

type Input = { text: string };
type Output = { echoed: string };
const spec: AgentSpec<Input, Output> = {
  name: 'typed-agent',
  capabilities: ['packed.echo'],
  bid: (cfp, ctx) => ({ type: 'propose', cost: cfp.task.budget ?? 1, etaMs: 50 + ctx.running }),
  execute: (input) => ({ echoed: input.text }),
};
export const agent = defineAgent(spec);
export const ok: boolean = TaskSubmission.safeParse({ capability: 'packed.echo', input: {} }).success;
// @ts-expect-error a bid needs a cost
export const bad: AgentSpec<Input, Output>['bid'] = () => ({ type: 'propose', etaMs: 1 });
`;

/** Packing and installing do not depend on the database: CI runs these in its PGlite pass only. */
describe.skipIf(onPostgres())('the SDK as an installable package', () => {
  let m: TestManager;
  const dir = mkdtempSync(join(tmpdir(), 'cnp-pack-'));
  const project = join(dir, 'my-agent');
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(async () => {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('packs, installs into a fresh project without the manager, and runs a plain JavaScript agent', async () => {
    const packed = await npm(
      ['pack', '--workspace', '@contract-net/sdk', '--pack-destination', dir, '--json'],
      ROOT,
    );
    const [{ filename, files }] = JSON.parse(packed.stdout) as [
      { filename: string; files: { path: string }[] },
    ];
    const paths = files.map((f) => f.path);
    expect(paths).toContain('dist/sdk/index.js');
    expect(paths).toContain('dist/sdk/index.d.ts');
    expect(paths).toContain('dist/protocol/index.d.ts');
    expect(paths.some((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toBe(false);

    rmSync(project, { recursive: true, force: true });
    await run('mkdir', ['-p', project]);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'my-agent', private: true, type: 'module' }),
    );
    await npm(['install', join(dir, filename)], project);
    const modules = join(project, 'node_modules');
    for (const server of [
      '@electric-sql/pglite',
      'drizzle-orm',
      'postgres',
      'mathjs',
      'tsx',
      'pino',
      'papaparse',
    ])
      expect(existsSync(join(modules, server)), server).toBe(false);
    // The manager's install is over 100 MB; an agent's is a few.
    expect(await sizeOf(modules)).toBeLessThan(25 * 1024 * 1024);

    writeFileSync(join(project, 'agent.mjs'), AGENT_JS);
    const child = spawn(process.execPath, ['agent.mjs'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', MANAGER_URL: m.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    try {
      await eventually(() => out.includes('ready '), 20_000, `the agent to register (output: ${out})`);
      const t = await m.call('POST', '/v1/tasks', { capability: 'packed.echo', input: { text: 'hello' } });
      const done = await waitEnd(m, t.body.id, 15000);
      expect(done).toMatchObject({ state: 'completed', output: { echoed: 'hello', by: 'a packed agent' } });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 180_000);

  it('types a TypeScript agent with the shipped declarations', async () => {
    writeFileSync(join(project, 'agent.ts'), AGENT_TS);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: [],
        },
        files: ['agent.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const res = await run(process.execPath, [tsc, '-p', project]).catch((e: { stdout: string }) => e);
    expect(res.stdout).toBe('');
  }, 60_000);
});
