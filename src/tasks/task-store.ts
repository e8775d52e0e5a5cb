import { and, asc, desc, eq, gt, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Database, Db, Executor, Tx } from '../db/client.ts';
import { awards, bids, events, tasks } from '../db/schema.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import { recordEvent } from '../events/event-log.ts';
import { isEnded } from '../protocol/states.ts';
import type { Task, TaskState } from '../protocol/task.ts';
import { endedSet } from './ended-set.ts';
import { nextState, statesAllowing, type TaskAction } from './state-machine.ts';
import { awardColumnsPrefixed, awardOf, taskColumns, toTaskRow } from './task-rows.ts';
import { type AwardRow, type TaskRow, toTaskView } from './task-view.ts';

const VIEW_SQL = `select ${taskColumns('t')}, ${awardColumnsPrefixed('a')} from tasks t
  left join awards a on a.id = t.award_id and t.state in ('awarded', 'completed') where t.id = $1`;

/** JSON with sorted keys, so that equal bodies hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export type Transition = {
  taskId: string;
  action: TaskAction;
  /** Extra guard, e.g. the round or award the caller acted on. */
  guard?: SQL;
  set?: PgUpdateSetSource<typeof tasks>;
  event: { type: string; data?: Record<string, unknown>; agentId?: string | null };
};

/**
 * The one way a task changes state: a guarded update whose `where` is derived from the state
 * machine, plus one audit event, in the caller's transaction. Null when the guard did not hold
 * (another manager, round or request got there first).
 */
export async function transitionTask(tx: Tx, t: Transition): Promise<TaskRow | null> {
  const from = statesAllowing(t.action);
  const to = nextState(from[0]!, t.action)!;
  const now = new Date();
  const [row] = await tx
    .update(tasks)
    .set({
      ...t.set,
      state: to,
      updatedAt: now,
      // A task that ends owes its client a callback: queued in the same transaction (outbox).
      ...(isEnded(to) ? endedSet : { callbackDueAt: null }),
    })
    .where(and(eq(tasks.id, t.taskId), inArray(tasks.state, from), t.guard))
    .returning();
  if (!row) return null;
  await recordEvent(tx, {
    taskId: t.taskId,
    agentId: t.event.agentId ?? null,
    type: t.event.type,
    data: { state: to, round: row.round, ...t.event.data },
    capability: row.capability,
    state: to,
    // An ended task's view rides with its notice (one without an award: a completion is written
    // by complete-award.ts), so long-polls here answer from it without reading the task again.
    ...(isEnded(to) && to !== 'completed' ? { view: toTaskView(row, null) } : {}),
  });
  return row;
}

/** Tasks: submission (idempotent by key), lookup, listing, audit trail and bids. */
export class TaskStore {
  constructor(
    private readonly database: Database,
    private readonly db: Db,
  ) {}

  /** The task an idempotency key created; 409 if it was created from another body. */
  async findByKey(key: string, requestHash: string): Promise<TaskRow | null> {
    const [row] = await this.db.select().from(tasks).where(eq(tasks.idempotencyKey, key));
    if (!row) return null;
    if (row.requestHash !== requestHash) {
      throw new AppError(
        409,
        'idempotency_conflict',
        'this Idempotency-Key was used with a different body; use a new key for a new task',
      );
    }
    return row;
  }

  async getRow(id: string, ex: Executor = this.db): Promise<TaskRow> {
    const [row] = await ex.select().from(tasks).where(eq(tasks.id, id));
    if (!row) throw notFound('task', id);
    return row;
  }

  /**
   * The task, if `owner` may see it (null: anyone may). Another key's task answers 404, as an
   * unknown one does: a client cannot learn which ids exist.
   */
  async getOwnedRow(id: string, owner: string | null): Promise<TaskRow> {
    const row = await this.getRow(id);
    if (owner && row.callbackKey !== owner) throw notFound('task', id);
    return row;
  }

  async getAward(awardId: string | null, ex: Executor = this.db): Promise<AwardRow | null> {
    if (!awardId) return null;
    const [row] = await ex.select().from(awards).where(eq(awards.id, awardId));
    return row ?? null;
  }

  /**
   * The wire Task in one prepared statement (task and current award); the award is shown only
   * while the task holds one or is completed.
   */
  async readView(id: string): Promise<Task> {
    const [raw] = await this.database.query(VIEW_SQL, [id]);
    if (!raw) throw notFound('task', id);
    return toTaskView(toTaskRow(raw), awardOf(raw));
  }

  /** The wire Task; the current award is shown only while the task holds one or is completed. */
  async view(id: string) {
    const row = await this.getRow(id);
    return this.viewOf(row);
  }

  async viewOf(row: TaskRow) {
    const showAward = row.state === 'awarded' || row.state === 'completed';
    return toTaskView(row, showAward ? await this.getAward(row.awardId) : null);
  }

  /** Newest first; with `owner`, only the tasks that client key submitted. */
  async list(opts: {
    limit: number;
    cursor?: string;
    state?: TaskState;
    /** Any of these states (A2A's states each stand for several). */
    states?: readonly TaskState[];
    /** Only this task (A2A's contextId is the task's id). */
    id?: string;
    capability?: string;
    parentId?: string;
    owner?: string | null;
  }) {
    const rows = await this.db
      .select({ task: tasks, award: awards })
      .from(tasks)
      .leftJoin(awards, eq(awards.id, tasks.awardId))
      .where(
        and(
          opts.cursor ? lt(tasks.id, opts.cursor) : undefined,
          opts.state ? eq(tasks.state, opts.state) : undefined,
          opts.states ? inArray(tasks.state, [...opts.states]) : undefined,
          // Live states only: read through the indexes of live work, not back through the history.
          liveOnly(opts.state, opts.states) ? sql`${tasks.live}` : undefined,
          opts.id ? eq(tasks.id, opts.id) : undefined,
          opts.capability ? eq(tasks.capability, opts.capability) : undefined,
          opts.owner ? eq(tasks.callbackKey, opts.owner) : undefined,
          opts.parentId ? eq(tasks.parentId, opts.parentId) : undefined,
        ),
      )
      .orderBy(desc(tasks.id))
      .limit(opts.limit + 1);
    const more = rows.length > opts.limit;
    const page = rows.slice(0, opts.limit);
    return {
      items: page.map(({ task, award }) =>
        toTaskView(task, task.state === 'awarded' || task.state === 'completed' ? award : null),
      ),
      nextCursor: more ? page.at(-1)!.task.id : null,
    };
  }

  /** The audit trail, oldest first, after event `afterId`. */
  async events(taskId: string, afterId = 0, limit = 1000) {
    return this.db
      .select()
      .from(events)
      .where(and(eq(events.taskId, taskId), gt(events.id, afterId)))
      .orderBy(asc(events.id))
      .limit(limit);
  }

  async bids(taskId: string) {
    return this.db
      .select()
      .from(bids)
      .where(eq(bids.taskId, taskId))
      .orderBy(asc(bids.round), asc(bids.receivedAt), asc(bids.id));
  }
}

/** Whether a listing asks for live states only (at least one state given, none ended). */
function liveOnly(state: TaskState | undefined, states: readonly TaskState[] | undefined): boolean {
  const asked = [...(state ? [state] : []), ...(states ?? [])];
  return asked.length > 0 && asked.every((s) => !isEnded(s));
}
