import type { Database } from '../db/client.ts';
import { eligibleAgentsCte, eventCtes, fromStates, toState } from '../db/sql-fragments.ts';
import type { EventSink } from '../events/event-publisher.ts';
import type { StandingOffer } from '../protocol/agent.ts';
import { reputation } from '../registry/reputation.ts';
import { backoffSql } from '../resilience/backoff.ts';
import { NEW_TASK_COLUMNS, type NewTask, newTaskRecord, newTaskValues } from '../tasks/new-task.ts';
import { taskColumns, toTaskRow } from '../tasks/task-rows.ts';
import type { TaskRow } from '../tasks/task-view.ts';
import type { Invitee } from './round-types.ts';

/** How a round may be opened: from the state (and round) the caller saw. */
export type RoundStart = {
  state: 'pending' | 'queued' | 'bidding';
  round: number;
  /** The client key that owns the task (its callbackKey; null: keys off): whose share of the slots it bids in. */
  owner: string | null;
};

/** What opening a round did: invited agents, queued the task (no one eligible), or nothing. */
export type Opening =
  | { kind: 'opened'; task: TaskRow; invitees: Invitee[] }
  | { kind: 'queued'; task: TaskRow }
  | { kind: 'pending'; task: TaskRow }
  | { kind: 'skipped' };

/** What the statements need besides the task: who we are and the timing policy. */
export type OpenPolicy = {
  managerId: string;
  /** Agents this manager's breakers will not invite now (open circuits). */
  uninvitable: string[];
  leaseSlackMs: number;
  requeueBaseMs: number;
  requeueCapMs: number;
  /** Agents one round invites at most (MAX_INVITEES). */
  maxInvitees: number;
};

const pgArray = (ids: string[]) => `{${ids.join(',')}}`;

/** The invitees a statement returns, joined to their invitation rows. */
const INVITEES = `(select coalesce(json_agg(json_build_object('id', e.id, 'endpoint', e.endpoint, 'kid', e.token_kid,
    'offer', case when e.protocol = 'a2a' then e.standing_offer end,
    'completions', e.completions, 'failures', e.failures, 'bidId', i.id)), '[]')::text
  from inv i join elig e on e.id = i.agent_id) as invitees`;

/** The states opening writes: a round under way (announce), or the queue when nobody is eligible. */
const BIDDING = toState('announce');
const QUEUED = toState('enqueue');

