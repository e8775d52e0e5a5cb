import { mulberry32 as seeded } from '../support/random.ts';

const SENTENCES = [
  'Contract net protocols let a manager announce work and pick the best bid.',
  'Agents that are busy can refuse a call for proposals.',
  'A circuit breaker stops a manager from calling an agent that keeps failing.',
  'Solar panels convert sunlight into electricity with rising efficiency.',
  'Queues absorb work when no agent can take it right away.',
  'Reputation rewards agents that deliver what they promised.',
  'Deadlines bound how long a client is willing to wait.',
  'Budgets keep expensive bids out of the ranking.',
  'Wind turbines turn moving air into electricity for the grid.',
  'Markets allocate scarce resources through prices and bids.',
];

const CONVERSIONS = [
  { from: 'km', to: 'mile' },
  { from: 'degC', to: 'degF' },
  { from: 'kWh', to: 'MJ' },
  { from: 'lb', to: 'kg' },
];

/** A demo task's budget: above every sample agent's price, even when it is busy. */
export const DEMO_BUDGET = 60;

export type DemoTask = {
  capability: string;
  input: unknown;
  budget?: number;
  priority?: number;
  weights?: Record<string, number>;
};

/**
 * A mixed batch: summaries, keywords, maths, CSV statistics, hashes, unit conversions (for the
 * A2A agent) and, with `python`, readability scores (for the Python agent), with real inputs; some
 * clients weigh cost, some time; a share with a budget no bidder meets, which lands in the
 * fallback queue and is served from there.
 */
export function demoWorkload(n: number, seed = 42, opts: { python?: boolean } = {}): DemoTask[] {
  const rnd = seeded(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const text = (k: number) => Array.from({ length: k }, () => pick(SENTENCES)).join(' ');
  const weights = () =>
    pick([undefined, { cost: 3, time: 1, reputation: 1 }, { cost: 1, time: 3, reputation: 1 }]);
  const out: DemoTask[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 10;
    // Budgets are whole units, held from the demo client's account (ACCOUNTS=true) until settled.
    const common = {
      budget: DEMO_BUDGET,
      priority: Math.floor(rnd() * 3),
      ...(weights() ? { weights: weights() } : {}),
    };
    if (kind < 3)
      out.push({
        capability: 'text.summarize',
        input: { text: text(4 + Math.floor(rnd() * 6)), sentences: 2 },
        ...common,
      });
    else if (kind < 5)
      out.push({
        capability: 'math.evaluate',
        input: {
          expression: `${Math.floor(rnd() * 100)} * ${Math.floor(rnd() * 100)} + sqrt(${Math.floor(rnd() * 1000)})`,
        },
        ...common,
      });
    else if (kind < 6) out.push({ capability: 'text.keywords', input: { text: text(5), top: 3 }, ...common });
    else if (kind < 7) {
      const rows = Array.from(
        { length: 5 + Math.floor(rnd() * 20) },
        (_, r) => `${pick(['Oslo', 'Rome', 'Lima', 'Kyiv'])},${Math.round(rnd() * 300) / 10},${r}`,
      );
      out.push({
        capability: 'data.csv-stats',
        input: { csv: `city,temp,day\n${rows.join('\n')}` },
        ...common,
      });
    } else if (kind === 7 && i % 20 === 7 && opts.python)
      // For the Python agent (examples/python): how readable a text is.
      out.push({
        capability: 'text.readability',
        input: { text: text(3 + Math.floor(rnd() * 5)) },
        ...common,
      });
    else if (kind === 8 && i % 20 === 8)
      // For the A2A agent (built with the official A2A SDK): a unit conversion.
      out.push({
        capability: 'units.convert',
        input: { value: Math.round(rnd() * 1000) / 10, ...pick(CONVERSIONS) },
        ...common,
      });
    else if (kind < 9)
      out.push({
        capability: 'crypto.hash',
        input: { text: text(2), algorithm: pick(['sha256', 'sha512', 'md5']) },
        ...common,
      });
    // Every bidder asks more than this: no acceptable bid, so the queue-worker serves it (for nothing).
    else out.push({ capability: 'math.evaluate', input: { expression: `${i} ^ 2` }, ...common, budget: 0 });
  }
  return out;
}

/**
 * Pipelines among the demo's tasks (one per 20 tasks, at least one): a summary, the keywords of
 * that summary, and a fingerprint of the keywords, each stage waiting for the one before
 * (dependsOn) and working on its output.
 */
export function demoPipelines(n: number, seed = 42) {
  const rnd = seeded(seed + 1);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  return Array.from({ length: Math.max(1, Math.floor(n / 20)) }, () => ({
    tasks: [
      {
        name: 'summary',
        capability: 'text.summarize',
        input: { text: Array.from({ length: 6 }, () => pick(SENTENCES)).join(' '), sentences: 2 },
        budget: DEMO_BUDGET,
      },
      {
        name: 'keywords',
        capability: 'text.keywords',
        input: { top: 3 },
        dependsOn: ['summary'],
        budget: DEMO_BUDGET,
      },
      {
        name: 'fingerprint',
        capability: 'crypto.hash',
        input: { algorithm: 'sha256' },
        dependsOn: ['keywords'],
        budget: DEMO_BUDGET,
      },
    ],
  }));
}
