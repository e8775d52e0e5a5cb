import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { agentStatDeltas, agents } from '../db/schema.ts';
import type { SweepJob } from '../sweeper/sweep-job.ts';

export const STAT_FIELDS = [
  'cfps',
  'proposals',
  'refusals',
  'noReplies',
  'awards',
  'completions',
  'failures',
] as const;
export type StatField = (typeof STAT_FIELDS)[number];
export type StatDelta = { agentId: string } & Partial<Record<StatField, number>>;

/**
 * Counts outcomes for agents inside the caller's transaction. It appends ledger rows instead of
 * updating `agents`: an update would hold the agent's row lock until commit, and every round
 * over the same agents would wait for it.
 */
export async function addAgentStats(tx: Executor, deltas: StatDelta[]): Promise<void> {
  const rows = deltas.filter((d) => STAT_FIELDS.some((f) => d[f]));
  if (rows.length) await tx.insert(agentStatDeltas).values(rows);
}

/**
 * The counted rows of ledger rows `from` (a table or CTE name), one per agent and row: an agent's
 * own rows as they are, and each invitee of a round's `batch` (cfps and answers only).
 */
const COUNTED_ROWS = (from: string) =>
  sql.raw(`
  select agent_id, cfps, proposals, refusals, no_replies, awards, completions, failures
  from ${from} where batch is null
  union all
  select x."agentId", x.cfps, x.proposals, x.refusals, x."noReplies", 0, 0, 0
  from ${from} d cross join lateral jsonb_to_recordset(d.batch)
    as x("agentId" uuid, cfps int, proposals int, refusals int, "noReplies" int)
  where d.batch is not null`);

/** Advisory lock key of the roll-up, so managers sharing a database take turns. */
const ROLL_UP_LOCK = 0x636e7073; // 'cnps'

/** Keeps the ledger short (at most once a second), so reads that add its pending rows stay cheap. */
export function agentStatsFold(db: Db): SweepJob {
  let lastFold = 0;
  return {
    name: 'ledger',
    probe: 'exists (select 1 from agent_stat_deltas)',
    ready: (now) => now - lastFold >= 1000,
    async run() {
      lastFold = Date.now();
      while ((await rollUpAgentStats(db, 5000)) === 5000) {}
    },
  };
}

/**
 * Folds up to `limit` ledger rows into the agents' counters in one transaction. One manager at a
 * time (an advisory lock; the others skip): two roll-ups updating the same agents in different
 * orders could deadlock. Returns how many rows it folded.
 */
export async function rollUpAgentStats(db: Db, limit = 10_000): Promise<number> {
  return db.transaction(async (tx) => {
    const [lock] = await queryRows<{ ok: boolean }>(
      tx,
      sql`select pg_try_advisory_xact_lock(${ROLL_UP_LOCK}) as ok`,
    );
    if (!lock?.ok) return 0;
    const [folded] = await queryRows<{ n: number }>(
      tx,
      sql`
      with taken as (
        delete from agent_stat_deltas
        where id in (select id from agent_stat_deltas order by id limit ${limit})
        returning *
      ), counted as (${COUNTED_ROWS('taken')}
      ), sums as (
        select agent_id, sum(cfps) as cfps, sum(proposals) as proposals, sum(refusals) as refusals,
          sum(no_replies) as no_replies, sum(awards) as awards, sum(completions) as completions,
          sum(failures) as failures
        from counted group by agent_id
      ), updated as (
        update agents a set cfps = a.cfps + s.cfps, proposals = a.proposals + s.proposals,
          refusals = a.refusals + s.refusals, no_replies = a.no_replies + s.no_replies,
          awards = a.awards + s.awards, completions = a.completions + s.completions,
          failures = a.failures + s.failures
        from sums s where a.id = s.agent_id
      )
      select count(*)::int as n from taken`,
    );
    return folded?.n ?? 0;
  });
}

/**
 * Each agent's ledger rows not yet folded in (its own rows and its part of rounds' batches),
 * summed per field, for a lateral join on `agents`. The ledger is short: folded every second.
 */
function pendingStats() {
  const column = (f: StatField) => agentStatDeltas[f].name;
  const sums = STAT_FIELDS.map((f) => `coalesce(sum(u.${column(f)}), 0) as pending_${column(f)}`).join(', ');
  const pending = sql`(select ${sql.raw(sums)} from (${COUNTED_ROWS('agent_stat_deltas')}) u
    where u.agent_id = ${agents.id}) as pending`;
  const totals = Object.fromEntries(
    STAT_FIELDS.map((f) => [
      f,
      sql<number>`${agents[f]} + ${sql.raw(`pending.pending_${column(f)}`)}`.mapWith(Number),
    ]),
  ) as Record<StatField, SQL<number>>;
  return { pending, totals };
}

/**
 * `select` of agents whose counters include the ledger rows not yet folded in: one statement,
 * so a roll-up committing meanwhile can neither hide a count nor show it twice.
 */
export function selectAgentsWithStats(ex: Executor) {
  const { pending, totals } = pendingStats();
  return ex
    .select({ ...getTableColumns(agents), ...totals })
    .from(agents)
    .leftJoinLateral(pending, sql`true`)
    .$dynamic();
}
