import { z } from 'zod';
import { defineAgent } from '../src/sdk/index.ts';

// A complete bidder: counts the words of a text, bids by its load, reports the result. The
// manager is told what it takes and gives (JSON Schema from the zod schemas), and refuses
// other inputs before the agent sees them.
const agent = defineAgent({
  name: 'word-counter',
  capabilities: [
    { name: 'text.count-words', description: 'counts words', output: z.object({ words: z.int() }) },
  ],
  maxConcurrency: 4,
  input: z.object({ text: z.string() }),
  bid: (cfp, { running, capacity }) =>
    running >= capacity
      ? { type: 'refuse', reason: 'busy' }
      : { type: 'propose', cost: 1 + running, etaMs: 50 + Math.ceil(cfp.task.input.text.length / 100) },
  execute: ({ text }, { signal }) => {
    signal.throwIfAborted();
    return { words: text.split(/\s+/).filter(Boolean).length };
  },
});

// Logs where it listens, keeps its token per name and manager (it comes back under the same
// id), heartbeats, waits for a manager that is not up yet, and deregisters on Ctrl-C.
await agent.start({ manager: process.env.MANAGER_URL ?? 'http://127.0.0.1:8080' });
