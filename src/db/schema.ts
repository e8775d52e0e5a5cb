import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { LedgerKind } from '../protocol/accounts.ts';
import type { Capability, StandingOffer } from '../protocol/agent.ts';
import {
  AGENT_STATUSES,
  AWARD_STATUSES,
  ENDED_TASK_STATES,
  LIVE_AWARD_STATUSES,
  TASK_STATES,
} from '../protocol/states.ts';
import { quoted } from './sql-lists.ts';

/*
 * Why `live` columns: an update is HOT (no index entry written, the row's new version on the same
 * page) only when it changes no column an index reads, in its keys or in its predicate. The
 * state of a task or an award changes at every step of a round, so no index reads it; the
 * indexes of live work read `live`, a column PostgreSQL derives from the state, which changes
 * once, when the task or award ends. A round's close and an award's agreement are then HOT
 * updates, and a live index holds only live work, however long the history behind it.
 */
const ENDED_TASK_SQL = sql.raw(quoted(ENDED_TASK_STATES));
const LIVE_AWARD_SQL = sql.raw(quoted(LIVE_AWARD_STATUSES));
const OPEN_AWARD_SQL = sql.raw(quoted([...LIVE_AWARD_STATUSES, 'completed']));

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** An agent's outcome counters: totals on `agents`, increments in `agent_stat_deltas`. */
const agentCounters = () => ({
  cfps: integer('cfps').notNull().default(0),
  proposals: integer('proposals').notNull().default(0),
  refusals: integer('refusals').notNull().default(0),
  noReplies: integer('no_replies').notNull().default(0),
  awards: integer('awards').notNull().default(0),
  completions: integer('completions').notNull().default(0),
  failures: integer('failures').notNull().default(0),
});

export const agentStatus = pgEnum('agent_status', AGENT_STATUSES);
export const taskState = pgEnum('task_state', TASK_STATES);
export const awardStatus = pgEnum('award_status', AWARD_STATUSES);

/** Registered agents and their capability profiles; the token is stored only as a hash. */
export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    /** Null for a pull-only agent: never invited to a round. */
    endpoint: text('endpoint'),
    capabilities: jsonb('capabilities').notNull().$type<Capability[]>(),
    /** Denormalised capability names so eligibility is one indexed query. */
    capabilityNames: text('capability_names').array().notNull(),
    maxConcurrency: integer('max_concurrency').notNull(),
    description: text('description'),
    /** The A2A Agent Card it registered with, kept as sent (null: registered with a profile). */
    a2aCard: jsonb('a2a_card').$type<Record<string, unknown>>(),
    /** How the manager speaks to it: this protocol (`cnp`), or A2A (`a2a`, registered by its card). */
    protocol: text('protocol').notNull().default('cnp').$type<'cnp' | 'a2a'>(),
    /** An A2A agent's standing offer: the bid the manager makes for it, per skill. */
    standingOffer: jsonb('standing_offer').$type<StandingOffer>(),
    status: agentStatus('status').notNull().default('active'),
    tokenHash: text('token_hash').notNull(),
    /** The random key id the current token derives from (null: a token from before key ids). */
    tokenKid: text('token_kid'),
    running: integer('running').notNull().default(0),
    lastHeartbeatAt: ts('last_heartbeat_at'),
    /** When it was last heard from (registration, heartbeat, a request, an answered call): liveness. */
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
    ...agentCounters(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // A name belongs to one live agent; a deregistered agent keeps its row (and id) for its
    // history, and its name may go to a new agent with a new id: identities are never reissued.
    uniqueIndex('agents_live_name_key').on(t.name).where(sql`${t.status} <> 'deregistered'`),
    uniqueIndex('agents_token_hash_key').on(t.tokenHash),
    index('agents_capability_names_idx').using('gin', t.capabilityNames),
  ],
);

