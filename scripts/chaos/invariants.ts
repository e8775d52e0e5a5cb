import type { TaskState } from '../../src/protocol/task.ts';
import { trailError } from '../../src/tasks/audit-trail.ts';
import type { ChaosDatabase } from './chaos-db.ts';

export type Violation = { name: string; count: number; examples: string[] };

const TERMINAL = "('completed','failed','cancelled')";

/** Every invariant the marketplace promises, checked in the database after the run. */
export async function checkInvariants(db: Pick<ChaosDatabase, 'query'>): Promise<Violation[]> {
  const out: Violation[] = [];
  const check = async (name: string, text: string, show: (r: Record<string, unknown>) => string) => {
    const rows = await db.query(text);
    out.push({ name, count: rows.length, examples: rows.slice(0, 3).map(show) });
  };
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
