import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { A2AContractor } from './a2a/a2a-contractor.ts';
import { MarketService } from './app/market-service.ts';
import { HeldAgreements } from './awards/held-agreements.ts';
import { sendCancel } from './awards/notify-holder.ts';
import { CapabilityCatalogue } from './capabilities/catalogue.ts';
import { SchemaIndex } from './capabilities/schema-index.ts';
import { type Config, databaseTarget } from './config.ts';
import { type Database, openDatabase, type Tx } from './db/client.ts';
import { DbClock, measureDbClock } from './db/db-clock.ts';
import { migrateDatabase } from './db/migrate.ts';
import { type EventFeed, eventFeedOn } from './events/event-feed.ts';
import { EventHub } from './events/event-hub.ts';
import { recordEvent } from './events/event-log.ts';
import { EventPublisher } from './events/event-publisher.ts';
import { createApp } from './http/app.ts';
import { clientKeys } from './http/auth.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './observability/prometheus.ts';
import { traceDatabase } from './observability/traced-database.ts';
import { noTracing } from './observability/tracing.ts';
import { cleanText } from './protocol/common.ts';
import { WorkQueue } from './queue/work-queue.ts';
import { AgentRegistry } from './registry/agent-registry.ts';
import { loadManagerSecret } from './registry/agent-token.ts';
import { Liveness } from './registry/liveness.ts';
import { AgentClient } from './resilience/agent-client.ts';
import { OutboundGuard } from './resilience/outbound-guard.ts';
import { allowList, isLoopbackHost } from './resilience/outbound-policy.ts';
import { RoundRunner } from './rounds/round-runner.ts';
import { Sweeper } from './sweeper/sweeper.ts';
import { CallbackOutbox, callbackSecretOf } from './tasks/callback-outbox.ts';
import { TaskStore } from './tasks/task-store.ts';

export type Manager = {
  id: string;
  config: Config;
  database: Database;
  app: ReturnType<typeof createApp>;
  logger: Logger;
  registry: AgentRegistry;
  tasks: TaskStore;
  market: MarketService;
  rounds: RoundRunner;
  client: AgentClient;
  sweeper: Sweeper;
  feed: EventFeed;
  hub: EventHub;
  /** Starts listening on HOST:PORT; resolves to the bound URL. */
  listen(): Promise<string>;
  /** Graceful stop: no new connections, in-flight requests and rounds finish, then the database closes. */
  stop(): Promise<void>;
};

const CIRCUIT_EVENTS = {
  open: 'agent.circuit_opened',
  'half-open': 'agent.circuit_half_open',
  closed: 'agent.circuit_closed',
};

