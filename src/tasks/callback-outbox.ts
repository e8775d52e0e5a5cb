import { createHash, createHmac } from 'node:crypto';
import { and, asc, eq, isNotNull, lte } from 'drizzle-orm';
import type { Logger } from 'pino';
import { type Agent as Dispatcher, request } from 'undici';
import type { Db } from '../db/client.ts';
import { tasks } from '../db/schema.ts';
import { DB_NOW, dbNowPlus } from '../db/sql-fragments.ts';
import { recordEvent } from '../events/event-log.ts';
import { SIGNATURE_HEADER, signBody } from '../protocol/signature.ts';
import { type Backoff, backoffDelay } from '../resilience/backoff.ts';
import type { OutboundGuard } from '../resilience/outbound-guard.ts';
import type { SweepJob } from '../sweeper/sweep-job.ts';
import { takeBatch } from './take-batch.ts';
import type { TaskStore } from './task-store.ts';
import { traceIdOf } from './task-view.ts';

/** Deliveries of an ended task to its callbackUrl: 0.5 s, doubling to a minute between tries. */
const CALLBACK_BACKOFF: Backoff = { baseMs: 500, capMs: 60_000 };

/** Names one ending of a task, for a callback receiver to deduplicate deliveries. */
export const DELIVERY_HEADER = 'x-cnp-delivery';

export const deliveryId = (taskId: string, completedAt: Date | null): string =>
  `${taskId}.${completedAt?.getTime() ?? 0}`;

/**
 * The key one task's callbacks are signed with when API keys are off: derived from the manager
 * secret for this purpose and this task only, and returned to the submitter as `callbackSecret`.
 * A receiver verifies with it and learns nothing that signs anything else.
 */
export const callbackSecretOf = (managerSecret: string, taskId: string): string =>
  `cbs_${createHmac('sha256', managerSecret).update(`callback:${taskId}`).digest('base64url')}`;

/** What a client is told of a delivery that failed, however it failed. */
export const NOT_DELIVERED = 'no 2xx answer from the callback URL within the time allowed, on any attempt';

/** After this many failed deliveries the callback is given up (an event says so). */
export const MAX_CALLBACK_ATTEMPTS = 8;

export type CallbackOptions = {
  apiKeys?: string[];
  managerSecret: string;
  timeoutMs: number;
  /** How long a claimed delivery is left to this manager before another may try. */
  claimMs: number;
  /** Callbacks go only where the outbound policy allows (after DNS resolution). */
  guard: OutboundGuard;
};

/**
 * Delivers `callbackUrl` notifications from the tasks table, which is the outbox: a task that
 * ends is marked due in the same transaction. Each delivery is claimed with SKIP LOCKED, sent
 * outside any transaction, signed like agent calls (keyed by the client's API key, or by the
 * task's callback secret when keys are off), and retried with backoff until it answers 2xx.
 */
export class CallbackOutbox {
  constructor(
    private readonly db: Db,
    private readonly store: TaskStore,
    private readonly logger: Logger,
    private readonly opts: CallbackOptions,
  ) {
    this.dispatcher = opts.guard.dispatcher({ connections: 8, keepAliveTimeout: 10_000 });
  }

  private readonly dispatcher: Dispatcher;

  /** The submitting API key (keys on), or the task's own callback secret (keys off). */
  private keyFor(taskId: string, callbackKey: string | null): string {
    const key = callbackKey
      ? this.opts.apiKeys?.find(
          (k) => createHash('sha256').update(k).digest('hex').slice(0, 16) === callbackKey,
        )
      : undefined;
    return key ?? callbackSecretOf(this.opts.managerSecret, taskId);
  }

  /** The outbox's sweep job: callbacks of ended tasks that are due. */
  job(): SweepJob {
    return {
      name: 'callbacks',
      probe: 'exists (select 1 from tasks where callback_due_at is not null and callback_due_at <= now())',
      run: () => this.deliverDue(),
    };
  }

  async deliverDue(batch = 20): Promise<void> {
    const due = await takeBatch(this.db, {
      where: and(isNotNull(tasks.callbackDueAt), lte(tasks.callbackDueAt, DB_NOW)),
      set: { callbackDueAt: dbNowPlus(this.opts.claimMs) },
      orderBy: [asc(tasks.callbackDueAt)],
      limit: batch,
    });
    await Promise.all(due.map((row) => this.deliver(row)));
  }

  private async deliver(row: typeof tasks.$inferSelect) {
    const body = JSON.stringify(await this.store.viewOf(row));
    let error: string | null = null;
    try {
      const url = row.callbackUrl ?? '';
      const refused = this.opts.guard.refuseLiteral(url);
      if (refused) throw new Error(`not called: ${refused}`);
      const res = await request(url, {
        dispatcher: this.dispatcher,
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signBody(this.keyFor(row.id, row.callbackKey), body),
          // The same on every retry of one ending: delivery is at least once, and a client
          // deduplicates by it. A retried task that ends again is a new delivery.
          [DELIVERY_HEADER]: deliveryId(row.id, row.completedAt),
        },
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      await res.body.dump();
      if (res.statusCode >= 300) error = `callback answered HTTP ${res.statusCode}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const attempts = row.callbackAttempts + 1;
    const done = error === null || attempts >= MAX_CALLBACK_ATTEMPTS;
    await this.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(tasks)
        .set({
          callbackAttempts: attempts,
          callbackDueAt: done ? null : dbNowPlus(backoffDelay(attempts, CALLBACK_BACKOFF)),
        })
        // Guarded: only the delivery this manager claimed.
        .where(
          and(
            eq(tasks.id, row.id),
            eq(tasks.callbackAttempts, row.callbackAttempts),
            isNotNull(tasks.callbackDueAt),
          ),
        )
        .returning({ id: tasks.id });
      if (!updated || !done) return;
      // The client reads this: no connect error or status code, which would map what listens
      // where the manager stands (the log keeps the detail for the operator).
      await recordEvent(tx, {
        taskId: row.id,
        type: error === null ? 'task.callback_delivered' : 'task.callback_failed',
        data: { url: row.callbackUrl, attempts, ...(error ? { error: NOT_DELIVERED } : {}) },
        capability: row.capability,
      });
    });
    if (error)
      this.logger.warn(
        { taskId: row.id, traceId: traceIdOf(row.traceParent), attempts, error },
        'callback delivery failed',
      );
  }
}
