import type { Database } from '../db/client.ts';
import type { DbClock } from '../db/db-clock.ts';
import { eventCtes } from '../db/sql-fragments.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { EventSink } from '../events/event-publisher.ts';
import type { Cfp } from '../protocol/messages.ts';
import type { AgentAddress, AgentClient } from '../resilience/agent-client.ts';
import type { TaskRow } from '../tasks/task-view.ts';
import { sendReject } from './award-negotiation.ts';
import { readPostedBids } from './close-round.ts';
import { type CfpSender, collectBids } from './collect-bids.ts';
import { type FinalBid, finaliseBids } from './finalise-bids.ts';
import { mergeIteration, shortlistOf } from './iteration.ts';
import type { Invitee } from './round-types.ts';

/**
 * One more iteration of a round, in one statement: a new bid window (and the lease with it,
 * so a survivor takes over a round whose owner dies mid-iteration) and the `round.iterated`
 * event, guarded by round and owner. No row: the round is no longer this manager's.
 */
const ITERATE_SQL = `
with t as (
  update tasks set reply_by = now() + bid_window_ms * interval '1 millisecond',
    round_lease_until = now() + (bid_window_ms + $4::int) * interval '1 millisecond', updated_at = now()
  where id = $1 and state = 'bidding' and round = $2::int and round_owner = $3
  returning id, round, reply_by, capability
), ${eventCtes(
  'ev',
  `select t.id, null::uuid, 'round.iterated', jsonb_build_object('state', 'bidding', 'round', t.round,
     'iteration', $5::int, 'best', $6::jsonb, 'shortlist', $7::jsonb) from t`,
  '(select capability from t)',
)}
select t.reply_by, (select notices from ev_n) as notices from t`;

export type IterationDeps = {
  database: Database;
  events: EventSink;
  client: AgentClient;
  hub: EventHub;
  managerId: string;
  leaseSlackMs: number;
  address(i: Invitee): AgentAddress;
  send: CfpSender;
  clock: DbClock;
};

/**
 * Iterated Contract Net after the first window: up to `task.iterations - 1` revised cfps with
 * the iteration and the best offer to the shortlist; the proposers left out get
 * `reject-proposal` (`not_shortlisted`); it stops early when an iteration improves nothing, and
 * whenever the round stops being this manager's. Answers the bids the round closes with.
 */
export async function iterate(
  d: IterationDeps,
  task: TaskRow,
  cfp: Cfp,
  invitees: Invitee[],
  first: FinalBid[],
): Promise<FinalBid[]> {
  let finals = first;
  const byId = new Map(invitees.map((i) => [i.id, i]));
  const ranking = { budget: task.budget, deadline: task.deadline?.getTime() ?? null, weights: task.weights };
  for (let iteration = 2; iteration <= task.iterations; iteration++) {
    const s = shortlistOf(finals, invitees, ranking, task.shortlist, Date.now());
    if (!s) break;
    sendReject(
      { client: d.client, address: d.address },
      s.left.map((agentId) => byId.get(agentId)),
      task.id,
      task.round,
      'not_shortlisted',
    );
    const rows = await d.database.query<{ reply_by: Date | string; notices: unknown }>(ITERATE_SQL, [
      task.id,
      task.round,
      d.managerId,
      d.leaseSlackMs,
      iteration,
      JSON.stringify(s.best),
      JSON.stringify(s.shortlist),
    ]);
    d.events.published(rows[0]?.notices as never);
    if (!rows[0]) {
      finals = mergeIteration(finals, [], s.left, iteration).finals;
      break;
    }
    const shortlisted = s.shortlist.map((id) => byId.get(id)).filter((i): i is Invitee => !!i);
    const next: Cfp = { ...cfp, replyBy: new Date(rows[0].reply_by).toISOString(), iteration, best: s.best };
    const answers = await collectBids(d.send, d.hub, next, shortlisted, d.clock);
    const deferred = shortlisted.filter((i) => answers.get(i.id)?.type === 'deferred').map((i) => i.bidId);
    const revised = finaliseBids(
      shortlisted,
      answers,
      await readPostedBids(d.database, deferred),
      Date.now(),
    );
    const merged = mergeIteration(finals, revised, s.left, iteration);
    finals = merged.finals;
    if (!merged.improved) break;
  }
  return finals;
}
