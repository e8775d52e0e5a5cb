import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { tasks } from '../db/schema.ts';
import { dbNowPlus } from '../db/sql-fragments.ts';
import { AppError } from '../errors/app-error.ts';
import { recordEvent } from '../events/event-log.ts';
import type { SweepJob } from '../sweeper/sweep-job.ts';
import { NEW_TASK_COLUMNS, type NewTask, newTaskRecord, newTaskValues } from './new-task.ts';
import { taskColumns, toTaskRow } from './task-rows.ts';
import { transitionTask } from './task-store.ts';
import type { TaskRow } from './task-view.ts';

/** The bytes a task's dependencies' outputs take as JSON text (what its cfps carry). */
const OUTPUT_BYTES = sql<number>`coalesce(octet_length(${tasks.output}::text), 0)`;

const tooLarge = (bytes: number, maxBytes: number) =>
  `the outputs of its dependencies take ${bytes} bytes, more than the ${maxBytes} a task may carry to agents`;

/**
 * Every id in `dependsOn` names an existing task the submitter may see (its own, or any with
 * keys off or an admin key): 422 naming the others. Existing tasks only, so there is no cycle.
 * The outputs of those already completed must fit within `maxOutputBytes` together (422).
 */
export async function checkDependencies(
  db: Db,
  ids: readonly string[],
  owner: string | null,
  maxOutputBytes: number,
): Promise<void> {
  const found = await db
    .select({ id: tasks.id, owner: tasks.callbackKey, bytes: OUTPUT_BYTES })
    .from(tasks)
    .where(inArray(tasks.id, [...ids]));
  const visible = new Set(found.filter((t) => !owner || t.owner === owner).map((t) => t.id));
  const missing = ids.filter((id) => !visible.has(id));
  if (missing.length)
    throw new AppError(
      422,
      'invalid_request',
      `dependsOn names tasks that do not exist: ${missing.join(', ')}`,
      [{ field: 'dependsOn', message: `no such task: ${missing.join(', ')}` }],
    );
  const bytes = found.reduce((n, t) => n + Number(t.bytes), 0);
  if (bytes > maxOutputBytes)
    throw new AppError(422, 'invalid_request', `dependsOn: ${tooLarge(bytes, maxOutputBytes)}`, [
      { field: 'dependsOn', message: tooLarge(bytes, maxOutputBytes) },
    ]);
}

/**
 * Stores a task that depends on others, `waiting` (no round, not queued, not claimable), with
 * its `task.submitted` event, in one transaction. Null: its idempotency key was taken first.
 */
export async function insertWaitingTask(db: Db, t: NewTask): Promise<TaskRow | null> {
  return db.transaction(async (tx) => {
    const [raw] = await queryRows<Record<string, unknown>>(
      tx,
      sql`insert into tasks (${sql.raw(NEW_TASK_COLUMNS)}, state)
        select ${sql.raw(newTaskValues('r'))}, 'waiting'
        from jsonb_populate_record(null::tasks, ${JSON.stringify(newTaskRecord(t))}::jsonb) r
        on conflict do nothing
        returning ${sql.raw(taskColumns('tasks'))}`,
    );
    if (!raw) return null;
    const row = toTaskRow(raw);
    await recordEvent(tx, {
      taskId: row.id,
      type: 'task.submitted',
      data: { state: 'waiting', capability: row.capability, dependsOn: row.dependsOn },
      capability: row.capability,
      state: 'waiting',
    });
    return row;
  });
}

/** A dependency's states that fail its dependants ('gone': deleted past its retention). */
const SETTLED_BADLY = sql.raw(`('failed', 'cancelled', 'gone')`);

type Resolved = {
  id: string;
  done: boolean;
  output_bytes: number | string | null;
  outputs: Record<string, unknown> | null;
  culprit: string | null;
  culprit_state: string | null;
};

