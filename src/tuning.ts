/**
 * The machinery's own timings and limits: constants, not settings. No operator needs to change
 * them (the environment's settings in config.ts are the ones a user tunes); they live here, each
 * once, so the parts read them from their slice of `Config` like any setting, and tests or an
 * embedding program can pass others to `createManager` (a short hold, a tiny queue) to reach a
 * corner quickly.
 */
export const TUNING = {
  /** Retries of an `accept-proposal` call on transport errors and 5xx. */
  AWARD_RETRIES: 2,
  /** The retry backoff of an award call: exponential with jitter from the first to the second. */
  RETRY_BASE_MS: 50,
  RETRY_MAX_MS: 1000,
  /**
   * Timeout of a best-effort `reject-proposal` or `cancel`, and of a client callback; a round's
   * reject-proposals share one such deadline from when they are sent (one timer for the batch).
   */
  NOTIFY_TIMEOUT_MS: 2000,
  /** Concurrent calls to one agent (and its keep-alive sockets); the next BULKHEAD_QUEUE wait. */
  BULKHEAD_LIMIT: 16,
  BULKHEAD_QUEUE: 256,
  /** A cfp left with less than this (after waiting for a bulkhead slot) is not sent. */
  MIN_CFP_MS: 25,
  /** A cfp timeout counts against the agent's circuit only if it had at least this long. */
  CFP_FAIR_WINDOW_MS: 250,
  /** dueAt = agreement + etaMs × this + DUE_GRACE_MS, capped by the deadline. */
  DUE_GRACE_FACTOR: 2,
  /**
   * How long a winner's agreement is held back in case its result follows at once: then one
   * statement records both. 0 writes every agreement as soon as it arrives.
   */
  AGREEMENT_HOLD_MS: 100,
  /** How long the hot path's event notices gather before one NOTIFY tells the other managers. */
  NOTIFY_BATCH_MS: 10,
  /**
   * The event-loop delay (p99) above which fewer rounds may bid at once: the limit adapts between
   * MAX_CONCURRENT_ROUNDS / 8 and MAX_CONCURRENT_ROUNDS. 0: always MAX_CONCURRENT_ROUNDS.
   */
  ADMISSION_TARGET_LAG_MS: 100,
  /**
   * Rounds that may wait for a bidding slot; past it, submissions answer 429 `busy` and the
   * sweeper leaves due re-auctions in the database for a later sweep.
   */
  ROUND_QUEUE_MAX: 2048,
  /** A task whose rounds outlive their managers more often fails (round_takeovers_exhausted). */
  MAX_ROUND_TAKEOVERS: 5,
  /**
   * The most the outputs of a task's dependencies may take together (JSON bytes): each dependant
   * carries them in every cfp, award and claim, beside its own input, within the SDK's 2 MiB.
   */
  DEPENDENCY_OUTPUT_MAX_BYTES: 256 * 1024,
  /** Events a resuming /v1/events stream replays at most; older ones are paged with ?after=. */
  EVENT_REPLAY_MAX: 1000,
  /**
   * How long an idle keep-alive connection to the manager stays open: Node's 5 s made agents
   * reconnect after every pause; above a load balancer's idle timeout it avoids the race where
   * the server closes a socket the balancer is reusing.
   */
  HTTP_KEEP_ALIVE_MS: 65_000,
  /** How long a manager delivering a task's callback holds it before another may try. */
  CALLBACK_CLAIM_MS: 5000,
  /** This manager's name in round leases and logs; unset, host-pid-random. */
  MANAGER_ID: undefined as string | undefined,
  /** The sweeper's backstop interval (due awards, deadlines, orphaned rounds, re-auction). */
  SWEEP_INTERVAL_MS: 250,
  /** The first wait between auctions of a queued task; it doubles up to REAUCTION_CAP_MS. */
  REAUCTION_BASE_MS: 500,
  /** Agents one round invites at most, picked at random among the eligible. */
  MAX_INVITEES: 50,
  /** Subtasks one award's holder may submit under it in all; past it 429 subtask_limit. */
  MAX_SUBTASKS_PER_AWARD: 32,
  /** Levels of subcontracting below a root task (a subtask of a subtask is level 2). */
  MAX_SUBTASK_DEPTH: 4,
  /** How often the churning tables' dead rows are checked (db/dead-rows.ts). */
  DEAD_ROW_CHECK_MS: 10_000,
  /** How long spans gather before one OTLP export. */
  SPAN_EXPORT_DELAY_MS: 5000,
};

export type Tuning = typeof TUNING;