/** Wires a manager from configuration: database (migrated), services, sweeper, HTTP app. */
export async function createManager(config: Config, opts: { logger?: Logger } = {}): Promise<Manager> {
  const id = config.MANAGER_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logger = (opts.logger ?? createLogger(config.LOG_LEVEL)).child({ manager: id });
  const target = databaseTarget(config);
  const applicationName = `contract-net/${id}`.slice(0, 63);
  const database = await openDatabase(target, { applicationName });
  await migrateDatabase(database, target);
  // Rounds set timers on times the database wrote: read its clock once before the first round.
  const clock = new DbClock();
  await measureDbClock(database, clock);
  const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
    ? (await import('./observability/otel-tracing.ts')).createOtelTracing({
        endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
        serviceName: 'contract-net-manager',
        scheduleDelayMs: config.SPAN_EXPORT_DELAY_MS,
        managerId: id,
      })
    : noTracing;
  traceDatabase(database, tracing);
  const db = database.db;
  const secret = await loadManagerSecret(db, config.MANAGER_SECRET);
  const hub = new EventHub(id);
  const feed = eventFeedOn(hub, db);
  await hub.start(database);
  const events = new EventPublisher(database, hub, id, config.NOTIFY_BATCH_MS, logger);
  await events.hello();
  // The rounds' slots are read at scrape time, once the runner below exists.
  const metrics = createMetrics(
    db,
    () => client.circuits(),
    () => rounds.slotStatus(),
    () => feed,
    () => ({ ended_views: market?.ended.bytes ?? 0 }),
  );
  const guard = new OutboundGuard({
    allowLoopback:
      config.OUTBOUND_LOOPBACK === 'allow' ||
      (config.OUTBOUND_LOOPBACK === 'auto' && isLoopbackHost(config.HOST)),
    allow: allowList(config.OUTBOUND_ALLOW),
  });
  // Callbacks go where a client says: loopback only when the operator allowed it outright, never
  // because the manager happens to listen there (auto), or any client could probe its host.
  const callbackGuard = new OutboundGuard({
    allowLoopback: config.OUTBOUND_LOOPBACK === 'allow',
    allow: allowList(config.OUTBOUND_ALLOW),
  });
  const schemas = new SchemaIndex(db);
  const liveness = new Liveness(database, config.AGENT_TTL_MS, logger, () => registry.forgetOffers());
  const registry: AgentRegistry = new AgentRegistry(db, {
    onChange: () => schemas.invalidate(),
    onHeard: (agentId) => liveness.heard(agentId),
    agentTtlMs: config.AGENT_TTL_MS,
    retire: (agentId: string): Promise<void> =>
      service.deregister(agentId, (tx: Tx) => registry.deregister(tx, agentId, 'name_taken_over')),
    secret,
    registrationKey: config.REGISTRATION_KEY,
    allowedHosts: config.AGENT_HOSTS,
    guard,
    maxAgents: config.MAX_AGENTS,
  });
  const client = new AgentClient(
    config,
    logger,
    (agentId, state, lastFailure) => {
      metrics.circuitTransition(state);
      void db
        .transaction((tx) =>
          recordEvent(tx, {
            agentId,
            type: CIRCUIT_EVENTS[state],
            data: {
              manager: id,
              ...(lastFailure ? { lastFailure: cleanText(lastFailure).slice(0, 500) } : {}),
            },
          }),
        )
        .catch((err) => logger.warn({ err }, 'could not record circuit event'));
    },
    guard,
    metrics,
    tracing,
  );
  client.onHeard = (agentId) => liveness.heard(agentId);
  const tasks = new TaskStore(database, db);
  let boundPort: number | undefined;
  const publicUrl = () => config.PUBLIC_URL ?? `http://${config.HOST}:${boundPort ?? config.PORT}`;
  const book = { addressOf: (agentId: string) => registry.addressOf(agentId) };
  let market: MarketService | undefined;
  const agreements = new HeldAgreements(config.AGREEMENT_HOLD_MS);
  const rounds = new RoundRunner({
    agreements,
    database,
    events,
    client,
    hub,
    logger,
    config,
    managerId: id,
    book,
    tokenOf: (a, kid) => registry.tokenOf(a, kid),
    resultUrl: (taskId) => `${publicUrl()}/v1/tasks/${taskId}/result`,
    metrics,
    tracing,
    clock,
    schemas,
  });
  market = new MarketService({
    agreements,
    database,
    events,
    store: tasks,
    runner: rounds,
    queue: new WorkQueue(database, events, hub, clock, metrics),
    client,
    book,
    hub,
    logger,
    config,
    callbackGuard,
    callbackSecretOf: (taskId) => callbackSecretOf(secret, taskId),
    metrics,
    schemas,
  });
  const service = market;
  const contractor = new A2AContractor({
    database,
    client,
    logger,
    managerId: id,
    callTimeoutMs: config.AWARD_TIMEOUT_MS,
    cardOf: (agentId) => registry.cardOf(agentId),
    report: (agentId, taskId, report) => service.reportResult(agentId, taskId, report),
    agentTtlMs: config.AGENT_TTL_MS,
    heard: (agentId) => liveness.heard(agentId),
  });
  client.speakA2A(contractor);
  const callbacks = new CallbackOutbox(db, tasks, logger, {
    apiKeys: clientKeys(config),
    managerSecret: secret,
    timeoutMs: config.NOTIFY_TIMEOUT_MS,
    claimMs: config.CALLBACK_CLAIM_MS,
    guard: callbackGuard,
  });
  const sweeper = new Sweeper({
    callbacks,
    database,
    config,
    logger,
    metrics,
    managerId: id,
    applicationName,
    clock,
    port: {
      startRound: (taskId, from) => rounds.startRound(taskId, from),
      roundBacklog: () => rounds.backlog(),
      releaseWaiting: () => service.releaseWaiting(),
      cancelSubtask: (taskId) =>
        service
          .cancel(taskId, {
            code: 'parent_ended',
            message: 'the award this subtask was submitted under ended',
          })
          .catch(() => null),
      afterAwardEnded: (ended) => service.afterEnd(ended),
      sendCancel: (award) => void sendCancel(client, book, logger, award),
      peersPresent: (present) => events.peersPresent(present),
      forgetTasks: (taskIds) => service.forgetTasks(taskIds),
    },
  });
  const app = createApp({
    config,
    logger,
    database,
    registry,
    tasks,
    hub,
    feed,
    market: service,
    circuitOf: (agentId) => client.circuitOf(agentId),
    a2aProbe: (card) => contractor.probe(card),
    selfUrl: () => {
      const host = ['0.0.0.0', '::', ''].includes(config.HOST) ? '127.0.0.1' : config.HOST;
      return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort ?? config.PORT}`;
    },
    catalogue: new CapabilityCatalogue(database, (agentId) => client.circuitOf(agentId), config.AGENT_TTL_MS),
    metrics,
    publicUrl,
  });

  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    id,
    config,
    database,
    app,
    logger,
    registry,
    tasks,
    market: service,
    rounds,
    client,
    sweeper,
    feed,
    hub,
    listen() {
      return new Promise((resolve) => {
        server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
          boundPort = info.port;
          const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
          sweeper.start();
          liveness.start();
          contractor.start();
          resolve(`http://${host}:${info.port}`);
        }) as Server;
        server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_MS;
        server.on('connection', (s) => {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
        });
      });
    },
    async stop() {
      // Each step that waits on the database gets SHUTDOWN_TIMEOUT_MS: a call the database never
      // answers (it went away mid-statement) must not hold the stop for ever.
      const within = async (step: string, work: Promise<unknown>) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), config.SHUTDOWN_TIMEOUT_MS);
        });
        const outcome = await Promise.race([work.then(() => 'done' as const), late]).finally(() =>
          clearTimeout(timer),
        );
        if (outcome === 'late')
          logger.warn(
            { step, timeoutMs: config.SHUTDOWN_TIMEOUT_MS },
            'shutdown: a step did not finish in time; going on',
          );
      };
      await within('sweeper', sweeper.stop());
      contractor.stop();
      await within('liveness', liveness.stop());
      if (server) {
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeIdleConnections();
        // Long-polls and event streams would hold the close forever; end them after the grace period.
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, config.SHUTDOWN_TIMEOUT_MS);
        await closed;
        clearTimeout(timer);
      }
      agreements.releaseAll();
      await within('rounds', rounds.drain());
      await within('event notices', events.stop());
      await within('listener', hub.stop());
      await client.close();
      await tracing.close();
      await database.close();
    },
  };
}
