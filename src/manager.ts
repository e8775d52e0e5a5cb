import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { A2AContractor } from './a2a/a2a-contractor.ts';
import { AccountStore } from './accounts/account-store.ts';
import { MarketService } from './app/market-service.ts';
import { awardExpiry } from './awards/award-expiry.ts';
import { HeldAgreements } from './awards/held-agreements.ts';
import { holderNotice } from './awards/notify-holder.ts';
import { CapabilityCatalogue } from './capabilities/catalogue.ts';
import { SchemaIndex } from './capabilities/schema-index.ts';
import { type Config, databaseTarget } from './config.ts';
import { type Database, openDatabase } from './db/client.ts';
import { DbClock, measureDbClock } from './db/db-clock.ts';
import { deadRowCleanup } from './db/dead-rows.ts';
import { migrateDatabase } from './db/migrate.ts';
import { type EventFeed, eventFeedOn } from './events/event-feed.ts';
import { EventHub } from './events/event-hub.ts';
import { recordEvent } from './events/event-log.ts';
import { EventPublisher } from './events/event-publisher.ts';
import { createApp } from './http/app.ts';
import { clientKeys, principalOf } from './http/auth.ts';
import { type HeldSlots, heldSlots } from './http/held-requests.ts';
import { ManagerAddress } from './http/manager-address.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './observability/prometheus.ts';
import { traceDatabase } from './observability/traced-database.ts';
import { noTracing, type Tracing } from './observability/tracing.ts';
import { cleanText } from './protocol/common.ts';
import { WorkQueue } from './queue/work-queue.ts';
import { AgentRegistry } from './registry/agent-registry.ts';
import { agentStatsFold } from './registry/agent-stats.ts';
import { loadManagerSecret } from './registry/agent-token.ts';
import { Liveness } from './registry/liveness.ts';
import { AgentClient } from './resilience/agent-client.ts';
import { OutboundGuard } from './resilience/outbound-guard.ts';
import { allowList, isLoopbackHost } from './resilience/outbound-policy.ts';
import { reauction } from './rounds/reauction.ts';
import { RoundRunner } from './rounds/round-runner.ts';
import { roundTakeover } from './rounds/round-takeover.ts';
import { Sweeper } from './sweeper/sweeper.ts';
import { CallbackOutbox, callbackSecretOf } from './tasks/callback-outbox.ts';
import { deadlineEnforcement } from './tasks/deadlines.ts';
import { waitingRelease } from './tasks/dependencies.ts';
import { retention } from './tasks/retention.ts';
import { orphanCascade } from './tasks/subtask-cascade.ts';
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
  /** Event streams and long-polls held open now (capped per client). */
  held: HeldSlots;
  /** Agreements held for their holders' reports. */
  agreements: HeldAgreements;
  /** Where it is reached; the server tells it the port it bound. */
  address: ManagerAddress;
  /** Starts the background work (sweeper, liveness, A2A watches); the server calls it once listening. */
  start(): void;
  /** Stops the background work, so nothing new starts while requests drain. */
  quiesce(): Promise<void>;
  /** After the server closed: running rounds finish, notices go out, the database closes. */
  close(): Promise<void>;
};

const CIRCUIT_EVENTS = {
  open: 'agent.circuit_opened',
  'half-open': 'agent.circuit_half_open',
  closed: 'agent.circuit_closed',
};

/**
 * Builds a manager from configuration, each part after the parts it uses: the database
 * (migrated), events, agents, rounds, the market, the sweeper's jobs, the HTTP app. Nothing
 * listens yet: server.ts does, and calls `start`.
 */
