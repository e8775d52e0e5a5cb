import { z } from 'zod';
import { TaskSettlement } from './accounts.ts';
import { CapabilityName, callablePort, Id, JsonValue, Timestamp } from './common.ts';
import { TASK_STATES } from './states.ts';

export const TaskState = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskState>;

/** How much each criterion counts when bids are ranked; all zero is not allowed. */
export const Weights = z
  .object({
    cost: z.number().min(0).max(1000).default(1),
    time: z.number().min(0).max(1000).default(1),
    reputation: z.number().min(0).max(1000).default(1),
  })
  .strict()
  .refine((w) => w.cost + w.time + w.reputation > 0, 'at least one weight must be positive');
export type Weights = z.infer<typeof Weights>;

export const TaskSubmission = z
  .object({
    capability: CapabilityName,
    input: JsonValue,
    budget: z.number().min(0).nullable().optional(),
    deadline: Timestamp.nullable().optional(),
    bidWindowMs: z.number().int().min(10).max(600_000).optional(),
    maxAttempts: z.number().int().min(1).max(100).default(3),
    priority: z.number().int().min(-1000).max(1000).default(0),
    weights: Weights.optional(),
    callbackUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .refine(callablePort, 'must not use port 0')
      .nullable()
      .optional(),
    /** Iterated Contract Net: up to this many bidding iterations (revised cfps to the shortlist). */
    iterations: z.number().int().min(1).max(5).default(1),
    /** How many of the best proposers each further iteration goes back to. */
    shortlist: z.number().int().min(1).max(10).default(3),
    /** A subtask of a task whose award the submitting agent holds (its agent token submits it). */
    parent: z.object({ taskId: Id, awardId: Id }).strict().optional(),
    /** Tasks whose outputs this one needs: it waits until they have all completed (existing tasks only). */
    dependsOn: z
      .array(Id)
      .min(1)
      .max(32)
      .refine((ids) => new Set(ids).size === ids.length, 'a task is listed twice')
      .optional(),
  })
  // A misspelt field (`dependson`, `budjet`) is a 422 naming it, never silently ignored.
  .strict()
  .meta({ id: 'TaskSubmission' });
export type TaskSubmission = z.infer<typeof TaskSubmission>;

export const TaskAward = z.object({
  id: Id,
  agentId: Id,
  cost: z.number().nullable(),
  etaMs: z.number().int().nullable(),
  awardedAt: Timestamp,
  dueAt: Timestamp,
});
export type TaskAward = z.infer<typeof TaskAward>;

export const TaskError = z.object({ code: z.string(), message: z.string() });
export type TaskError = z.infer<typeof TaskError>;

export const Task = z
  .object({
    id: Id,
    capability: z.string(),
    input: JsonValue,
    budget: z.number().nullable(),
    deadline: Timestamp.nullable(),
    bidWindowMs: z.number().int(),
    maxAttempts: z.number().int(),
    attempts: z.number().int(),
    priority: z.number().int(),
    weights: z.object({ cost: z.number(), time: z.number(), reputation: z.number() }),
    callbackUrl: z.string().nullable(),
    state: TaskState,
    round: z.number().int(),
    award: TaskAward.nullable(),
    output: JsonValue.nullable(),
    error: TaskError.nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    completedAt: Timestamp.nullable(),
    iterations: z.number().int(),
    shortlist: z.number().int(),
    /** The tasks it depends on (empty: none). */
    dependsOn: z.array(Id),
    /** The task it is a subtask of (null: none), and its own subtasks. */
    parentId: Id.nullable(),
    children: z.array(Id),
    /** The W3C trace id its agent calls carry (the submitter's `traceparent`, or a new trace). */
    traceId: z.string().nullable(),
    /** Its money, when the market keeps accounts (null: submitted without them). */
    settlement: TaskSettlement.nullable(),
  })
  .meta({ id: 'Task' });
export type Task = z.infer<typeof Task>;

/**
 * What a submission answers: the Task, and with a `callbackUrl` while API keys are off, the
 * secret its callbacks are signed with (shown only here; with keys, the API key signs them).
 */
export const SubmittedTask = Task.extend({ callbackSecret: z.string().optional() }).meta({
  id: 'SubmittedTask',
});
export type SubmittedTask = z.infer<typeof SubmittedTask>;

export const TaskEvent = z
  .object({
    id: z.string(),
    taskId: Id.nullable(),
    agentId: Id.nullable(),
    type: z.string(),
    data: z.record(z.string(), z.unknown()),
    createdAt: Timestamp,
    /** The trace id of the event's task (null for an agent's own events). */
    traceId: z.string().nullable(),
  })
  .meta({ id: 'Event' });
export type TaskEvent = z.infer<typeof TaskEvent>;
