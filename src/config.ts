import { z } from 'zod';
import { allowList, isLoopbackHost } from './resilience/outbound-policy.ts';
import { TUNING, type Tuning } from './tuning.ts';

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
  /** The window the request budgets below count over (per manager, in memory). */
  RATE_LIMIT_WINDOW_MS: int(1000, 3_600_000).default(10_000),
  /** /v1 requests per window from one remote address (0: no limit). */
  RATE_LIMIT_PER_ADDRESS: int(0, 10_000_000).default(50_000),
  /**
   * /v1 requests per window with one credential: a client key (API_KEYS, ADMIN_KEYS,
   * REGISTRATION_KEY) or an agent token (0: no limit).
   */
  RATE_LIMIT_PER_KEY: int(0, 10_000_000).default(20_000),
  /**
   * Bytes of request bodies per window with one credential (client key or agent token; 0: no
   * limit): a large body costs what many small requests do, which a request count misses.
   */
  RATE_LIMIT_BYTES_PER_KEY: int(0, 1_000_000_000_000).default(256 * 1024 * 1024),
  /** Event streams one client (credential, or address without one) may hold open at once. */
  MAX_STREAMS_PER_CLIENT: int(1, 100_000).default(32),
  /** Long-polls (GET /v1/tasks/{id}?waitMs, claims with waitMs) one client may hold at once. */
  MAX_LONG_POLLS_PER_CLIENT: int(1, 1_000_000).default(1024),
  /** An OTLP/HTTP collector (e.g. http://127.0.0.1:4318): spans of rounds, agent calls and transactions go there. Unset: no tracing. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DEFAULT_BID_WINDOW_MS: int(10, 600_000).default(1000),
  /** Rounds in their bidding phase at once in one manager; more wait (a burst does not starve every window). */
  MAX_CONCURRENT_ROUNDS: int(1, 100_000).default(64),
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
  /**
   * Rounds a task may be auctioned in: one that ends them without an award is not re-auctioned
   * again but fails (rounds_exhausted). A check that found no eligible agent is not a round.
   */
  MAX_ROUNDS: int(1, 100_000).default(100),
  /** dueAt = agreement time + etaMs × 2 + DUE_GRACE_MS, capped by the task's deadline. */
  DUE_GRACE_MS: int(0, 3_600_000).default(5000),
  /** Awards that fell due while this manager was down wait this long after it starts. */
  RESTART_GRACE_MS: int(0, 3_600_000).default(10_000),
  /** Timeout of one `accept-proposal` call (retried twice on transport errors and 5xx). */
  AWARD_TIMEOUT_MS: int(10, 600_000).default(2000),
  /** Failed calls in a row that open an agent's circuit. */
  BREAKER_THRESHOLD: int(1, 1000).default(5),
  /** How long an open circuit stays open before one probe call. */
  BREAKER_HALF_OPEN_MS: int(10, 3_600_000).default(10_000),
  /** The longest a queued task waits between auctions (the wait doubles from 500 ms up to it). */
  REAUCTION_CAP_MS: int(10, 86_400_000).default(30_000),
  /**
   * How long a manager holds a round it runs beyond the round's replyBy (or a round it is about to
   * start) before another manager sharing the database may take it over.
   */
  ROUND_LEASE_MS: int(100, 600_000).default(5000),
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
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  /**
   * Accounts: every client key and agent has one; a task's budget (then required, in whole
   * units) is held from its submitter's account when it is stored and settled when it ends.
   */
  ACCOUNTS: z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((v) => v === 'true' || v === '1')
    .default(false),
});

/**
 * What every part reads: the environment's settings, beside the machinery's constants
 * (src/tuning.ts). Each part takes the slice it reads (a `Pick` of it).
 */
export type Config = z.infer<typeof Env> & Tuning;

/** The environment variables the manager reads, every one documented in docs/CONFIGURATION.md. */
export const SETTING_NAMES = Object.keys(Env.shape);

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
  const cfg = { ...TUNING, ...parsed.data };
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
