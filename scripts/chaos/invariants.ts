import type { TaskState } from '../../src/protocol/task.ts';
import { trailError } from '../../src/tasks/audit-trail.ts';
import type { ChaosDatabase } from './chaos-db.ts';

export type Violation = { name: string; count: number; examples: string[] };

const TERMINAL = "('completed','failed','cancelled')";

/** Violations gathered by `check`: a query whose rows are the violations, and how to show one. */
function checker(db: Pick<ChaosDatabase, 'query'>) {
  const out: Violation[] = [];
  const check = async (name: string, text: string, show: (r: Record<string, unknown>) => string) => {
    const rows = await db.query(text);
    out.push({ name, count: rows.length, examples: rows.slice(0, 3).map(show) });
  };
  return { out, check };
}

/** Every invariant the marketplace promises, checked in the database after the run. */
export async function checkInvariants(db: Pick<ChaosDatabase, 'query'>): Promise<Violation[]> {
  const { out, check } = checker(db);
  await check(
    'every task terminal',
    `select id, state::text as state, queued_reason from tasks where state not in ${TERMINAL}`,
    (r) => `${r.id} ${r.state}${r.queued_reason ? ` (${r.queued_reason})` : ''}`,
  );
  await check(
    'no task completed twice',
    `select task_id, count(*)::int as n from awards where status = 'completed' group by task_id having count(*) > 1`,
    (r) => `${r.task_id}: ${r.n} completed awards`,
  );
  await check(
    'no task with two live awards',
    `select task_id, count(*)::int as n from awards where status in ('offered','agreed') group by task_id having count(*) > 1`,
    (r) => `${r.task_id}: ${r.n} live awards`,
  );
  await check(
    'no live award on an ended task',
    `select a.task_id, t.state::text as state from awards a join tasks t on t.id = a.task_id
      where a.status in ('offered','agreed') and t.state in ${TERMINAL}`,
    (r) => `${r.task_id} ${r.state}`,
  );
  await check(
    'a completed task has its one completed award and output',
    `select t.id from tasks t where t.state = 'completed'
      and (t.output is null or not exists (select 1 from awards a where a.task_id = t.id and a.status = 'completed'))`,
    (r) => String(r.id),
  );
  await check(
    'every award to an agent offering the capability',
    `select a.id, a.task_id, t.capability from awards a join tasks t on t.id = a.task_id join agents g on g.id = a.agent_id
      where not (g.capability_names @> array[t.capability])`,
    (r) => `award ${r.id} of ${r.task_id} (${r.capability})`,
  );
  // Each task's states as its events recorded them, oldest first, against the state machine.
  const trails = await db.query(
    `select t.id, t.state::text as final, coalesce(array_agg(e.data->>'state' order by e.id)
        filter (where e.data ? 'state'), '{}') as states
       from tasks t left join events e on e.task_id = t.id group by t.id, t.state`,
  );
  const bad: string[] = [];
  for (const t of trails) {
    const states = (
      typeof t.states === 'string' ? parsePgArray(t.states) : (t.states as string[])
    ) as TaskState[];
    const err = trailError(states, t.final as TaskState);
    if (err) bad.push(`${t.id}: ${err}`);
  }
  out.push({
    name: 'every audit trail a path of the state machine',
    count: bad.length,
    examples: bad.slice(0, 3),
  });
  return out;
}

function parsePgArray(text: string): string[] {
  return text
    .replace(/^\{|\}$/g, '')
    .split(',')
    .filter(Boolean);
}

export type Figures = {
  byState: Record<string, number>;
  /** The honest clients' tasks (not the abusive key's) by final state. */
  honestByState: Record<string, number>;
  failedBy: Record<string, number>;
  awardsBy: Record<string, number>;
  bidsBy: Record<string, number>;
  circuitsOpened: number;
  takeovers: number;
  p50: number;
  p99: number;
  max: number;
};

const tally = (rows: Record<string, unknown>[]) =>
  Object.fromEntries(rows.map((r) => [String(r.k), Number(r.n)]));

export async function gatherFigures(db: Pick<ChaosDatabase, 'query'>): Promise<Figures> {
  const byState = tally(
    await db.query(`select state::text as k, count(*) as n from tasks group by 1 order by 1`),
  );
  // The abuser's tasks are its key's (callback_key is the key's principal); its capabilities are its own.
  const honestByState = tally(
    await db.query(
      `select state::text as k, count(*) as n from tasks where capability not in ('chaos.defer', 'chaos.nobody') group by 1 order by 1`,
    ),
  );
  const failedBy = tally(
    await db.query(
      `select error->>'code' as k, count(*) as n from tasks where state = 'failed' group by 1 order by 1`,
    ),
  );
  const awardsBy = tally(
    await db.query(`select status::text as k, count(*) as n from awards group by 1 order by 1`),
  );
  const bidsBy = tally(
    await db.query(`select outcome as k, count(*) as n from bids group by 1 order by 2 desc`),
  );
  const [c] = await db.query(`select count(*) as n from events where type = 'agent.circuit_opened'`);
  const [k] = await db.query(`select coalesce(sum(takeovers), 0) as n from tasks`);
  const [p] = await db.query(
    `select percentile_disc(0.5) within group (order by ms) as p50, percentile_disc(0.99) within group (order by ms) as p99,
            max(ms) as max
       from (select extract(epoch from (updated_at - created_at)) * 1000 as ms from tasks where state in ${TERMINAL}) x`,
  );
  return {
    byState,
    honestByState,
    failedBy,
    awardsBy,
    bidsBy,
    circuitsOpened: Number(c?.n ?? 0),
    takeovers: Number(k?.n ?? 0),
    p50: Math.round(Number(p?.p50 ?? 0)),
    p99: Math.round(Number(p?.p99 ?? 0)),
    max: Math.round(Number(p?.max ?? 0)),
  };
}

