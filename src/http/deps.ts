import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { CircuitState } from '../protocol/agent.ts';
import type { AgentRegistry } from '../registry/agent-registry.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import type { TaskRow } from '../tasks/task-view.ts';

/** What the market does when the API changes a task; the round lives behind this. */
export interface MarketPort {
  /** A task was submitted or revived: open its first round. */
  announce(taskId: string): void;
  /** Cancels a task that has not ended (409 if it has) and tells its holder. */
  cancel(taskId: string): Promise<TaskRow>;
  /** Puts a failed task back with fresh attempts (409 unless failed). */
  retry(taskId: string): Promise<TaskRow>;
  /** An agent left: tasks it held go back to bidding. */
  releaseAgent(agentId: string, taskIds: string[]): Promise<void>;
  /** An agent (re)registered: queued tasks it could serve are auctioned now, not after their backoff. */
  wakeQueued(capabilities: string[]): Promise<void>;
}

/** Everything the HTTP layer needs, passed in so tests can build the app in-process. */
export type AppDeps = {
  config: Config;
  logger: Logger;
  database: Database;
  registry: AgentRegistry;
  tasks: TaskStore;
  hub: EventHub;
  market: MarketPort;
  circuitOf(agentId: string): CircuitState;
  /** Extra route groups (the round's agent-facing routes, the queue) added by later layers. */
  extraRoutes?: ((app: OpenAPIHono<AppEnv>, deps: AppDeps) => void)[];
  metrics?: () => Promise<string>;
};

export type AppEnv = { Variables: { requestId: string } };
