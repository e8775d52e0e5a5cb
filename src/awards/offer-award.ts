import { type and, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type { Tx } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { toState } from '../db/sql-fragments.ts';
import { transitionTask } from '../tasks/task-store.ts';
import type { TaskRow } from '../tasks/task-view.ts';
import { type AwardTiming, offerDueTimes } from './award-timing.ts';

/** A bid the award may go to. */
export type NextBid = { id: string; agentId: string; cost: number; etaMs: number };

/**
 * The award row a round's close offers to its best bid, as CTEs for the close statement:
 * `w` holds the offer (JSON parameter `param`, or no row), `aw` inserts it once task CTE `t`
 * has become `awarded`, and the winner's award is counted.
 */
export const offerAwardCtes = (param: string, t: string) => `w as (
  select * from jsonb_to_record(${param}::jsonb) as ${OFFER_RECORD}
  where ${param} is not null
), ${insertOfferCtes(t)}`;

/** The offer's record (the JSON of `offerParam`) as `jsonb_to_record` reads it. */
const OFFER_RECORD =
  'x(award_id uuid, agent_id uuid, bid_id uuid, cost float8, eta_ms int, due_at timestamptz, work_due text)';

/** The award row of offer CTE `w`, inserted once task CTE `t` has been awarded, and its agent's award counted. */
const insertOfferCtes = (t: string) => `aw as (
  insert into awards (id, task_id, agent_id, round, bid_id, kind, cost, eta_ms, awarded_at, due_at)
  select w.award_id, ${t}.id, w.agent_id, ${t}.round, w.bid_id, 'bid', w.cost, w.eta_ms, now(), w.due_at
  from w, ${t} where ${t}.state = ${AWARDED}
), aw_st as (
  insert into agent_stat_deltas (agent_id, awards) select w.agent_id, 1 from w, ${t} where ${t}.state = ${AWARDED}
)`;

const AWARDED = toState('award');

/** The JSON parameter of `offerAwardCtes` for awarding `bid` now. */
export function offerParam(bid: NextBid, deadline: Date | null, timing: AwardTiming) {
  const awardId = uuidv7();
  const { workDue, rowDue } = offerDueTimes(timing.now(), bid.etaMs, deadline?.getTime() ?? null, timing);
  return {
    awardId,
    workDue,
    json: JSON.stringify({
      award_id: awardId,
      agent_id: bid.agentId,
      bid_id: bid.id,
      cost: bid.cost,
      eta_ms: bid.etaMs,
      due_at: rowDue.toISOString(),
      work_due: workDue.toISOString(),
    }),
  };
}

/** Offers the award to `bid` in the caller's transaction: the guarded transition and the award row. */
export async function offerAward(
  tx: Tx,
  task: TaskRow,
  bid: NextBid,
  guard: ReturnType<typeof and>,
  timing: AwardTiming,
  eventType: 'award.moved' | 'task.awarded',
) {
  const { awardId, workDue, json } = offerParam(bid, task.deadline, timing);
  const row = await transitionTask(tx, {
    taskId: task.id,
    action: 'award',
    guard,
    // The round's lease gives way to the award's: a task placed with an agent holds one until
    // its work is due (award expiry finds awarded tasks by it; tasks_awarded_holds_lease).
    set: { awardId, roundLeaseUntil: workDue },
    event: {
      type: eventType,
      agentId: bid.agentId,
      data: { awardId, cost: bid.cost, etaMs: bid.etaMs, dueAt: workDue.toISOString() },
    },
  });
  if (!row) return null;
  // The same award row and count as a round's close writes.
  await queryRows(
    tx,
    sql`with w as (select * from jsonb_to_record(${json}::jsonb) as ${sql.raw(OFFER_RECORD)}),
      t as (select id, round, state from tasks where id = ${row.id}),
      ${sql.raw(insertOfferCtes('t'))}
    select 1`,
  );
  return { awardId, workDue };
}