/**
 * The ledger's invariants (ACCOUNTS=true), after every task has ended: the books balance, every
 * escrow is empty, nothing was paid twice or for unfinished work, and each agent earned exactly
 * its completed awards' costs less what its own subtasks cost.
 */
export async function checkLedger(db: Pick<ChaosDatabase, 'query'>): Promise<Violation[]> {
  const { out, check } = checker(db);
  await check(
    'ledger: all entries sum to zero, and each movement is two entries that do',
    `select movement_id::text as m, sum(amount)::text as s, count(*)::int as n from ledger_entries
      group by movement_id having sum(amount) <> 0 or count(*) <> 2
     union all select 'all', sum(amount)::text, count(*)::int from ledger_entries having sum(amount) <> 0`,
    (r) => `${r.m}: ${r.n} entries summing to ${r.s}`,
  );
  await check(
    "ledger: every account's balance is the sum of its entries",
    `select coalesce(a.id, e.account_id) as id, a.balance::text as balance, e.s::text as s
       from accounts a full join (select account_id, sum(amount) as s from ledger_entries
         where account_id not like 'escrow:%' group by 1) e on e.account_id = a.id
      where coalesce(a.balance, 0) <> coalesce(e.s, 0)`,
    (r) => `${r.id}: balance ${r.balance}, entries ${r.s}`,
  );
  await check(
    "ledger: no hold outlives its task (every ended task's escrow is empty)",
    `select t.id, t.state::text as state, sum(e.amount)::text as s from tasks t
       join ledger_entries e on e.account_id = 'escrow:' || t.id
      where t.state in ${TERMINAL} group by t.id, t.state having sum(e.amount) <> 0`,
    (r) => `${r.id} (${r.state}) still holds ${r.s}`,
  );
  await check(
    'ledger: every task with accounts was held, once per hold',
    `select t.id, t.holds, count(e.id)::int as n from tasks t
       left join ledger_entries e on e.task_id = t.id and e.kind = 'hold' and e.amount > 0
      where t.payer is not null and t.budget > 0 group by t.id, t.holds having count(e.id) <> t.holds`,
    (r) => `${r.id}: ${r.holds} holds, ${r.n} hold movements`,
  );
  await check(
    "ledger: paid only for completed tasks, once, at the completed award's cost less its subtasks'",
    `select t.id, t.state::text as state, t.paid::text as paid, a.cost::text as cost from tasks t
       left join awards a on a.task_id = t.id and a.status = 'completed'
      where t.payer is not null and (
        (t.state <> 'completed' and exists (select 1 from ledger_entries e where e.task_id = t.id and e.kind = 'pay' and e.epoch = t.holds))
        or (t.state = 'completed' and t.paid is distinct from coalesce(a.cost, t.budget)::bigint)
        or (select count(*) from ledger_entries e where e.task_id = t.id and e.kind = 'pay' and e.amount > 0) > 1)`,
    (r) => `${r.id} (${r.state}): paid ${r.paid}, award cost ${r.cost}`,
  );
  await check(
    "ledger: each agent's earnings are its completed awards' costs less its subtasks'",
    `select g.id, coalesce(b.balance, 0)::text as balance, (coalesce(w.s, 0) - coalesce(s.s, 0))::text as owed
       from agents g
       left join accounts b on b.id = 'agent:' || g.id
       left join (select a.agent_id, sum(t.paid) as s from awards a join tasks t on t.id = a.task_id
                   where a.status = 'completed' and t.payer is not null group by 1) w on w.agent_id = g.id
       left join (select parent_agent_id, sum(paid) as s from tasks
                   where payer is not null and parent_id is not null and state = 'completed' group by 1) s
         on s.parent_agent_id = g.id
      where coalesce(b.balance, 0) <> coalesce(w.s, 0) - coalesce(s.s, 0)`,
    (r) => `agent ${r.id}: balance ${r.balance}, earned by its awards ${r.owed}`,
  );
  return out;
}

/** Where the money went: issued by the admin, paid to agents, released to clients, by kind of movement. */
export async function gatherMoney(db: Pick<ChaosDatabase, 'query'>): Promise<Record<string, number>> {
  const rows = await db.query(
    `select kind as k, sum(amount) as n from ledger_entries where amount > 0 group by 1 order by 1`,
  );
  return tally(rows);
}
