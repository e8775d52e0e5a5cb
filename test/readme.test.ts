import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startManager, type TestManager } from './support/harness.ts';
import { freePort, ROOT, runTs } from './support/processes.ts';
import { createTestDatabase } from './support/test-database.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m.stop());

  it('opens with the two commands', () => {
    const firstBlock = readme.split('```')[1]!;
    expect(firstBlock).toContain('npm install && npm run demo');
    expect(firstBlock).toContain('npm install && npm test');
  });

  it('runs the five-minute tour as written', async () => {
    const block = readme.split('<!-- tour -->')[1]!.split('<!-- /tour -->')[0]!;
    const port = await freePort();
    const script = block
      .replace(/^```sh\n|```\s*$/gm, '')
      .replaceAll('http://127.0.0.1:8080', `http://127.0.0.1:${port}`);
    const dir = mkdtempSync(join(tmpdir(), 'cnp-tour-'));
    const db = await createTestDatabase(); // on PostgreSQL, a database of its own
    // One process group for the tour and everything it starts, killed as a whole afterwards.
    const child = spawn('bash', ['-e', '-c', script], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: String(port),
        PGLITE_DATA_DIR: dir,
        LOG_LEVEL: 'warn',
        ...(db.env.DATABASE_URL ? { DATABASE_URL: db.env.DATABASE_URL } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    };
    process.once('exit', killGroup);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    killGroup();
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
    expect(out).toMatch(/"state":"completed"/); // the curl long-poll
    expect(out).toMatch(/"output":\{"result":1024\}/);
    expect(out).toMatch(/"outcome":"accepted"/);
    expect(out).toMatch(/1\.414213562373/); // the CLI's --wait
    expect(out).toMatch(/round\.opened/); // watch saw the round
    expect(out).toMatch(/"name":"crypto\.hash".*"inputSchema"/); // the catalogue
    expect(out).toMatch(/"field":"input"/); // the input no agent takes
    expect(out).toMatch(/"protocol":"a2a"/); // the A2A agent registered by its card
    expect(out).toMatch(/5 km = 3\.10685596119 mile/); // and its work, done through the market
    expect(code, out).toBe(0);
  }, 90_000);

  it('shows agents/hello-agent.ts verbatim, and that agent really completes a task', async () => {
    const source = readFileSync(join(ROOT, 'agents/hello-agent.ts'), 'utf8');
    expect(readme).toContain(source);
    expect(source.split('\n').length).toBeLessThanOrEqual(30);
    const p = runTs('agents/hello-agent.ts', [], { MANAGER_URL: m.url });
    try {
      for (let i = 0; i < 200 && !p.stderr().includes('listening on'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(p.stderr()).toMatch(
        /agent "word-counter" listening on http:\/\/127\.0\.0\.1:\d+, registered as /,
      );
      const task = await m.call('POST', '/v1/tasks', {
        capability: 'text.count-words',
        input: { text: 'one two three' },
      });
      const done = await m.call('GET', `/v1/tasks/${task.body.id}?waitMs=15000`);
      expect(done.body).toMatchObject({ state: 'completed', output: { words: 3 } });
    } finally {
      p.child.kill('SIGINT');
      await p.exited;
    }
  });
});
