import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { quoted } from '../db/sql-lists.ts';
import type { MarketMetrics } from '../observability/market-metrics.ts';
import { ENDED_TASK_STATES } from '../protocol/states.ts';
import type { SweepJob } from '../sweeper/sweep-job.ts';

const ENDED = quoted(ENDED_TASK_STATES);

/**
 * The smallest v7 UUID of the millisecond `at`: every task created before `at` has a smaller
 * id (v7 ids begin with their creation time), so `id < this` bounds an index range scan.
 */
export function firstIdOf(at: Date): string {
  const ms = Math.max(0, Math.min(at.getTime(), 2 ** 48 - 1));
  const hex = ms.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/**
 * One batch of ended tasks past their retention, deleted with their bids, awards (by cascade)
 * and audit trail. Kept whatever their age: a task whose callback is not yet delivered, a
 * parent with a subtask still running, and a dependency that a waiting task still needs.
 * SKIP LOCKED: managers sharing the database never wait for each other here. No ORDER BY: the
 * primary key's range scan (v7 ids are in time order) stops at `limit` rows, so a large backlog
 * costs each batch its size. A dependant submitted while its dependency is deleted fails
 * (`dependency_failed`) rather than waits: see releaseWaiting.
 */
const PRUNE_TASKS_SQL = `with needed as materialized (
    select unnest(depends_on) as id from tasks where state = 'waiting'
  ), doomed as (
    select t.id from tasks t
    where t.state in ${ENDED} and t.id < $1::uuid and t.updated_at < $2::timestamptz
      and t.callback_due_at is null
      and not exists (select 1 from unnest(t.children) k (id) join tasks c on c.id = k.id
        where c.state not in ${ENDED})
      and not exists (select 1 from needed n where n.id = t.id)
    limit $3
    for update of t skip locked
  ), trail as (
    delete from events e using doomed d where e.task_id = d.id
  )
  delete from tasks t using doomed d where t.id = d.id returning t.id`;

/**
 * One batch of agent events (those of no task) recorded before the cutoff. Ordered as the
 * (task_id, id) index is, so the scan reads agent events only, not the whole table.
 */
const PRUNE_AGENT_EVENTS_SQL = `delete from events where id in (
    select id from events where task_id is null and created_at < $1::timestamptz
    order by task_id, id limit $2)
  returning id`;

export type PruneResult = { taskIds: string[]; agentEvents: number };

/** Rows per retention statement; a full batch brings the next one a second later, not a minute. */
const PRUNE_BATCH = 500;

/**
 * Deletes what ended more than `retentionMs` ago (what is kept whatever its age is said above),
 * so a long-running market's tables stay bounded; `forget` drops views of them held in memory.
 */
export function retention(d: {
  database: Database;
  retentionMs: number;
  metrics: MarketMetrics;
  logger: Logger;
  forget(taskIds: readonly string[]): void;
}): SweepJob {
  let nextPruneAt = 0;
  return {
    name: 'retention',
    ready: (now) => d.retentionMs > 0 && now >= nextPruneAt,
    async run() {
      const now = Date.now();
      // Once a minute (a tenth of the retention when that is shorter): old rows are not urgent, and
      // one batch per turn leaves the sweep's other jobs their time while a backlog is worked off.
      nextPruneAt = now + Math.min(60_000, d.retentionMs / 10);
      const before = new Date(now - d.retentionMs);
      const { taskIds, agentEvents } = await pruneEnded(d.database, before, PRUNE_BATCH);
      if (taskIds.length) d.forget(taskIds);
      d.metrics.pruned(taskIds.length, agentEvents);
      if (taskIds.length || agentEvents)
        d.logger.info(
          { tasks: taskIds.length, agentEvents, before },
          'pruned what ended before the retention',
        );
      if (taskIds.length === PRUNE_BATCH || agentEvents === PRUNE_BATCH)
        nextPruneAt = Math.min(nextPruneAt, now + 1000);
    },
  };
}

/** Deletes one batch of what ended before `before`: at most `limit` tasks and `limit` agent events. */
export async function pruneEnded(database: Database, before: Date, limit: number): Promise<PruneResult> {
  const cutoff = before.toISOString();
  const tasks = await database.query<{ id: string }>(PRUNE_TASKS_SQL, [firstIdOf(before), cutoff, limit]);
  const events = await database.query<{ id: string }>(PRUNE_AGENT_EVENTS_SQL, [cutoff, limit]);
  return { taskIds: tasks.map((r) => r.id), agentEvents: events.length };
}
