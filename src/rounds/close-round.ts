import type { AwardTiming } from '../awards/award-timing.ts';
import { offerAwardCtes, offerParam } from '../awards/offer-award.ts';
import type { Database } from '../db/client.ts';
import { eventCtes, toState } from '../db/sql-fragments.ts';
import type { EventSink } from '../events/event-publisher.ts';
import { cleanText } from '../protocol/common.ts';
import { backoffDelay } from '../resilience/backoff.ts';
import { taskColumns, toTaskRow } from '../tasks/task-rows.ts';
import type { TaskRow } from '../tasks/task-view.ts';
import { answersOf, bidStats, countBy, type FinalBid, type PostedBid, proposalsOf } from './finalise-bids.ts';
import type { Invitee } from './round-types.ts';
import { type RankedBid, type Ranking, rankBids } from './scoring.ts';

/** What closing writes: the task awarded to the winner, or queued when no bid could be taken. */
const AWARDED = toState('award');
const QUEUED = toState('enqueue');

/**
 * Closes a round in one statement: every invitation gets its final answer and outcome, the
 * agents' cfps and answers are counted, and the task moves (guarded by round and owner) to `awarded` with
 * the best bid's award, or to `queued` when nothing acceptable came; one event either way.
 * The bids are found by task and round (their unique index) as well as by id: joined by id alone
 * to the posted set, whose size the planner cannot know, it scanned the whole table.
 */
const CLOSE_SQL = `
with b as (
  update bids set type = x.type, cost = x.cost, eta_ms = x."etaMs", confidence = x.confidence,
    reason = x.reason, outcome = x.outcome, received_at = x."receivedAt", valid_until = x."validUntil",
    iteration = x.iteration
  from jsonb_to_recordset($4::jsonb) as x(id uuid, type text, cost float8, "etaMs" int, confidence float8,
    reason text, outcome text, "receivedAt" timestamptz, "validUntil" timestamptz, iteration int)
  where bids.task_id = $1 and bids.round = $2::int and bids.id = x.id
), bst as (
  insert into agent_stat_deltas (agent_id, cfps, proposals, refusals, no_replies)
  select x."agentId", x.cfps, x.proposals, x.refusals, x."noReplies"
  from jsonb_to_recordset($5::jsonb) as x("agentId" uuid, cfps int, proposals int, refusals int, "noReplies" int)
), t as (
  update tasks set
    state = case when $6::jsonb is not null then ${AWARDED} else ${QUEUED} end::task_state,
    award_id = case when $6::jsonb is not null then ($6::jsonb->>'award_id')::uuid else award_id end,
    round_owner = case when $6::jsonb is not null then round_owner end,
    -- Awarded, it keeps its lease (a HOT update); queued, it has none (award expiry reads the
    -- tasks holding one: rounds and awards, never the queue behind them).
    round_lease_until = case when $6::jsonb is not null then round_lease_until end,
    queued_reason = case when $6::jsonb is not null then queued_reason else $7 end,
    next_auction_at = case when $6::jsonb is not null then next_auction_at
      else now() + $8::int * interval '1 millisecond' end,
    requeues = requeues + case when $6::jsonb is not null then 0 else 1 end,
    updated_at = now(), callback_due_at = null
  where id = $1 and state = 'bidding' and round = $2::int and round_owner = $3
  returning *
), ${offerAwardCtes('$6', 't')},
${eventCtes(
  'ev',
  `select t.id, w.agent_id,
     case when t.state = ${AWARDED} then 'task.awarded' else 'task.queued' end,
     case when t.state = ${AWARDED}
       then jsonb_build_object('state', ${AWARDED}, 'round', t.round, 'awardId', w.award_id, 'cost', w.cost,
         'etaMs', w.eta_ms, 'dueAt', w.work_due, 'answers', $10::jsonb)
       else jsonb_build_object('state', ${QUEUED}, 'round', t.round) || $9::jsonb end
   from t left join w on true`,
  '(select capability from t)',
)}
select ${taskColumns('t')}, (select notices from ev_n) as notices from t`;

