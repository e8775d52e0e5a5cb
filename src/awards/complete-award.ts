import type { Database } from '../db/client.ts';
import { eventCtes, fromStates, toState } from '../db/sql-fragments.ts';
import type { EventSink } from '../events/event-publisher.ts';
import type { Task } from '../protocol/task.ts';
import { ENDED_SET_SQL } from '../tasks/ended-set.ts';
import { awardColumnsPrefixed, awardOf, taskColumns, toTaskRow } from '../tasks/task-rows.ts';
import { type AwardRow, type TaskRow, toTaskView } from '../tasks/task-view.ts';
import { awardGuard, awardTarget } from './award-state.ts';

/**
 * The holder's result, in one statement: the task completes (guarded by the award being its
 * current, live award, held by the reporting agent), the award completes, the winning bid is
 * `accepted` and the round's other ranked bids `rejected`, the agent is credited, and
 * `task.completed` is written. The award as it was is returned too, so a caller whose result
 * was not taken can say why without reading again.
 *
 * With `agreedDueAt` (an agreement held back for this report, see held-agreements.ts) and the
 * award still offered, `award.agreed` is written first, in the same statement.
 *
 * The award row is locked first (as agree does), so a result racing the agreement of its own
 * award reads the status that agreement committed: the attempt is counted once, not twice, and
 * the two statements take their locks in one order.
 */
const COMPLETE_SQL = `
with cur as (select * from awards where id = $1 for update),
t as (
  update tasks set state = ${toState('complete')}, output = $4::jsonb, updated_at = now(), ${ENDED_SET_SQL},
    attempts = attempts + case when (select status from cur) = 'offered' then 1 else 0 end
  where id = $2 and state in (${fromStates('complete')}) and award_id = $1
    and exists (select 1 from cur where task_id = $2 and status in (${awardGuard('complete')})
      and ($3::uuid is null or agent_id = $3::uuid))
  returning *
), aw as (
  update awards set status = ${awardTarget('complete')}, output = $4::jsonb, finished_at = now(),
    watch_lease_until = null
  where id = $1 and exists (select 1 from t)
), bd as (
  update bids set outcome = case when bids.id = c.bid_id then 'accepted' else 'rejected' end
  from cur c, t
  where c.bid_id is not null and bids.task_id = t.id and bids.round = c.round
    and (bids.id = c.bid_id or bids.outcome = 'ranked')
), st as (
  insert into agent_stat_deltas (agent_id, completions) select c.agent_id, 1 from cur c, t
), ${eventCtes(
  'ev',
  `select t.id, c.agent_id, v.type, v.data from t, cur c cross join lateral (values
     (1, 'award.agreed', jsonb_build_object('awardId', c.id::text, 'attempts', t.attempts, 'dueAt', $5::text)),
     (2, 'task.completed', jsonb_build_object('state', ${toState('complete')}, 'round', t.round, 'awardId', c.id))
   ) as v(ord, type, data)
   where v.ord = 2 or ($5::text is not null and c.status = 'offered')
   order by v.ord`,
  '(select capability from t)',
)}
select ${taskColumns('t')}, ${awardColumnsPrefixed('c')},
  (select notices from ev_n) as notices
from cur c left join t on true`;

/** What a completion did: the completed task and award, or the award as it stood (or null: unknown). */
export type Completion =
  | { done: true; task: TaskRow; award: AwardRow; view: Task }
  | { done: false; award: AwardRow | null };

/**
 * Completes task `taskId` with the result of award `awardId`. With `agentId`, only if that agent
 * holds the award (an agent's report); without, for an inform-result answered to the offer.
 */
export async function completeAward(
  database: Database,
  events: EventSink,
  taskId: string,
  awardId: string,
  agentId: string | null,
  output: unknown,
  agreedDueAt: Date | null = null,
): Promise<Completion> {
  const rows = await database.query(COMPLETE_SQL, [
    awardId,
    taskId,
    agentId,
    JSON.stringify(output ?? null),
    agreedDueAt?.toISOString() ?? null,
  ]);
  const raw = rows[0];
  const before = raw && awardOf(raw);
  if (!raw || raw.id === null || raw.id === undefined || !before) {
    events.published(raw?.notices);
    return { done: false, award: before ?? null };
  }
  const task = toTaskRow(raw);
  const award: AwardRow = {
    ...before,
    status: 'completed',
    output: task.output,
    finishedAt: task.completedAt,
  };
  // The completed view rides with the task's notice: waiting clients answer from it.
  const view = toTaskView(task, award);
  events.published(raw.notices, view);
  return { done: true, task, award, view };
}