/**
 * Waiting tasks whose dependencies are settled: released to `pending` with their dependencies'
 * outputs when every one completed, failed (`dependency_failed`) as soon as one failed, was
 * cancelled or is gone (deleted past its retention between a submission's check and its insert).
 * One transaction per batch, rows locked SKIP LOCKED (several managers may run it). `only` (a
 * submission releasing its own task) waits for a sweep that holds the row instead of skipping it,
 * so the submitter can answer the task's state as it is once that sweep has committed.
 * Answers the released tasks, for the caller to auction once committed.
 */
export async function releaseWaiting(
  db: Db,
  opts: { only?: string; backstopMs: number; maxOutputBytes: number },
): Promise<TaskRow[]> {
  return db.transaction(async (tx) => {
    const rows = await queryRows<Resolved>(
      tx,
      sql`with w as (
        select id, depends_on from tasks
        where live and state = 'waiting' ${opts.only ? sql`and id = ${opts.only}` : sql``}
        order by created_at limit 50 for update ${opts.only ? sql`` : sql`skip locked`}
      )
      select w.id,
        bool_and(s.state = 'completed') as done,
        sum(coalesce(octet_length(d.output::text), 0)) filter (where s.state = 'completed') as output_bytes,
        jsonb_object_agg(d.id::text, d.output) filter (where s.state = 'completed') as outputs,
        (array_agg(dep.id::text) filter (where s.state in ${SETTLED_BADLY}))[1] as culprit,
        (array_agg(s.state) filter (where s.state in ${SETTLED_BADLY}))[1] as culprit_state
      from w cross join lateral unnest(w.depends_on) dep (id) left join tasks d on d.id = dep.id
        cross join lateral (select coalesce(d.state::text, 'gone') as state) s
      group by w.id
      having bool_and(s.state = 'completed') or bool_or(s.state in ${SETTLED_BADLY})`,
    );
    const released: TaskRow[] = [];
    for (const r of rows) {
      const waiting = and(eq(tasks.id, r.id), eq(tasks.state, 'waiting'));
      const bytes = Number(r.output_bytes ?? 0);
      if (!r.culprit && bytes > opts.maxOutputBytes) {
        // Each dependant would store and send its own copy: it fails instead, saying why.
        await transitionTask(tx, {
          taskId: r.id,
          action: 'fail',
          guard: waiting,
          set: {
            error: { code: 'dependency_output_too_large', message: tooLarge(bytes, opts.maxOutputBytes) },
          },
          event: { type: 'task.failed', data: { code: 'dependency_output_too_large', bytes } },
        });
        continue;
      }
      if (r.culprit) {
        await transitionTask(tx, {
          taskId: r.id,
          action: 'fail',
          guard: waiting,
          set: {
            error: {
              code: 'dependency_failed',
              message:
                r.culprit_state === 'gone'
                  ? `dependency ${r.culprit} no longer exists (deleted past TASK_RETENTION_MS)`
                  : `dependency ${r.culprit} is ${r.culprit_state}`,
            },
          },
          event: { type: 'task.failed', data: { code: 'dependency_failed', dependency: r.culprit } },
        });
        continue;
      }
      const row = await transitionTask(tx, {
        taskId: r.id,
        action: 'release',
        guard: waiting,
        // The sweeper's backstop if the round this caller starts never opens.
        set: { dependencyOutputs: r.outputs ?? {}, nextAuctionAt: dbNowPlus(opts.backstopMs) },
        event: { type: 'task.released', data: { dependencies: Object.keys(r.outputs ?? {}) } },
      });
      if (row) released.push(row);
    }
    return released;
  });
}

/**
 * Waiting tasks whose dependencies settled: `release` (the market's releaseWaiting) releases and
 * auctions them, or fails them.
 */
export function waitingRelease(release: () => Promise<unknown>): SweepJob {
  return { name: 'waiting', probe: WAITING_READY_SQL, run: async () => void (await release()) };
}

/** Whether some waiting task is ready to be released or failed (the sweep's probe). */
const WAITING_READY_SQL = `exists (select 1 from tasks t where t.live and t.state = 'waiting' and (
    not exists (select 1 from tasks d where d.id = any(t.depends_on) and d.state <> 'completed')
    or exists (select 1 from tasks d where d.id = any(t.depends_on) and d.state in ('failed', 'cancelled'))))`;
