import { eq, getTableColumns, type SQL, sql } from 'drizzle-orm';
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
      ), sums as (
        select agent_id, sum(cfps) as cfps, sum(proposals) as proposals, sum(refusals) as refusals,
          sum(no_replies) as no_replies, sum(awards) as awards, sum(completions) as completions,
          sum(failures) as failures, count(*) as n
        from taken group by agent_id
      ), updated as (
        update agents a set cfps = a.cfps + s.cfps, proposals = a.proposals + s.proposals,
          refusals = a.refusals + s.refusals, no_replies = a.no_replies + s.no_replies,
          awards = a.awards + s.awards, completions = a.completions + s.completions,
          failures = a.failures + s.failures
        from sums s where a.id = s.agent_id
      )
      select coalesce(sum(n), 0)::int as n from sums`,
    );
    return folded?.n ?? 0;
  });
}

/**
 * Each agent's ledger rows not yet folded in, summed per field, for a lateral join on `agents`:
 * it sums only that agent's own rows (by index), not the whole ledger.
 */
function pendingStats<F extends StatField>(ex: Executor, fields: readonly F[]) {
  const d = agentStatDeltas;
  const sums = Object.fromEntries(
    fields.map((f) => [f, sql<number>`coalesce(sum(${d[f]}), 0)`.as(`pending_${f}`)]),
  ) as Record<F, SQL.Aliased<number>>;
  const pending = ex.select(sums).from(d).where(eq(d.agentId, agents.id)).as('pending');
  const totals = Object.fromEntries(
    fields.map((f) => [f, sql<number>`${agents[f]} + ${pending[f]}`.mapWith(Number)]),
  ) as Record<F, SQL<number>>;
  return { pending, totals };
}

/**
 * `select` of agents whose counters include the ledger rows not yet folded in: one statement,
 * so a roll-up committing meanwhile can neither hide a count nor show it twice.
 */
export function selectAgentsWithStats(ex: Executor) {
  const { pending, totals } = pendingStats(ex, STAT_FIELDS);
  return ex
    .select({ ...getTableColumns(agents), ...totals })
    .from(agents)
    .leftJoinLateral(pending, sql`true`)
    .$dynamic();
}
