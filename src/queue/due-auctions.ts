import { and, eq, inArray, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client.ts';
import { tasks } from '../db/schema.ts';
import { DB_NOW } from '../db/sql-fragments.ts';
import { quoted } from '../db/sql-lists.ts';
import { AUCTIONABLE_TASK_STATES } from '../protocol/states.ts';
import { backoffDelay } from '../resilience/backoff.ts';
import { taskColumns, toTaskRow } from '../tasks/task-rows.ts';
import type { TaskRow } from '../tasks/task-view.ts';

/** Queued tasks of these capabilities (an agent for them just arrived) are auctioned at the next sweep. */
export async function auctionNow(db: Db, capabilities: string[]): Promise<void> {
  await db
    .update(tasks)
    .set({ nextAuctionAt: DB_NOW })
    .where(and(eq(tasks.state, 'queued'), inArray(tasks.capability, capabilities)));
}

/**
 * Claims queued and pending tasks due for another auction, up to `limit`, fair between clients:
 * each client key's due tasks are ranked by its own priority (then age), and the claim takes
 * every client's first before anyone's second. So priority orders a client's own work and never
 * puts one client's backlog ahead of another's. Claimed rows are pushed `leaseMs` ahead (SKIP
 * LOCKED: managers sweeping together never take the same row).
 */
export async function claimDueAuctions(db: Db, opts: { limit: number; leaseMs: number }): Promise<TaskRow[]> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`update tasks t set next_auction_at = now() + ${opts.leaseMs}::int * interval '1 millisecond'
      where t.id in (
        select id from tasks where id in (
          select id from (
            select id, priority, created_at,
              row_number() over (partition by callback_key order by priority desc, created_at) as turn
            from tasks where live and state in ${sql.raw(quoted(AUCTIONABLE_TASK_STATES))} and next_auction_at <= now()
          ) due where turn <= ${opts.limit}
          order by turn, priority desc, created_at limit ${opts.limit}
        ) for update skip locked
      )
      returning ${sql.raw(taskColumns('t'))}`,
  );
  return rows.map(toTaskRow);
}

/**
 * Of these capabilities, those some active agent offers: `bidders`, the ones with an endpoint a
 * round can invite; `any`, pull-only agents included (the queue's).
 */
export async function offeredCapabilities(
  db: Db,
  capabilities: readonly string[],
): Promise<{ bidders: Set<string>; any: Set<string> }> {
  if (!capabilities.length) return { bidders: new Set(), any: new Set() };
  const rows = await queryRows<{ capability: string; bidder: boolean }>(
    db,
    sql`select c.capability, bool_or(a.endpoint is not null) as bidder
      from unnest(${`{${capabilities.map((c) => JSON.stringify(c)).join(',')}}`}::text[]) c (capability)
      join agents a on a.status = 'active' and a.capability_names @> array[c.capability]
      group by c.capability`,
  );
  return {
    bidders: new Set(rows.filter((r) => r.bidder).map((r) => r.capability)),
    any: new Set(rows.map((r) => r.capability)),
  };
}

/**
 * Queued tasks no agent can bid on now: not auctioned (a round would invite no one), only
 * checked again later, backed off by how often they were (the re-auction law, backoff.ts).
 * One statement for the batch, and no event: nothing about the task changed.
 */
export async function backOffUnservable(
  db: Db,
  tasks: readonly Pick<TaskRow, 'id' | 'requeues'>[],
  policy: { baseMs: number; capMs: number },
): Promise<void> {
  if (!tasks.length) return;
  const ids = `{${tasks.map((t) => t.id).join(',')}}`;
  const delays = `{${tasks.map((t) => backoffDelay(t.requeues, policy)).join(',')}}`;
  await db.execute(
    sql`update tasks set requeues = tasks.requeues + 1,
      next_auction_at = now() + v.ms * interval '1 millisecond'
      from (select unnest(${ids}::uuid[]) as id, unnest(${delays}::int[]) as ms) v
      where tasks.id = v.id and tasks.state = 'queued'`,
  );
}
