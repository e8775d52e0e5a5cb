import { z } from 'zod';
import { allowList, isLoopbackHost } from './resilience/outbound-policy.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().min(8, 'each key must be at least 8 characters')));

/** Host names, comma-separated, compared lower-case. */
const hostList = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean),
);

/** Every setting the manager reads, from the environment, validated once at startup. */
const Env = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'expected postgres://user@host:port/database' })
    .optional(),
  PGLITE_DATA_DIR: z.string().min(1).default('./.data/pglite'),
  PG_POOL_MAX: int(1, 200).default(10),
  /** The URL agents use to reach this manager (in `resultUrl`); defaults to http://HOST:PORT. */
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  API_KEYS: list.optional(),
  /** Client keys that see and act on every task (operators); the others see only their own. */
  ADMIN_KEYS: list.optional(),
  REGISTRATION_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Derives agent tokens and signs callbacks; when unset, one is generated and kept in the database. */
  MANAGER_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Allowed agent endpoint hosts (comma-separated); empty allows any. */
  AGENT_HOSTS: hostList.optional(),
  /**
   * Host headers the manager answers besides loopback names and PUBLIC_URL's host ("*": any).
   * On loopback the check is always on (DNS rebinding); beyond loopback only when this is set.
   */
  ALLOWED_HOSTS: hostList.optional(),
  /**
   * Whether agent endpoints and callbacks may be loopback addresses: auto allows them while the
   * manager itself listens on loopback (development, tests, the demo), and refuses them otherwise.
   */
  OUTBOUND_LOOPBACK: z.enum(['auto', 'allow', 'deny']).default('auto'),
  /** Private networks and addresses (CIDR, comma-separated) agents and callbacks may use. */
  OUTBOUND_ALLOW: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .superRefine((entries, ctx) => {
      try {
        allowList(entries);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: `${(err as Error).message} (expected e.g. 10.0.0.0/8,192.168.1.20)`,
        });
      }
    })
    .default([]),
  /** Listen beyond loopback without API_KEYS and REGISTRATION_KEY: only when meant. */
  ALLOW_OPEN_NETWORK: z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  /** The window the request budgets below count over. */
  RATE_LIMIT_WINDOW_MS: int(1000, 3_600_000).default(10_000),
  /** /v1 requests per window from one remote address (0: no limit). */
  RATE_LIMIT_PER_ADDRESS: int(0, 10_000_000).default(50_000),
  /** /v1 requests per window with one client key (API_KEYS, ADMIN_KEYS, REGISTRATION_KEY; 0: none). */
  RATE_LIMIT_PER_KEY: int(0, 10_000_000).default(20_000),
  /**
   * Bytes of request bodies per window with one credential (client key or agent token; 0: no
   * limit): a large body costs what many small requests do, which a request count misses.
   */
  RATE_LIMIT_BYTES_PER_KEY: int(0, 1_000_000_000_000).default(256 * 1024 * 1024),
  /** /v1 requests per window with one agent token (0: no limit). */
  RATE_LIMIT_PER_AGENT: int(0, 10_000_000).default(20_000),
  /** Event streams one client (credential, or address without one) may hold open at once. */
  MAX_STREAMS_PER_CLIENT: int(1, 100_000).default(32),
  /** Long-polls (GET /v1/tasks/{id}?waitMs, claims with waitMs) one client may hold at once. */
  MAX_LONG_POLLS_PER_CLIENT: int(1, 1_000_000).default(1024),
  /** Events a resuming /v1/events stream replays at most; older ones are paged with ?after=. */
  EVENT_REPLAY_MAX: int(0, 1_000_000).default(1000),
  /** An OTLP/HTTP collector (e.g. http://127.0.0.1:4318): spans of rounds, agent calls and transactions go there. Unset: no tracing. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(200).default('contract-net-manager'),
  /** How long spans gather before one export. */
  OTEL_BSP_SCHEDULE_DELAY: int(10, 600_000).default(5000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MANAGER_ID: z.string().min(1).max(100).optional(),

  DEFAULT_BID_WINDOW_MS: int(10, 600_000).default(1000),
  /** Rounds in their bidding phase at once in one manager; more wait (a burst does not starve every window). */
  MAX_CONCURRENT_ROUNDS: int(1, 100_000).default(64),
  /**
   * Rounds that may wait for a bidding slot; past it, submissions answer 429 (Retry-After) and
   * the sweeper leaves due re-auctions in the database for a later sweep.
   */
  ROUND_QUEUE_MAX: int(1, 1_000_000).default(2048),
  /**
   * The most the outputs of a task's dependencies may take together (JSON bytes): each dependant
   * carries them in every cfp, award and claim, so they must fit in what agents take (the SDK's
   * body limit is 2 MiB, with the task's own input beside them). Past it: 422 at submission, or
   * the dependant fails with dependency_output_too_large when the last one completes.
   */
  DEPENDENCY_OUTPUT_MAX_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  /**
   * Tasks one client key may have waiting for the market at once (pending, queued, waiting on
   * dependencies); past it, its submissions get 429. Keys off, there is no client to count by.
   */
  MAX_WAITING_TASKS_PER_CLIENT: int(1, 10_000_000).default(2000),
  /**
   * Agents registered at once (any not deregistered): each is invited, listed and carded, so
   * one registration key cannot register without end. Past it: 429 too_many_agents.
   */
  MAX_AGENTS: int(1, 1_000_000).default(1000),
  /**
   * An agent not heard from for this long (no heartbeat, no request, no answered call) is
   * `inactive`: not invited until it is heard from again. After ten times as long its name is
   * free for a new registration. Agents are told to heartbeat every third of it.
   */
  AGENT_TTL_MS: int(1000, 86_400_000).default(60_000),
  /** Where an A2A message that names no capability goes (else: the only capability on offer, if one). */
  A2A_DEFAULT_CAPABILITY: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'must be a capability name')
    .optional(),
  /** Subtasks one award may have in all (its holder's subcontracting), whatever became of them. */
  MAX_SUBTASKS_PER_AWARD: int(0, 100_000).default(32),
  /** Levels of subcontracting below a root task (a subtask of a subtask is level 2). */
  MAX_SUBTASK_DEPTH: int(0, 100).default(4),
  /** Agents one round invites at most (picked at random among the eligible). */
  MAX_INVITEES: int(1, 10_000).default(50),
  /**
   * Rounds a task may be auctioned in: one that ends them without an award is not re-auctioned
   * again but fails (rounds_exhausted). A check that found no eligible agent is not a round.
   */
  MAX_ROUNDS: int(1, 100_000).default(100),
  /**
   * The event-loop delay (p99, ms) above which fewer rounds may bid at once; the limit adapts
   * between MAX_CONCURRENT_ROUNDS / 8 and MAX_CONCURRENT_ROUNDS. 0: always MAX_CONCURRENT_ROUNDS.
   */
  ADMISSION_TARGET_LAG_MS: int(0, 10_000).default(100),
  /** A cfp is not sent with less than this left of the window: the agent could not answer in time. */
  MIN_CFP_MS: int(0, 60_000).default(25),
  /** A cfp timeout counts against the agent's circuit only if it had at least this long to answer. */
  CFP_FAIR_WINDOW_MS: int(0, 60_000).default(250),
  /** dueAt = awardedAt + etaMs * DUE_GRACE_FACTOR + DUE_GRACE_MS, capped by the task's deadline. */
  DUE_GRACE_FACTOR: z.coerce.number().min(1).max(100).default(2),
  DUE_GRACE_MS: int(0, 3_600_000).default(5000),
  /** Awards that fell due while this manager was down wait this long after it starts. */
  RESTART_GRACE_MS: int(0, 3_600_000).default(10_000),
  AWARD_TIMEOUT_MS: int(10, 600_000).default(2000),
  AWARD_RETRIES: int(0, 10).default(2),
  RETRY_BASE_MS: int(1, 60_000).default(50),
  RETRY_MAX_MS: int(1, 600_000).default(1000),
  NOTIFY_TIMEOUT_MS: int(10, 600_000).default(2000),
  /**
   * How long a winner's agreement is held back in case its result follows at once: then one
   * statement records both. 0 writes every agreement as soon as it arrives.
   */
  AGREEMENT_HOLD_MS: int(0, 5_000).default(100),
  /** How long the hot path's event notices gather before one NOTIFY tells the other managers. */
  NOTIFY_BATCH_MS: int(0, 1000).default(10),
  /** consecutive: open after BREAKER_THRESHOLD failures in a row; sampling: failure rate over a window. */
  BREAKER_KIND: z.enum(['consecutive', 'sampling']).default('consecutive'),
  BREAKER_THRESHOLD: int(1, 1000).default(5),
  BREAKER_SAMPLING_RATE: z.coerce.number().gt(0).max(1).default(0.5),
  BREAKER_SAMPLING_WINDOW_MS: int(100, 3_600_000).default(30_000),
  BREAKER_SAMPLING_MIN_RPS: z.coerce.number().gt(0).max(10_000).default(1),
  BREAKER_HALF_OPEN_MS: int(10, 3_600_000).default(10_000),
  BULKHEAD_LIMIT: int(1, 10_000).default(16),
  BULKHEAD_QUEUE: int(0, 100_000).default(256),
  AGENT_CONNECTIONS: int(1, 10_000).default(16),
  SWEEP_INTERVAL_MS: int(10, 600_000).default(250),
  REAUCTION_BASE_MS: int(10, 3_600_000).default(500),
  REAUCTION_CAP_MS: int(10, 86_400_000).default(30_000),
  ROUND_LEASE_SLACK_MS: int(100, 600_000).default(5000),
  /**
   * Ended tasks, with their bids, awards and audit trail, and agent events are deleted this long
   * after they end (30 days by default), so the database does not grow for ever; 0 keeps them.
   */
  TASK_RETENTION_MS: z.coerce
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 1000 && n <= 100 * 365 * 86_400_000), {
      error: 'expected 0 (keep for ever) or milliseconds from 1000 to 100 years',
    })
    .default(30 * 86_400_000),
  /** A task whose rounds outlive their managers this often fails (round_takeovers_exhausted). */
  MAX_ROUND_TAKEOVERS: int(1, 1000).default(5),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  /**
   * How long an idle keep-alive connection to the manager stays open. Node's 5 s made every
   * agent that reports less often than that, and every pool after a pause, reconnect (a burst of
   * them stalled a whole bench run's first results); above a load balancer's idle timeout it
   * also avoids the race where the server closes a socket the balancer is reusing.
   */
  HTTP_KEEP_ALIVE_MS: int(1000, 600_000).default(65_000),
});

