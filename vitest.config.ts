import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/** SDK agents keep their tokens here during tests, never in the user's home. */
const agentHome = mkdtempSync(join(tmpdir(), 'cnet-agents-'));

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['src/**/*.test.ts', 'agents/**/*.test.ts', 'test/**/*.test.ts', 'dashboard/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only contend for the CPU that the agents and manager share.
    maxWorkers: 2,
    env: { CNET_AGENT_HOME: agentHome },
  },
});
