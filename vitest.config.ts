import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/** SDK agents keep their tokens here during tests, never in the user's home. */
const agentHome = mkdtempSync(join(tmpdir(), 'cnet-agents-'));

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/leak-check.ts'],
    include: ['src/**/*.test.ts', 'agents/**/*.test.ts', 'test/**/*.test.ts', 'dashboard/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only contend for the CPU that the agents and manager share.
    maxWorkers: 2,
    // Files share a worker's module cache instead of importing the manager afresh (2-4 s each):
    // 100 s less per database on these 2 cores. Every test makes its own manager, database and
    // agents, and restores what it changes (fake timers, signal handlers), so none leaks.
    isolate: false,
    env: { CNET_AGENT_HOME: agentHome },
  },
});
