import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/client.ts';
import { AppError } from '../errors/app-error.ts';
import { submittedTraceparent } from '../observability/trace-context.ts';
import type { TaskSubmission } from '../protocol/task.ts';
import { checkDependencies, insertWaitingTask } from '../tasks/dependencies.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import type { TaskRow } from '../tasks/task-view.ts';

/**
 * Stores a submission with `dependsOn`: its dependencies checked (existing tasks the submitter
 * may see), the task `waiting`. With an idempotency key already used, the task it made.
 */
export async function storeWaitingTask(
  db: Db,
  store: TaskStore,
  s: {
    body: TaskSubmission;
    requestHash: string | null;
    idempotencyKey: string | undefined;
    owner: string | null;
    traceparent: string | undefined;
    bidWindowMs: number;
    maxDependencyOutputBytes: number;
    /** Accounts on: the account its budget is held from as it is stored. */
    payer: string | null;
  },
): Promise<{ row: TaskRow; created: boolean }> {
  await checkDependencies(db, s.body.dependsOn ?? [], s.owner, s.maxDependencyOutputBytes);
  const row = await insertWaitingTask(db, {
    id: uuidv7(),
    body: s.body,
    bidWindowMs: s.bidWindowMs,
    callbackKey: s.owner,
    idempotencyKey: s.idempotencyKey ?? null,
    requestHash: s.requestHash,
    traceParent: submittedTraceparent(s.traceparent),
    payer: s.payer,
  });
  if (row) return { row, created: true };
  const existing = s.idempotencyKey ? await store.findByKey(s.idempotencyKey, s.requestHash ?? '') : null;
  if (!existing) throw new AppError(409, 'conflict', 'the task could not be stored; submit it again');
  return { row: existing, created: false };
}