/** Tasks with their whole contract-net state; `round_owner`/`round_lease_until` let a survivor take over. */
export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey(),
    capability: text('capability').notNull(),
    input: jsonb('input').notNull(),
    budget: doublePrecision('budget'),
    deadline: ts('deadline'),
    bidWindowMs: integer('bid_window_ms').notNull(),
    /** Iterated Contract Net: iterations at most, and how many proposers each goes back to. */
    iterations: integer('iterations').notNull().default(1),
    shortlist: integer('shortlist').notNull().default(3),
    /** A subtask: the task and award it was submitted under, and that award's holder (never invited to it). */
    parentId: uuid('parent_id'),
    parentAwardId: uuid('parent_award_id'),
    parentAgentId: uuid('parent_agent_id'),
    /** Its subtasks, in the order they were submitted (appended by the child's own insert). */
    children: uuid('children').array().notNull().default(sql`'{}'::uuid[]`),
    /** The tasks this one waits for (null: none). */
    dependsOn: uuid('depends_on').array(),
    /** Their outputs, by task id, taken when the last one completed: cfps, awards and claims carry them. */
    dependencyOutputs: jsonb('dependency_outputs').$type<Record<string, unknown>>(),
    /** The W3C traceparent of the submission (the client's, or a new trace): agent calls carry it on. */
    traceParent: text('trace_parent'),
    maxAttempts: integer('max_attempts').notNull(),
    attempts: integer('attempts').notNull().default(0),
    priority: integer('priority').notNull().default(0),
    weights: jsonb('weights').notNull().$type<{ cost: number; time: number; reputation: number }>(),
    callbackUrl: text('callback_url'),
    /** Which API key signs the callback (a hash prefix of it); null: the manager secret. */
    callbackKey: text('callback_key'),
    /** Outbox: set when the task ends with a callbackUrl; cleared once delivered or given up. */
    callbackDueAt: ts('callback_due_at'),
    callbackAttempts: integer('callback_attempts').notNull().default(0),
    state: taskState('state').notNull().default('pending'),
    /** Not ended (derived from `state`): what the indexes of live work read instead of the state. */
    live: boolean('live').notNull().generatedAlwaysAs(sql`state not in ${ENDED_TASK_SQL}`),
    round: integer('round').notNull().default(0),
    replyBy: ts('reply_by'),
    roundOwner: text('round_owner'),
    roundLeaseUntil: ts('round_lease_until'),
    awardId: uuid('award_id'),
    /** Agents that failed this task; they are not invited again. */
    excludedAgents: uuid('excluded_agents').array().notNull().default(sql`'{}'::uuid[]`),
    queuedReason: text('queued_reason'),
    requeues: integer('requeues').notNull().default(0),
    /** Rounds of this task taken over from a manager that stopped: bounded by MAX_ROUND_TAKEOVERS. */
    takeovers: integer('takeovers').notNull().default(0),
    nextAuctionAt: ts('next_auction_at'),
    output: jsonb('output'),
    error: jsonb('error').$type<{ code: string; message: string }>(),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    completedAt: ts('completed_at'),
    /**
     * Accounts (ACCOUNTS=true): the account its budget was held from, or, for a subtask, the
     * account of the parent award's holder, who bears it once that award has ended. Null: the
     * task was submitted without accounts, and no money moves for it.
     */
    payer: text('payer'),
    /**
     * What its latest hold put in its escrow (its budget). The escrow's balance now is the sum of
     * the entries on `escrow:<id>`: subtasks draw on it without writing this row.
     */
    held: bigint('held', { mode: 'number' }).notNull().default(0),
    /** How many times its budget was held (a retried task is held again): part of each entry's key. */
    holds: integer('holds').notNull().default(0),
    /** Its settlement once ended: what its award cost and what went back to the payer. */
    paid: bigint('paid', { mode: 'number' }),
    refunded: bigint('refunded', { mode: 'number' }),
  },
  (t) => [
    uniqueIndex('tasks_idempotency_key_key').on(t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
    index('tasks_capability_idx').on(t.capability, t.id),
    // A client key's live tasks, of which its backlog (MAX_WAITING_TASKS_PER_CLIENT) is counted
    // at each of its submissions without reading every other client's.
    index('tasks_live_owner_idx').on(t.callbackKey).where(sql`${t.live}`),
    // The fallback queue, by capability in claim order: live tasks waiting for an auction (a
    // queued task always has its next one due; placed with an agent, it has none). Not on
    // `state`: a claimed task leaves it by its next_auction_at, which a round's close leaves alone.
    index('tasks_queue_idx')
      .on(t.capability, t.priority.desc(), t.createdAt)
      .where(sql`${t.nextAuctionAt} is not null and ${t.live}`),
    // The sweeper's probe and re-auction look for due tasks by time alone.
    index('tasks_next_auction_idx')
      .on(t.nextAuctionAt)
      .where(sql`${t.nextAuctionAt} is not null and ${t.live}`),
    // Subtasks only: their parent's award, for the cascade when it ends.
    index('tasks_parent_award_idx').on(t.parentAwardId).where(sql`${t.parentAwardId} is not null`),
    // A round's lease is left as it was when the round closes (so the close is a HOT update);
    // a takeover looks for leases run out among live tasks still bidding. Holding every live
    // task, it also serves the reads of all live work (gauges, waiting tasks, live listings).
    index('tasks_round_lease_idx').on(t.roundLeaseUntil).where(sql`${t.live}`),
    index('tasks_callback_due_idx').on(t.callbackDueAt).where(sql`${t.callbackDueAt} is not null`),
    index('tasks_deadline_idx').on(t.deadline).where(sql`${t.deadline} is not null and ${t.live}`),
    // A task placed with an agent holds a lease (its round's, its award's or its claim's): award
    // expiry finds awarded tasks by it, through the live lease index. A path that forgot it would
    // leave a task no expiry finds; the database refuses it instead.
    check('tasks_awarded_holds_lease', sql`${t.state} <> 'awarded' or ${t.roundLeaseUntil} is not null`),
  ],
);