export type Config = z.infer<typeof Env>;

/** A configuration value that stops startup; its message names the variable and what to fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment; the only place process.env is read. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked = Object.fromEntries(
    Object.keys(Env.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = Env.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    throw new ConfigError(`Invalid ${name}=${JSON.stringify(picked[name] ?? '')}: ${issue.message}`);
  }
  const cfg = parsed.data;
  if (cfg.RETRY_MAX_MS < cfg.RETRY_BASE_MS) throw new ConfigError('RETRY_MAX_MS must be >= RETRY_BASE_MS');
  if (cfg.REAUCTION_CAP_MS < cfg.REAUCTION_BASE_MS)
    throw new ConfigError('REAUCTION_CAP_MS must be >= REAUCTION_BASE_MS');
  if (
    !isLoopbackHost(cfg.HOST) &&
    !((cfg.API_KEYS?.length || cfg.ADMIN_KEYS?.length) && cfg.REGISTRATION_KEY) &&
    !cfg.ALLOW_OPEN_NETWORK
  )
    throw new ConfigError(
      `HOST=${cfg.HOST} listens beyond loopback, but API_KEYS and REGISTRATION_KEY are not both set: anyone who reaches it could submit and read tasks and register agents. Set both (see SECURITY.md), or ALLOW_OPEN_NETWORK=true to run it open on purpose.`,
    );
  return cfg;
}

/** The database a configuration points at: PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
export function databaseTarget(cfg: Config) {
  return cfg.DATABASE_URL
    ? ({ kind: 'postgres', url: cfg.DATABASE_URL, poolMax: cfg.PG_POOL_MAX } as const)
    : ({ kind: 'pglite', dataDir: cfg.PGLITE_DATA_DIR } as const);
}
