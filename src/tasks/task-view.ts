import type { awards, tasks } from '../db/schema.ts';
import { parseTraceparent } from '../observability/trace-context.ts';
import type { TaskSpec } from '../protocol/messages.ts';
import type { Task } from '../protocol/task.ts';

export type TaskRow = typeof tasks.$inferSelect;
export type AwardRow = typeof awards.$inferSelect;

/** The wire form of a task with its current award. */
export function toTaskView(row: TaskRow, award: AwardRow | null): Task {
  return {
    id: row.id,
    capability: row.capability,
    input: row.input as Task['input'],
    budget: row.budget,
    deadline: row.deadline?.toISOString() ?? null,
    bidWindowMs: row.bidWindowMs,
    maxAttempts: row.maxAttempts,
    attempts: row.attempts,
    priority: row.priority,
    weights: row.weights,
    callbackUrl: row.callbackUrl,
    state: row.state,
    round: row.round,
    award: award
      ? {
          id: award.id,
          agentId: award.agentId,
          cost: award.cost,
          etaMs: award.etaMs,
          awardedAt: award.awardedAt.toISOString(),
          dueAt: award.dueAt.toISOString(),
        }
      : null,
    output: (row.output ?? null) as Task['output'],
    error: row.error ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: row.completedAt?.toISOString() ?? null,
    traceId: traceIdOf(row.traceParent),
    iterations: row.iterations,
    shortlist: row.shortlist,
    dependsOn: row.dependsOn ?? [],
    parentId: row.parentId ?? null,
    children: row.children ?? [],
    settlement: row.payer
      ? { payer: row.payer, held: row.held, paid: row.paid ?? null, refunded: row.refunded ?? null }
      : null,
  };
}

/** The trace id of a stored traceparent (null for tasks from before traces were kept). */
export const traceIdOf = (traceParent: string | null | undefined): string | null =>
  parseTraceparent(traceParent)?.traceId ?? null;

/** The part of a task an agent sees, in a cfp, an award or a queue claim. */
export function toTaskSpec(t: TaskRow): TaskSpec {
  return {
    id: t.id,
    capability: t.capability,
    input: t.input as TaskSpec['input'],
    budget: t.budget,
    deadline: t.deadline?.toISOString() ?? null,
    priority: t.priority,
    ...(t.dependencyOutputs ? { dependencies: t.dependencyOutputs as TaskSpec['dependencies'] } : {}),
  };
}
