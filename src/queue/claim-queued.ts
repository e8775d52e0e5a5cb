import { v7 as uuidv7 } from 'uuid';
import type { Database } from '../db/client.ts';
import { eventCtes, fromStates, toState } from '../db/sql-fragments.ts';
import type { EventSink } from '../events/event-publisher.ts';
import { taskColumns, toTaskRow } from '../tasks/task-rows.ts';
import type { TaskRow } from '../tasks/task-view.ts';

/**
 * A queue claim, in one statement: up to `limit` queued tasks of the agent's capabilities
 * (highest priority, then oldest; never one this agent failed) are locked with SKIP LOCKED, so
 * concurrent claimers and managers never take the same task; each becomes `awarded` with an award
 * born `agreed` whose lease is its dueAt; the agent is credited and `task.claimed` written.
 */
const CLAIM_SQL = `
with due as (
  select id from tasks
  where live and next_auction_at is not null and state in (${fromStates('claim')}) and capability = any($2::text[]) and not ($1::uuid = any(excluded_agents))
    -- A subtask is never its parent holder's to take.
    and parent_agent_id is distinct from $1::uuid
  order by priority desc, created_at asc
  limit $3
  for update skip locked
), picked as (
  select d.id as task_id, ($5::uuid[])[row_number() over ()] as award_id from due d
), t as (
  update tasks set state = ${toState('claim')}, award_id = p.award_id, attempts = attempts + 1,
    queued_reason = null, next_auction_at = null, callback_due_at = null, updated_at = now(),
    -- A task placed with an agent holds a lease (award expiry finds it by it): the claim's.
    round_lease_until = $4::timestamptz
  from picked p where tasks.id = p.task_id and tasks.state in (${fromStates('claim')})
  returning tasks.*
), aw as (
  insert into awards (id, task_id, agent_id, round, kind, status, awarded_at, due_at)
  select t.award_id, t.id, $1::uuid, t.round, 'claim', 'agreed', now(), $4::timestamptz from t
), st as (
  insert into agent_stat_deltas (agent_id, awards) select $1::uuid, count(*) from t having count(*) > 0
), ${eventCtes(
  'ev',
  `select t.id, $1::uuid, 'task.claimed',
     jsonb_build_object('state', ${toState('claim')}, 'round', t.round, 'awardId', t.award_id, 'leaseUntil', $4::text)
   from t`,
  '(select capability from t where t.id = e.task_id)',
)}
select ${taskColumns('t')},
  -- The notices once, on the first row: not a copy of the whole batch's on every row.
  case when row_number() over (order by t.priority desc, t.created_at asc, t.id) = 1
    then (select notices from ev_n) end as notices
from t
-- RETURNING has no order of its own: hand the tasks out in the order they were picked (the
-- id breaks ties, so the row numbered 1 above is the first row here).
order by t.priority desc, t.created_at asc, t.id`;

export type Claimed = { task: TaskRow; awardId: string; leaseUntil: Date };

/** Claims up to `limit` queued tasks for `agentId` with a lease of `leaseMs`. */
export async function claimQueued(
  database: Database,
  events: EventSink,
  agentId: string,
  req: { capabilities: string[]; limit: number; leaseMs: number },
  /** Now by the database's clock (DbClock's estimate): the lease is judged by it. */
  dbNow: number,
): Promise<Claimed[]> {
  const leaseUntil = new Date(dbNow + req.leaseMs);
  const ids = Array.from({ length: req.limit }, () => uuidv7());
  const rows = await database.query(CLAIM_SQL, [
    agentId,
    `{${req.capabilities.map((c) => `"${c.replace(/["\\]/g, '\\$&')}"`).join(',')}}`,
    req.limit,
    leaseUntil.toISOString(),
    `{${ids.join(',')}}`,
  ]);
  events.published(rows[0]?.notices);
  return rows.map((raw) => {
    const task = toTaskRow(raw);
    return { task, awardId: task.awardId as string, leaseUntil };
  });
}
