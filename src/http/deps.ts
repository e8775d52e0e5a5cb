import type { Logger } from 'pino';
import type { AccountStore } from '../accounts/account-store.ts';
import type { MarketService } from '../app/market-service.ts';
import type { CapabilityCatalogue } from '../capabilities/catalogue.ts';
import type { Config } from '../config.ts';

export type HttpConfig = Pick<
  Config,
  | 'ACCOUNTS'
  | 'API_KEYS'
  | 'ADMIN_KEYS'
  | 'REGISTRATION_KEY'
  | 'A2A_DEFAULT_CAPABILITY'
  | 'AGENT_TTL_MS'
  | 'ALLOWED_HOSTS'
  | 'BODY_LIMIT_BYTES'
  | 'EVENT_REPLAY_MAX'
  | 'HOST'
  | 'PORT'
  | 'PUBLIC_URL'
  | 'MAX_LONG_POLLS_PER_CLIENT'
  | 'MAX_STREAMS_PER_CLIENT'
  | 'MAX_SUBTASKS_PER_AWARD'
  | 'MAX_SUBTASK_DEPTH'
  | 'RATE_LIMIT_BYTES_PER_KEY'
  | 'RATE_LIMIT_PER_ADDRESS'
  | 'RATE_LIMIT_PER_KEY'
  | 'RATE_LIMIT_WINDOW_MS'
>;

import type { Database } from '../db/client.ts';
import type { EventFeed } from '../events/event-feed.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { PrometheusMetrics } from '../observability/prometheus.ts';
import type { CircuitState } from '../protocol/agent.ts';
import type { AgentRegistry } from '../registry/agent-registry.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import type { HeldSlots } from './held-requests.ts';

/** Everything the HTTP layer needs, passed in so tests can build the app in-process. */
export type AppDeps = {
  /** What the edge reads: credentials, limits, hosts, and the market's policy it shows. */
  config: HttpConfig;
  logger: Logger;
  database: Database;
  registry: AgentRegistry;
  tasks: TaskStore;
  hub: EventHub;
  /** The manager-wide event feed every /v1/events stream shares. */
  feed: EventFeed;
  /** Accounts and statements (ACCOUNTS=true). */
  accounts: AccountStore;
  /** The application layer: every use case that changes the market. */
  market: MarketService;
  circuitOf(agentId: string): CircuitState;
  /** The capability catalogue (GET /v1/capabilities). */
  catalogue: CapabilityCatalogue;
  /** Why an A2A agent's card does not lead to an A2A endpoint (null: it answers A2A). */
  a2aProbe(card: Record<string, unknown>): Promise<string | null>;
  metrics?: PrometheusMetrics;
  /** The manager's own base URL: PUBLIC_URL, or where it listens (never the request's Host). */
  publicUrl(): string;
  /** Where this process listens, reached on loopback (the MCP tools call /v1 through it). */
  selfUrl(): string;
  /** Event streams and long-polls held open, capped per client. */
  held: HeldSlots;
};

/** What the routes get. */
export type RouteDeps = AppDeps;

export type AppEnv = { Variables: { requestId: string } };
