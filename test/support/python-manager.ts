/**
 * A real manager for the Python SDK's tests (packages/python/tests/conftest.py starts this):
 * on its own database (PGlite in memory, or a new database on DATABASE_URL's server), with a
 * TypeScript SDK agent offering `mixed.echo` beside the Python agents. Prints one JSON line
 * (`{"url", "tsAgentId"}`) when ready; stops and drops its database when stdin closes.
 */
import { defineAgent } from '../../src/sdk/index.ts';
import { startManager } from './harness.ts';

const m = await startManager({ AGENT_TTL_MS: '60000' });
const ts = await defineAgent({
  name: 'ts-echo',
  capabilities: ['mixed.echo'],
  maxConcurrency: 4,
  // Dearer than the Python agent's bid in the mixed round, so the ranking is known.
  bid: () => ({ type: 'propose', cost: 5, etaMs: 500 }),
  execute: (input) => ({ echoed: input, by: 'typescript' }),
}).start({ manager: m.url, tokenFile: false, handleSignals: false, log: () => {} });

process.stdout.write(`${JSON.stringify({ url: m.url, tsAgentId: ts.id })}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await ts.stop({ graceMs: 200 }).catch(() => {});
  await m.stop();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