export async function createManager(config: Config, opts: { logger?: Logger } = {}): Promise<Manager> {
  const id = config.MANAGER_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logger = (opts.logger ?? createLogger(config.LOG_LEVEL)).child({ manager: id });
  const address = new ManagerAddress(config);

  // The database, its clock (rounds set timers on times it wrote), tracing of its statements.
  const target = databaseTarget(config);
  const applicationName = `contract-net/${id}`.slice(0, 63);
  const database = await openDatabase(target, { applicationName });
  await migrateDatabase(database, target);
  const clock = new DbClock();
  await measureDbClock(database, clock);
  const tracing: Tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
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

  // Events: every committed event reaches this manager's listeners, and the others by NOTIFY.
  const hub = new EventHub(id);
  const feed = eventFeedOn(hub, db);
  await hub.start(database);
  const events = new EventPublisher(database, hub, id, config.NOTIFY_BATCH_MS, logger);
  await events.hello();
  const metrics = createMetrics(db);

  // Agents: where calls may go, who is alive, the registry, the client with its policies.
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
  const liveness = new Liveness(database, config.AGENT_TTL_MS, logger, events);
  const registry = new AgentRegistry(db, {
    onChange: () => schemas.invalidate(),
    onHeard: (agentId) => liveness.heard(agentId),
    hub,
    agentTtlMs: config.AGENT_TTL_MS,
    secret,
    registrationKey: config.REGISTRATION_KEY,
    allowedHosts: config.AGENT_HOSTS,
    guard,
    maxAgents: config.MAX_AGENTS,
  });
  const client = new AgentClient(config, logger, {
    onCircuit: (agentId, state, lastFailure) => {
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
    onHeard: (agentId) => liveness.heard(agentId),
    guard,
    metrics,
    tracing,
  });
  const book = { addressOf: (agentId: string) => registry.addressOf(agentId) };
  const notice = holderNotice(client, book, logger);

  // The market: rounds, the work queue, the use cases over them.
  const tasks = new TaskStore(database, db);
  const accounts = new AccountStore(db);
  // Every client key has an account from the start, so an admin sees whom to credit.
  if (config.ACCOUNTS) {
    const keys = clientKeys(config);
    await accounts.open(keys ? keys.map(principalOf) : ['anonymous']);
  }
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
    resultUrl: (taskId) => `${address.publicUrl()}/v1/tasks/${taskId}/result`,
    metrics,
    tracing,
    clock,
    schemas,
  });
  const market = new MarketService({
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
  // A2A agents are contractors too: the client speaks A2A to them through this.
  const contractor = new A2AContractor({
    database,
    client,
    logger,
    managerId: id,
    callTimeoutMs: config.AWARD_TIMEOUT_MS,
    cardOf: (agentId) => registry.cardOf(agentId),
    report: (agentId, taskId, report) => market.reportResult(agentId, taskId, report),
    agentTtlMs: config.AGENT_TTL_MS,
    heard: (agentId) => liveness.heard(agentId),
  });
  client.speakA2A(contractor);
  // What one client may hold open at once: streams and long-polls (the routes take their slots).
  const held = heldSlots(config);
  metrics.observe({
    circuits: () => client.circuits(),
    slots: () => rounds.slotStatus(),
    feed,
    memory: () => ({ ended_views: market.ended.bytes }),
    held: () => ({ streams: held.streams.total, long_polls: held.polls.total }),
  });

  // The sweeper: each module's overdue work, in order.
  const callbacks = new CallbackOutbox(db, tasks, logger, {
    apiKeys: clientKeys(config),
    managerSecret: secret,
    timeoutMs: config.NOTIFY_TIMEOUT_MS,
    claimMs: config.CALLBACK_CLAIM_MS,
    guard: callbackGuard,
  });
  const startRound = rounds.startRound.bind(rounds);
  const sweeper = new Sweeper({
    database,
    intervalMs: config.SWEEP_INTERVAL_MS,
    metrics,
    logger,
    applicationName,
    clock,
    peersPresent: (present) => events.peersPresent(present),
    jobs: [
      awardExpiry({
        database,
        clock,
        restartGraceMs: config.RESTART_GRACE_MS,
        metrics,
        requeued: (ended) => rounds.afterAwardEnded(ended),
        notice,
      }),
      deadlineEnforcement({ database, notice }),
      roundTakeover({
        database,
        managerId: id,
        logger,
        leaseMs: config.ROUND_LEASE_MS,
        maxTakeovers: config.MAX_ROUND_TAKEOVERS,
        startRound,
      }),
      reauction({ database, config, backlog: () => rounds.backlog(), startRound }),
      callbacks.job(),
      waitingRelease(() => market.releaseWaiting()),
      orphanCascade({ database, cancel: (taskId, why) => market.cancel(taskId, why) }),
      agentStatsFold(db),
      deadRowCleanup({ database, logger, checkEveryMs: config.DEAD_ROW_CHECK_MS }),
      retention({
        database,
        retentionMs: config.TASK_RETENTION_MS,
        metrics,
        logger,
        forget: (taskIds) => market.forgetTasks(taskIds),
      }),
    ],
  });

  const app = createApp({
    held,
    config,
    logger,
    database,
    registry,
    tasks,
    accounts,
    hub,
    feed,
    market,
    circuitOf: (agentId) => client.circuitOf(agentId),
    a2aProbe: (card) => contractor.probe(card),
    selfUrl: () => address.selfUrl(),
    catalogue: new CapabilityCatalogue(database, (agentId) => client.circuitOf(agentId), config.AGENT_TTL_MS),
    metrics,
    publicUrl: () => address.publicUrl(),
  });

  /** Each step that waits on the database gets SHUTDOWN_TIMEOUT_MS: one it never answers must not hold the stop. */
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

  return {
    id,
    config,
    database,
    app,
    logger,
    registry,
    tasks,
    market,
    rounds,
    client,
    sweeper,
    feed,
    hub,
    agreements,
    held,
    address,
    start() {
      sweeper.start();
      liveness.start();
      contractor.start();
    },
    async quiesce() {
      await within('sweeper', sweeper.stop());
      contractor.stop();
      await within('liveness', liveness.stop());
    },
    async close() {
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