const BIDDING_DATA = (t: string) => `jsonb_build_object('state', ${BIDDING}, 'round', ${t}.round,
  'invited', (select coalesce(jsonb_agg(id), '[]') from elig), 'replyBy',
  to_char(${t}.reply_by at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/**
 * Opens a round on an existing task in one statement: picks the eligible agents, moves the task
 * to `bidding` (round + 1, reply_by, round lease) with an invitation row per agent (their cfps
 * are counted when the round closes, with their answers) and writes `round.opened`; with no one eligible it queues the task instead (from pending
 * or bidding; a queued task simply waits for its next auction). The guard is the state and
 * round the caller saw (and, taking over, that this manager holds the lease).
 */
const OPEN_SQL = `
with cur as (
  select id, capability, excluded_agents, requeues, parent_agent_id from tasks
  where id = $1 and state = $2::task_state and round = $3::int and ($2 <> ${BIDDING} or round_owner = $4)
), d as (select ${backoffSql('requeues', '$7', '$8')} as ms from cur),
${eligibleAgentsCte('elig', '(select capability from cur)', "($5::uuid[] || coalesce((select array_remove(array[parent_agent_id], null) from cur), '{}'::uuid[]))", '$9::int', '(select excluded_agents from cur)::uuid[]')},
t as (
  update tasks set
    state = case when exists (select 1 from elig) then ${BIDDING} else ${QUEUED} end::task_state,
    round = round + case when exists (select 1 from elig) then 1 else 0 end,
    reply_by = case when exists (select 1 from elig) then now() + bid_window_ms * interval '1 millisecond' else reply_by end,
    round_owner = case when exists (select 1 from elig) then $4 end,
    round_lease_until = case when exists (select 1 from elig)
      then now() + (bid_window_ms + $6::int) * interval '1 millisecond' end,
    queued_reason = case when exists (select 1 from elig) then null else 'no_eligible_agents' end,
    next_auction_at = case when exists (select 1 from elig) then null
      else now() + (select ms from d) * interval '1 millisecond' end,
    requeues = requeues + case when exists (select 1 from elig) then 0 else 1 end,
    updated_at = now(), callback_due_at = null
  where id = $1 and state = $2::task_state and round = $3::int and ($2 <> ${BIDDING} or round_owner = $4)
    and state in (${fromStates('announce')})
    and (exists (select 1 from elig) or $2 <> ${QUEUED})
  returning *
), inv as (
  insert into bids (id, task_id, round, agent_id, type, outcome)
  select gen_random_uuid(), t.id, t.round, elig.id, 'no_reply', 'pending' from t, elig where t.state = ${BIDDING}
  returning id, agent_id
), abandoned as (
  -- Taking over: the dead manager's round never closed; its invitations end as no_reply.
  update bids set outcome = 'no_reply', reason = 'the round was taken over: its manager stopped before closing it'
  from t where $2 = ${BIDDING} and bids.task_id = t.id and bids.round = $3::int and bids.outcome = 'pending'
), ${eventCtes(
  'ev',
  `select t.id, null::uuid,
     case when t.state = ${BIDDING} then 'round.opened' else 'task.queued' end,
     case when t.state = ${BIDDING} then ${BIDDING_DATA('t')}
       else jsonb_build_object('state', ${QUEUED}, 'round', t.round, 'reason', 'no_eligible_agents',
         'retryInMs', (select ms from d)) end
   from t`,
  '(select capability from t)',
)}
select ${taskColumns('t')}, ${INVITEES}, (select notices from ev_n) as notices from t`;

/**
 * Submission and, when a round slot is free, its first round in one statement: the task is
 * inserted straight into `bidding` with its invitations (or `queued`, no one eligible), with
 * both events. Without a slot it is inserted `pending` and the round opens when one frees, or,
 * with no room left to wait (`$28` false), not at all. A task no agent could bid on is queued at
 * once either way: it needs no slot, so a burst of them neither fills the round queue nor is
 * refused. No row: the idempotency key was already used (the caller looks the first task up),
 * or the task was refused.
 */
const SUBMIT_SQL = `
with r as (select * from jsonb_populate_record(null::tasks, $1::jsonb)),
${eligibleAgentsCte('elig0', `($1::jsonb->>'capability')`, '$3::uuid[]', '$9::int')},
elig as (select * from elig0 where $7::boolean),
x as (
  select case when not exists (select 1 from elig0) then ${QUEUED} when $7::boolean then ${BIDDING}
    when $10::boolean then 'pending' end::task_state as state,
    ${backoffSql('0', '$5', '$6')} as ms
), ins as (
  insert into tasks (${NEW_TASK_COLUMNS},
    state, round, reply_by, round_owner, round_lease_until, queued_reason, next_auction_at, requeues)
  select ${newTaskValues('r')},
    x.state, case when x.state = ${BIDDING} then 1 else 0 end,
    case when x.state = ${BIDDING} then now() + r.bid_window_ms * interval '1 millisecond' end,
    case when x.state = ${BIDDING} then $2 end,
    case when x.state = ${BIDDING} then now() + (r.bid_window_ms + $4::int) * interval '1 millisecond' end,
    case when x.state = ${QUEUED} then 'no_eligible_agents' end,
    case x.state when 'pending' then now() + $8::int * interval '1 millisecond'
      when ${QUEUED} then now() + x.ms * interval '1 millisecond' end,
    case when x.state = ${QUEUED} then 1 else 0 end
  from x, r where x.state is not null
  on conflict do nothing
  returning *
), par as (
  -- A subtask is listed in its parent's children by the statement that creates it.
  update tasks set children = tasks.children || ins.id from ins where tasks.id = ins.parent_id
), inv as (
  insert into bids (id, task_id, round, agent_id, type, outcome)
  select gen_random_uuid(), ins.id, 1, elig.id, 'no_reply', 'pending' from ins, elig where ins.state = ${BIDDING}
  returning id, agent_id
), ${eventCtes(
  'ev',
  `select ins.id, null::uuid, v.type, v.data from ins cross join lateral (values
     (1, 'task.submitted', jsonb_build_object('state', 'pending', 'capability', ins.capability)),
     (2, case when ins.state = ${BIDDING} then 'round.opened' else 'task.queued' end,
      case when ins.state = ${BIDDING} then ${BIDDING_DATA('ins')}
        else jsonb_build_object('state', ${QUEUED}, 'round', 0, 'reason', 'no_eligible_agents',
          'retryInMs', (select ms from x)) end)
   ) as v(ord, type, data)
   where v.ord = 1 or ins.state <> 'pending'
   order by v.ord`,
  '(select capability from ins)',
)}
select ${taskColumns('ins')}, ${INVITEES}, (select notices from ev_n) as notices from ins`;

function openingOf(rows: Record<string, unknown>[]): Opening {
  const raw = rows[0];
  if (!raw) return { kind: 'skipped' };
  const task = toTaskRow(raw);
  if (task.state === 'queued') return { kind: 'queued', task };
  if (task.state === 'pending') return { kind: 'pending', task };
  const invited = JSON.parse(String(raw.invitees)) as {
    id: string;
    endpoint: string;
    kid: string | null;
    completions: number;
    failures: number;
    bidId: string;
    offer: StandingOffer | null;
  }[];
  return {
    kind: 'opened',
    task,
    invitees: invited.map((i) => ({
      id: i.id,
      endpoint: i.endpoint,
      kid: i.kid,
      bidId: i.bidId,
      reputation: reputation(i.completions, i.failures),
      ...(i.offer ? { a2a: { offer: i.offer } } : {}),
    })),
  };
}

/** Opens the next round of an existing task from where the caller saw it (one statement). */
export async function openRound(
  database: Database,
  events: EventSink,
  taskId: string,
  from: RoundStart,
  policy: OpenPolicy,
): Promise<Opening> {
  const rows = await database.query(OPEN_SQL, [
    taskId,
    from.state,
    from.round,
    policy.managerId,
    pgArray(policy.uninvitable),
    policy.leaseSlackMs,
    policy.requeueBaseMs,
    policy.requeueCapMs,
    policy.maxInvitees,
  ]);
  events.published(rows[0]?.notices);
  return openingOf(rows);
}

/**
 * Inserts a submitted task and, if `open`, opens its first round in the same statement; without
 * `open` it waits `pending` for a slot only if `mayWait`. `skipped` means the idempotency key was
 * taken by an earlier task, or (without `mayWait`) that the task would have had to wait.
 */
export async function insertTask(
  database: Database,
  events: EventSink,
  t: NewTask,
  open: boolean,
  mayWait: boolean,
  policy: OpenPolicy & { backstopMs: number },
): Promise<Opening> {
  const rows = await database.query(SUBMIT_SQL, [
    JSON.stringify(newTaskRecord(t)),
    policy.managerId,
    pgArray(t.parent ? [...policy.uninvitable, t.parent.agentId] : policy.uninvitable),
    policy.leaseSlackMs,
    policy.requeueBaseMs,
    policy.requeueCapMs,
    open,
    policy.backstopMs,
    policy.maxInvitees,
    mayWait,
  ]);
  events.published(rows[0]?.notices);
  return openingOf(rows);
}
