import { z } from 'zod';
import { defineAgent } from '../src/sdk/index.ts';

// A complete bidder: counts the words of a text, bids by its load, reports the result.
const agent = defineAgent({
  name: 'word-counter',
  capabilities: [{ name: 'text.count-words', description: 'counts words' }],
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

const running = await agent.start({
  manager: process.env.MANAGER_URL ?? 'http://127.0.0.1:8080',
  tokenFile: '.data/word-counter.json',
});
console.log(`word-counter ${running.id} listening on ${running.url}`);
process.on('SIGINT', () => void running.stop().then(() => process.exit(0)));