/** The deferred bids a round's agents posted before replyBy (only read when someone deferred). */
const POSTED_SQL = `select id, type, cost, eta_ms, confidence, valid_until, reason, received_at from bids where id = any($1::uuid[])`;

export async function readPostedBids(database: Database, bidIds: string[]): Promise<Map<string, PostedBid>> {
  if (!bidIds.length) return new Map();
  const rows = await database.query<{
    id: string;
    type: string;
    cost: number | null;
    eta_ms: number | null;
    confidence: number | null;
    valid_until: Date | string | null;
    reason: string | null;
    received_at: Date | string;
  }>(POSTED_SQL, [`{${bidIds.join(',')}}`]);
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        type: r.type,
        cost: r.cost,
        etaMs: r.eta_ms,
        confidence: r.confidence,
        validUntil: r.valid_until === null ? null : new Date(r.valid_until).getTime(),
        reason: r.reason,
        receivedAt: new Date(r.received_at).getTime(),
      },
    ]),
  );
}

export type Closing = {
  /** The task as the close left it (awarded or queued); null if the guard did not hold. */
  task: TaskRow | null;
  ranking: Ranking;
  /** The first award, when there was an acceptable bid. */
  award: { awardId: string; workDue: Date } | null;
};

/** Ranks the final bids and closes the round (one statement). */
export async function closeRound(
  database: Database,
  events: EventSink,
  task: TaskRow,
  invitees: Invitee[],
  finals: FinalBid[],
  policy: { managerId: string; timing: AwardTiming; requeueBaseMs: number; requeueCapMs: number },
): Promise<Closing> {
  // By the database's clock, which judges the task's deadline.
  const now = policy.timing.now();
  const proposals = proposalsOf(finals, invitees);
  const ranking = rankBids(
    proposals,
    { budget: task.budget, deadline: task.deadline?.getTime() ?? null, weights: task.weights },
    now,
  );
  const outcome = new Map<string, string>([
    ...ranking.ranked.map((b) => [b.id, 'ranked'] as const),
    ...ranking.unranked.map((u) => [u.bid.id, u.reason] as const),
  ]);
  for (const f of finals) f.outcome = outcome.get(f.id) ?? f.outcome;
  const best: RankedBid | undefined = ranking.ranked[0];
  const offer = best ? offerParam(best, task.deadline, policy.timing) : null;
  const delay = backoffDelay(task.requeues, { baseMs: policy.requeueBaseMs, capMs: policy.requeueCapMs });
  const answers = answersOf(finals);
  const rows = await database.query(CLOSE_SQL, [
    task.id,
    task.round,
    policy.managerId,
    JSON.stringify(
      finals.map((f) => ({
        ...f,
        receivedAt: new Date(f.receivedAt).toISOString(),
        validUntil: f.validUntil === null ? null : new Date(f.validUntil).toISOString(),
        // Agents' words may hold what PostgreSQL refuses; cleaned here, one place for every bid.
        reason: f.reason ? cleanText(f.reason).slice(0, 500) : null,
      })),
    ),
    JSON.stringify(bidStats(finals)),
    offer?.json ?? null,
    proposals.length ? 'no_acceptable_bids' : 'no_bids',
    delay,
    JSON.stringify({
      reason: proposals.length ? 'no_acceptable_bids' : 'no_bids',
      retryInMs: delay,
      bids: countBy(finals.map((f) => f.outcome)),
      answers,
    }),
    JSON.stringify(answers),
  ]);
  const raw = rows[0];
  events.published(raw?.notices);
  return {
    task: raw ? toTaskRow(raw) : null,
    ranking,
    award: raw && offer ? { awardId: offer.awardId, workDue: offer.workDue } : null,
  };
}
