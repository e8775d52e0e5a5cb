import type { Database } from '../db/client.ts';
import { eventCtes } from '../db/sql-fragments.ts';
import type { EventSink } from '../events/event-publisher.ts';
import { awardGuard, awardTarget } from './award-state.ts';

/**
 * The winner agreed: in one statement the award becomes `agreed` with its new dueAt, the task
 * counts the attempt, the round's other ranked bids become `rejected`, and `award.agreed` is
 * written. Guarded by the award still being offered and the task still holding it.
 */
const AGREE_SQL = `
with a as (
  update awards set status = ${awardTarget('agree')}, due_at = $2::timestamptz
  where id = $1 and status in (${awardGuard('agree')})
  returning task_id, agent_id, bid_id, round
), t as (
  update tasks set attempts = attempts + 1, updated_at = now()
  from a where tasks.id = a.task_id and tasks.state = 'awarded' and tasks.award_id = $1
  returning tasks.id, tasks.attempts, tasks.capability
), rj as (
  update bids set outcome = 'rejected' from a, t
  where bids.task_id = t.id and bids.round = a.round and bids.outcome = 'ranked' and bids.id is distinct from a.bid_id
), ${eventCtes(
  'ev',
  `select t.id, a.agent_id, 'award.agreed', jsonb_build_object('awardId', $1::text, 'attempts', t.attempts, 'dueAt', $3::text)
   from t, a`,
  '(select capability from t)',
)}
select (select id from t) as task_id, (select status::text from awards where id = $1) as prior,
  (select notices from ev_n) as notices`;

/**
 * Records the winner's agreement. `agreed: false` with the award's status otherwise: `completed`
 * when the winner's result overtook its own agreement, else cancelled or expired meanwhile.
 */
export async function agreeAward(
  database: Database,
  events: EventSink,
  awardId: string,
  dueAt: Date,
): Promise<{ agreed: boolean; status: string | null }> {
  const iso = dueAt.toISOString();
  const [row] = await database.query<{ task_id: string | null; prior: string | null; notices: unknown }>(
    AGREE_SQL,
    [awardId, iso, iso],
  );
  events.published(row?.notices);
  return { agreed: !!row?.task_id, status: row?.prior ?? null };
}
