import { sql } from 'drizzle-orm';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import { HOLDING_TASKS } from '../accounts/account-store.ts';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { quoted } from '../db/sql-lists.ts';
import type { EventFeed } from '../events/event-feed.ts';
import type { CircuitState } from '../protocol/agent.ts';
import { OPEN_TASK_STATES } from '../protocol/states.ts';
import type { SlotStatus } from '../rounds/admission.ts';
import type { MarketMetrics } from './market-metrics.ts';

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Seconds buckets from a few ms (a round on loopback) to minutes (work, a stuck award). */
const LATENCY = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The parts whose state the gauges show at scrape time. */
export type MetricSources = {
  circuits(): Iterable<[string, CircuitState]>;
  slots(): SlotStatus;
  feed: Pick<EventFeed, 'gapAgeMs' | 'gapsPassed'>;
  memory(): Record<string, number>;
  /** Requests held open now, by kind (event streams, long-polls). */
  held(): Record<string, number>;
};

export type PrometheusMetrics = MarketMetrics & {
  /** Shows the state of these parts at each scrape (called once they exist). */
  observe(sources: MetricSources): void;
  circuitTransition(state: CircuitState): void;
  /** HTTP requests by route pattern (never the raw path: ids would explode the series). */
  httpRequest(method: string, route: string, status: number, durationMs: number): void;
  text(): Promise<string>;
  /** The same metrics as prom-client's JSON (the dashboard reads these instead of parsing text). */
  json(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
};

/**
 * The manager's Prometheus metrics (prom-client), one registry per manager so tests can run
 * several. Gauges that read the database touch only live tasks through partial or leading
 * indexes (queued by capability, non-terminal by state), never a scan of the whole table.
 */
export function createMetrics(db: Db): PrometheusMetrics {
  /** What the scrape-time gauges read, once the parts that hold it exist (`observe`). */
  let sources: MetricSources | undefined;
  const registers = [new Registry()];
  const [registry] = registers as [Registry];
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, labelNames: string[] = []) =>
    new Histogram({ name, help, labelNames, buckets: LATENCY, registers });

  const circuitTransitions = counter(
    'cnp_circuit_transitions_total',
    'Agent circuit breaker transitions seen by this manager',
    ['state'],
  );
  const rounds = counter('cnp_rounds_total', 'Contract-net rounds this manager closed, by outcome', [
    'outcome',
  ]);
  const roundSeconds = histogram(
    'cnp_round_duration_seconds',
    'From a round opening to its close (the bidding phase)',
    ['outcome'],
  );
  const bids = counter('cnp_bids_total', "Invitees' answers to cfps, by type", ['type']);
  const toAward = histogram('cnp_submit_to_award_seconds', 'From submission to each award offered');
  const toCompleted = histogram('cnp_submit_to_completed_seconds', 'From submission to completion');
  const movedOn = counter(
    'cnp_awards_moved_on_total',
    'Awards that went to the next-best bid because the winner did not agree',
  );
  const agreements = counter(
    'cnp_agreements_total',
    "Winners' agreements recorded: with the holder's report while held, or alone",
    ['recorded'],
  );
  const agentCalls = histogram('cnp_agent_call_duration_seconds', 'Calls to agents, by message and outcome', [
    'message',
    'outcome',
  ]);
  const claims = counter('cnp_queue_claims_total', 'Tasks agents pulled from the fallback queue');
  const expiries = counter(
    'cnp_award_expiries_total',
    'Awards ended by time: claim leases and awards past dueAt',
    ['kind'],
  );
  const pruned = counter('cnp_pruned_total', 'Ended tasks and agent events deleted past TASK_RETENTION_MS', [
    'kind',
  ]);
  const skew = new Gauge({
    name: 'cnp_clock_skew_seconds',
    help: "How far the database's clock is ahead of this manager's (negative: behind), at the last sweep",
    registers,
  });
  const http = histogram('cnp_http_request_duration_seconds', 'HTTP requests by method, route and status', [
    'method',
    'route',
    'status',
  ]);

  new Gauge({
    name: 'cnp_agent_circuit_state',
    help: "This manager's view of each agent's circuit: 0 closed, 1 half-open, 2 open",
    labelNames: ['agent'],
    registers,
    collect() {
      this.reset();
      for (const [agent, state] of sources?.circuits() ?? []) this.set({ agent }, CIRCUIT_VALUE[state]);
    },
  });
  new Gauge({
    name: 'cnp_bidding_slots',
    help: "This manager's bidding slots: the adaptive limit, the rounds bidding in them, the rounds waiting for one",
    labelNames: ['kind'],
    registers,
    collect() {
      if (!sources) return;
      const now = sources.slots();
      this.set({ kind: 'limit' }, now.limit);
      this.set({ kind: 'running' }, now.running);
      this.set({ kind: 'waiting' }, now.waiting);
    },
  });
  new Gauge({
    name: 'cnp_memory_bytes',
    help: "Estimated bytes held by this manager's bounded in-memory structures, by structure",
    labelNames: ['structure'],
    registers,
    collect() {
      this.reset();
      for (const [structure, bytes] of Object.entries(sources?.memory() ?? {}))
        this.set({ structure }, bytes);
    },
  });
  new Gauge({
    name: 'cnp_held_requests',
    help: 'Requests this manager holds open now, by kind: event streams and long-polls (each capped per client)',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(sources?.held() ?? {})) this.set({ kind }, n);
    },
  });
  new Gauge({
    name: 'cnp_event_feed_gap_seconds',
    help: "How long this manager's event streams have waited at a missing event id (0: none)",
    registers,
    collect() {
      this.set((sources?.feed.gapAgeMs() ?? 0) / 1000);
    },
  });
  new Counter({
    name: 'cnp_event_feed_gaps_passed_total',
    help: 'Missing event ids the streams went past: checked (rolled back), or at the limit with a transaction still open (a stream may have missed an event)',
    labelNames: ['how'],
    registers,
    collect() {
      this.reset();
      for (const [how, n] of Object.entries(sources?.feed.gapsPassed ?? {})) this.inc({ how }, n);
    },
  });
  new Gauge({
    name: 'cnp_queue_depth',
    help: 'Queued tasks by capability (all managers on the database)',
    labelNames: ['capability'],
    registers,
    async collect() {
      // Read through tasks_queue_idx (a queued task always has its next auction due): the queue, not the table.
      const rows = await queryRows<{ capability: string; n: string | number }>(
        db,
        sql`select capability, count(*) as n from tasks
            where live and next_auction_at is not null and state = 'queued' group by capability`,
      );
      this.reset();
      for (const r of rows) this.set({ capability: r.capability }, Number(r.n));
    },
  });
  new Gauge({
    name: 'cnp_tasks',
    help: 'Live (not yet ended) tasks by state (all managers on the database)',
    labelNames: ['state'],
    registers,
    async collect() {
      // Ended tasks are many (kept for TASK_RETENTION_MS); live ones are few, and the live indexes hold only them.
      const rows = await queryRows<{ state: string; n: string | number }>(
        db,
        sql`select state::text as state, count(*) as n from tasks
            where live and state in ${sql.raw(quoted(OPEN_TASK_STATES))} group by state`,
      );
      this.reset();
      for (const s of OPEN_TASK_STATES) this.set({ state: s }, 0);
      for (const r of rows) this.set({ state: r.state }, Number(r.n));
    },
  });
  new Gauge({
    name: 'cnp_money_units',
    help: "Accounts (ACCOUNTS=true), all managers: held in live tasks' escrows, settled (paid to agents, all told), refunded (released back to clients, all told), issued (credited by admins, net of debits)",
    labelNames: ['kind'],
    registers,
    async collect() {
      // Live tasks through the live indexes; the rest from the accounts, however long the history.
      const [row] = await queryRows<
        Record<'held' | 'settled' | 'refunded' | 'issued', string | number | null>
      >(
        db,
        sql`select
          (select sum(held) from tasks where ${HOLDING_TASKS} and payer is not null) as held,
          (select sum(earned) from accounts) as settled,
          (select sum(refunded) from accounts where kind = 'client') as refunded,
          (select -balance from accounts where id = 'issuance') as issued`,
      );
      for (const kind of ['held', 'settled', 'refunded', 'issued'] as const)
        this.set({ kind }, Number(row?.[kind] ?? 0));
    },
  });

  const s = (ms: number) => Math.max(0, ms) / 1000;
  return {
    observe(s) {
      sources = s;
    },
    roundClosed(outcome, durationMs, answers) {
      rounds.inc({ outcome });
      roundSeconds.observe({ outcome }, s(durationMs));
      for (const type of answers) bids.inc({ type });
    },
    awarded: (ms) => toAward.observe(s(ms)),
    awardMovedOn: () => movedOn.inc(),
    agreementRecorded: (recorded) => agreements.inc({ recorded }),
    completed: (ms) => toCompleted.observe(s(ms)),
    agentCall: (message, outcome, ms) => agentCalls.observe({ message, outcome }, s(ms)),
    claimed: (n) => claims.inc(n),
    awardExpired: (kind) => expiries.inc({ kind }),
    pruned: (tasks, agentEvents) => {
      if (tasks) pruned.inc({ kind: 'task' }, tasks);
      if (agentEvents) pruned.inc({ kind: 'agent_event' }, agentEvents);
    },
    clockSkew: (ms) => skew.set(ms / 1000),
    circuitTransition: (state) => circuitTransitions.inc({ state }),
    httpRequest: (method, route, status, ms) =>
      http.observe({ method, route, status: String(status) }, s(ms)),
    text: () => registry.metrics(),
    json: () => registry.getMetricsAsJSON(),
  };
}
