import type { MiddlewareHandler } from 'hono';
import Papa from 'papaparse';
import { toJSONSchema } from 'zod';
import { type AgentSpec, deferred } from '../src/sdk/index.ts';
import { CAPABILITIES, type CapabilityName } from './capabilities.ts';
import {
  type Bid,
  cheapButSlow,
  fastButExpensive,
  loadPriced,
  refuseWhenBusy,
  type Strategy,
  undercutting,
  withinBudget,
} from './strategies.ts';
import { inputWithDependencies } from './work/dependency-input.ts';

/** A sample agent: what it offers and how it bids. */
export type SampleAgent = {
  description: string;
  capabilities: CapabilityName[];
  maxConcurrency: number;
  strategy: Strategy;
  /** Bids deferred: prices the job precisely (parsing it) before answering. */
  defers?: boolean;
  /** Refuses every cfp and serves the fallback work queue instead. */
  pullOnly?: boolean;
};

export const SAMPLE_AGENTS: Record<string, SampleAgent> = {
  summarizer: {
    description: 'summaries and keywords, priced by its current load',
    capabilities: ['text.summarize', 'text.keywords'],
    maxConcurrency: 4,
    strategy: loadPriced({ base: 2, perTask: 1, msPerUnit: 2, minMs: 40 }),
  },
  'summarizer-budget': {
    description: 'cheap but slow summaries',
    capabilities: ['text.summarize'],
    maxConcurrency: 2,
    strategy: cheapButSlow({ cost: 1, etaMs: 1500 }),
  },
  calculator: {
    description: 'fast but expensive maths',
    capabilities: ['math.evaluate'],
    maxConcurrency: 8,
    strategy: fastButExpensive({ cost: 6, etaMs: 40 }),
  },
  haggler: {
    description: 'maths; in iterated rounds it undercuts the best offer, down to 60% of its price',
    capabilities: ['math.evaluate'],
    maxConcurrency: 4,
    strategy: undercutting(fastButExpensive({ cost: 5, etaMs: 80 }), { floor: 0.6, step: 1 }),
  },
  'calculator-cheap': {
    description: 'cheap maths that refuses when busy',
    capabilities: ['math.evaluate'],
    maxConcurrency: 2,
    strategy: refuseWhenBusy(cheapButSlow({ cost: 1, etaMs: 600 })),
  },
  statistician: {
    description: 'CSV statistics; bids deferred after sizing the table',
    capabilities: ['data.csv-stats'],
    maxConcurrency: 4,
    strategy: loadPriced({ base: 3, perTask: 1, msPerUnit: 1, minMs: 50 }),
    defers: true,
  },
  hasher: {
    description: 'hashes and keywords; refuses when busy',
    capabilities: ['crypto.hash', 'text.keywords'],
    maxConcurrency: 4,
    strategy: refuseWhenBusy(loadPriced({ base: 1, perTask: 0.5, msPerUnit: 5, minMs: 20 })),
  },
  reporter: {
    description: 'reports: subcontracts a summary and keywords to other agents, merges them',
    capabilities: ['text.report'],
    maxConcurrency: 4,
    // Priced above its two parts together: it pays each up to half of what it earns.
    strategy: loadPriced({ base: 10, perTask: 1, msPerUnit: 5, minMs: 200 }),
  },
  'queue-worker': {
    description: 'bids on nothing; pulls whatever lands in the fallback queue',
    capabilities: Object.keys(CAPABILITIES) as CapabilityName[],
    maxConcurrency: 4,
    strategy: () => ({ type: 'refuse', reason: 'pull-only' }),
    pullOnly: true,
  },
};

/** Fault injection for demonstrations and tests, chosen by flags. */
export type Misbehaviour = { failRate?: number; hang?: boolean; garbage?: boolean };

/** Answers every manager message with broken JSON. */
const garbage: MiddlewareHandler = async (c) =>
  c.body('{"type": "propo', 200, { 'content-type': 'application/json' });

/** Builds the SDK spec of a sample agent, with any misbehaviour switched on. */
export function sampleAgentSpec(
  name: string,
  sample: SampleAgent,
  chaos: Misbehaviour = {},
  random: () => number = Math.random,
): AgentSpec<unknown, unknown> {
  for (const c of sample.capabilities) CAPABILITIES[c].warmUp?.();
  return {
    name,
    description: sample.description,
    // The schemas are published as JSON Schema; the input is checked here (not by the SDK), where a
    // pipeline stage's text from its dependencies is merged in first.
    capabilities: sample.capabilities.map((c) => ({
      name: c,
      description: CAPABILITIES[c].description,
      inputSchema: toJSONSchema(CAPABILITIES[c].input, { io: 'input' }) as Record<string, unknown>,
      output: CAPABILITIES[c].output,
    })),
    maxConcurrency: sample.maxConcurrency,
    middleware: chaos.garbage ? [garbage] : [],
    inlineResultMs: 50,
    bid(cfp, load) {
      if (chaos.hang) return new Promise<never>(() => {});
      if (sample.pullOnly) return { type: 'refuse', reason: 'pull-only' };
      const cap = CAPABILITIES[cfp.task.capability as CapabilityName];
      if (!cap || !sample.capabilities.includes(cfp.task.capability as CapabilityName)) {
        return { type: 'refuse', reason: `no ${cfp.task.capability} here` };
      }
      const parsed = cap.input.safeParse(inputWithDependencies(cfp.task.input, cfp.task.dependencies));
      if (!parsed.success)
        return { type: 'refuse', reason: `invalid input: ${parsed.error.issues[0]?.message}` };
      const bid = (size: number): Bid =>
        withinBudget(sample.strategy)({ size, budget: cfp.task.budget, best: cfp.best }, load);
      if (sample.defers) {
        // Size the job precisely (count the cells) before pricing it; the manager waits for the bid.
        return deferred(async () => bid(sizeCsv((parsed.data as { csv: string }).csv)));
      }
      return bid(cap.size(parsed.data as never));
    },
    async execute(input, { task, signal, subcontract, cost }) {
      if (chaos.hang)
        await new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      if (chaos.failRate && random() < chaos.failRate)
        throw new Error(`simulated failure (--fail-rate ${chaos.failRate})`);
      const cap = CAPABILITIES[task.capability as CapabilityName];
      if (!cap) throw new Error(`no ${task.capability} here`);
      const parsed = cap.input.safeParse(inputWithDependencies(input, task.dependencies));
      if (!parsed.success)
        throw new Error(
          `invalid input: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      signal.throwIfAborted();
      return cap.run(parsed.data as never, { subcontract, cost });
    },
  };
}

function sizeCsv(csv: string): number {
  const rows = Papa.parse<string[]>(csv.trim(), { skipEmptyLines: true }).data;
  return rows.length * (rows[0]?.length ?? 1);
}