/** Every bid of every round with its outcome. */
export const bids = pgTable(
  'bids',
  {
    id: uuid('id').primaryKey(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    round: integer('round').notNull(),
    // No foreign key to agents: agent rows are never deleted (a deregistered agent keeps its row),
    // and every insert takes the id from a row it read. The key's check locked the agent's row
    // for each bid and award, one lock record and often a multixact per row written.
    agentId: uuid('agent_id').notNull(),
    type: text('type').notNull().$type<'propose' | 'refuse' | 'no_reply' | 'invalid'>(),
    cost: doublePrecision('cost'),
    etaMs: integer('eta_ms'),
    /** The iteration its standing proposal came from (iterated rounds). */
    iteration: integer('iteration').notNull().default(1),
    confidence: doublePrecision('confidence'),
    /** A proposal's own limit: not awarded after it (outcome `expired`). */
    validUntil: ts('valid_until'),
    reason: text('reason'),
    outcome: text('outcome').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('bids_task_round_agent_key').on(t.taskId, t.round, t.agentId)],
);

/**
 * Awards: from a round's winning bid or from a queue claim. The partial unique index is the
 * database's own guarantee that a task never has two live awards, whatever the managers do.
 */
export const awards = pgTable(
  'awards',
  {
    id: uuid('id').primaryKey(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    // No foreign key to agents: agent rows are never deleted (a deregistered agent keeps its row),
    // and every insert takes the id from a row it read. The key's check locked the agent's row
    // for each bid and award, one lock record and often a multixact per row written.
    agentId: uuid('agent_id').notNull(),
    round: integer('round').notNull(),
    bidId: uuid('bid_id'),
    kind: text('kind').notNull().$type<'bid' | 'claim'>(),
    cost: doublePrecision('cost'),
    etaMs: integer('eta_ms'),
    status: awardStatus('status').notNull().default('offered'),
    /** Offered or agreed (derived from `status`): what the queries of live awards say. */
    live: boolean('live').notNull().generatedAlwaysAs(sql`status in ${LIVE_AWARD_SQL}`),
    /**
     * Live or completed: not ended without a result (derived from `status`). The one index on
     * the award's outcome reads this, which its completion leaves as it was (a HOT update).
     */
    open: boolean('open').notNull().generatedAlwaysAs(sql`status in ${OPEN_AWARD_SQL}`),
    awardedAt: ts('awarded_at').notNull().defaultNow(),
    dueAt: ts('due_at').notNull(),
    output: jsonb('output'),
    reason: text('reason'),
    finishedAt: ts('finished_at'),
    /** An A2A holder's task id at the agent: any manager can go on following it. */
    remoteTaskId: text('remote_task_id'),
    /** Which manager follows the remote task, and until when (renewed while it does). */
    watchOwner: text('watch_owner'),
    watchLeaseUntil: ts('watch_lease_until'),
  },
  (t) => [
    // At most one award per task is live or completed: never two live awards, never two
    // completed, never a live one beside a completed one. Its predicate does not change when an
    // award is agreed or completed, so both are HOT updates; only an award that ends without a
    // result leaves it.
    uniqueIndex('awards_one_open_per_task').on(t.taskId).where(sql`${t.open}`),
    index('awards_agent_idx').on(t.agentId),
    // Live A2A awards only: an award that ends clears its watch lease.
    index('awards_watch_idx').on(t.watchLeaseUntil).where(sql`${t.watchLeaseUntil} is not null`),
  ],
);

/**
 * Changes to agents' counters, appended by the transactions that cause them and folded into
 * `agents` by the sweeper. Appending takes no lock on the agent's row, so concurrent rounds over
 * the same agents never queue behind one another just to count (they did, under load).
 */
export const agentStatDeltas = pgTable(
  'agent_stat_deltas',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    agentId: uuid('agent_id').notNull(),
    ...agentCounters(),
  },
  (t) => [
    // Reputation reads only these: about one row in twelve (a round also writes cfp, answer and award rows).
    index('agent_stat_deltas_outcomes_idx')
      .on(t.agentId)
      .where(sql`${t.completions} <> 0 or ${t.failures} <> 0`),
  ],
);

/**
 * Accounts (ACCOUNTS=true): one per client key (its principal), per agent (`agent:<id>`), and
 * the market's `issuance` account that admin credits come from. Balances are in whole units and
 * always equal the sum of the account's ledger entries. A task's escrow has no row here: its
 * balance is the sum of its entries on `escrow:<task id>`, so holds never queue on one shared row.
 */
export const accounts = pgTable('accounts', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull().$type<'client' | 'agent' | 'system'>(),
  balance: bigint('balance', { mode: 'number' }).notNull().default(0),
  /** Paid to it for completed awards, all told (agents): what the settled-money metric sums. */
  earned: bigint('earned', { mode: 'number' }).notNull().default(0),
  /** Released back to it from ended tasks' escrows, all told (clients). */
  refunded: bigint('refunded', { mode: 'number' }).notNull().default(0),
  /** Limits an admin sets: the largest budget of one task, and the most held in one UTC day. */
  maxPerTask: bigint('max_per_task', { mode: 'number' }),
  maxPerDay: bigint('max_per_day', { mode: 'number' }),
  /** The UTC day `dayHeld` counts (holds made that day). */
  day: date('day', { mode: 'string' }),
  dayHeld: bigint('day_held', { mode: 'number' }).notNull().default(0),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/**
 * The double-entry ledger: every movement is two entries that sum to zero, written by the
 * database (migration 0018's triggers) in the statement that changes the task, so no crash or
 * takeover can move money without the state change or the state change without its money.
 */
export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    movementId: uuid('movement_id').notNull(),
    kind: text('kind').notNull().$type<LedgerKind>(),
    accountId: text('account_id').notNull(),
    /** The account on the movement's other side (its other entry's). */
    counterparty: text('counterparty').notNull(),
    taskId: uuid('task_id'),
    /** The award paid or recouped; for a subtask's hold and release, the parent award they draw on. */
    awardId: uuid('award_id'),
    /** The task's hold number (`tasks.holds`) the movement belongs to. */
    epoch: integer('epoch').notNull().default(0),
    /** Signed: into the account (+) or out of it (-). */
    amount: bigint('amount', { mode: 'number' }).notNull(),
    memo: text('memo'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    // A movement of a task happens once per (task, award, kind, hold): a retried statement or a
    // takeover that tried again would fail here rather than pay twice.
    uniqueIndex('ledger_entries_movement_key')
      .on(
        t.taskId,
        sql`coalesce(${t.awardId}, '00000000-0000-0000-0000-000000000000'::uuid)`,
        t.kind,
        t.epoch,
        t.accountId,
      )
      .where(sql`${t.taskId} is not null`),
    // Statements: an account's entries, newest first.
    index('ledger_entries_account_idx').on(t.accountId, t.id),
    // An admin's movement sent again with its Idempotency-Key (the movement id derives from it) moves nothing twice.
    uniqueIndex('ledger_entries_admin_movement_key')
      .on(t.movementId, t.accountId)
      .where(sql`${t.taskId} is null`),
  ],
);

/** Append-only audit trail of every task change and every agent change. */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    taskId: uuid('task_id'),
    agentId: uuid('agent_id'),
    type: text('type').notNull(),
    data: jsonb('data').notNull().$type<Record<string, unknown>>(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('events_task_idx').on(t.taskId, t.id),
    // Most events are a task's alone (agent_id null): only an agent's enter its index.
    index('events_agent_idx').on(t.agentId, t.id).where(sql`${t.agentId} is not null`),
  ],
);

/** Manager-wide settings shared by every manager on the database (e.g. the token secret). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
