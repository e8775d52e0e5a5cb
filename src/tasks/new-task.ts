import type { TaskSubmission } from '../protocol/task.ts';

/** A submitted task as the market stores it: the client's body and what the manager decided of it. */
export type NewTask = {
  id: string;
  body: TaskSubmission;
  bidWindowMs: number;
  callbackKey: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  /** The submission's W3C traceparent. */
  traceParent: string;
  /** A subtask: its parent task and award, and the award's holder (never invited to it). */
  parent?: { taskId: string; awardId: string; agentId: string };
  /** Accounts on: the account its budget is held from (a subtask: its parent award's holder's). */
  payer?: string | null;
};

/** Without `weights`, cost, time and reputation count equally in the ranking. */
export const DEFAULT_WEIGHTS = { cost: 1, time: 1, reputation: 1 };

/**
 * The columns a new task is stored with, by their database names, however it is inserted (into
 * its first round, or waiting for its dependencies): one record, sent as one jsonb parameter and
 * read back with `jsonb_populate_record(null::tasks, ...)`. State, round and lease columns are
 * the inserting statement's own.
 */
export function newTaskRecord(t: NewTask) {
  const b = t.body;
  return {
    id: t.id,
    capability: b.capability,
    input: b.input,
    budget: b.budget ?? null,
    deadline: b.deadline ? new Date(b.deadline).toISOString() : null,
    bid_window_ms: t.bidWindowMs,
    max_attempts: b.maxAttempts,
    priority: b.priority,
    weights: { ...DEFAULT_WEIGHTS, ...b.weights },
    callback_url: b.callbackUrl ?? null,
    callback_key: t.callbackKey,
    idempotency_key: t.idempotencyKey,
    request_hash: t.requestHash,
    trace_parent: t.traceParent,
    parent_id: t.parent?.taskId ?? null,
    parent_award_id: t.parent?.awardId ?? null,
    parent_agent_id: t.parent?.agentId ?? null,
    iterations: b.iterations,
    shortlist: b.shortlist,
    depends_on: b.dependsOn ?? [],
    // Its first hold, made by the database as the row goes in (migration 0018's ledger triggers).
    payer: t.payer ?? null,
    held: t.payer ? (b.budget ?? 0) : 0,
    holds: t.payer ? 1 : 0,
  };
}

type Column = keyof ReturnType<typeof newTaskRecord>;

const COLUMNS: readonly Column[] = [
  'id',
  'capability',
  'input',
  'budget',
  'deadline',
  'bid_window_ms',
  'max_attempts',
  'priority',
  'weights',
  'callback_url',
  'callback_key',
  'idempotency_key',
  'request_hash',
  'trace_parent',
  'parent_id',
  'parent_award_id',
  'parent_agent_id',
  'iterations',
  'shortlist',
  'depends_on',
  'payer',
  'held',
  'holds',
];

/** `id, capability, ...`: the record's columns, for an insert's column list. */
export const NEW_TASK_COLUMNS = COLUMNS.join(', ');

/** `r.id, r.capability, ...`: the same columns of a `jsonb_populate_record(null::tasks, ...)` named `r`. */
export const newTaskValues = (r: string) => COLUMNS.map((c) => `${r}.${c}`).join(', ');
