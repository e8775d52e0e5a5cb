import { sql } from 'drizzle-orm';
import { stateAfter, statesAllowing, type TaskAction } from '../tasks/state-machine.ts';
import { literals } from './sql-lists.ts';

/**
 * Pieces of the hot statements, written once at module load so every call sends the same text
 * (postgres.js then prepares each statement once per connection).
 */

/**
 * `ms` milliseconds from now by the database's clock (a drizzle SQL value). Every lease and
 * due time is written and judged by that one clock, so managers whose clocks disagree (with
 * each other or with the database) still agree on when a lease has run out.
 */
export const dbNowPlus = (ms: number) => sql`now() + ${Math.round(ms)}::int * interval '1 millisecond'`;

/** The database's clock, for comparing with the timestamps written by `dbNowPlus`. */
export const DB_NOW = sql`now()`;

/** `'a','b'`: the states a task may be in for `action`, from the pure state machine. */
export const fromStates = (action: TaskAction): string => literals(statesAllowing(action));

/** `'awarded'`: the state `action` writes, from the pure state machine, as a SQL literal. */
export const toState = (action: TaskAction): string => literals([stateAfter(action)]);

/**
 * Two CTEs: `name` appends events (rows of `select`, which yields task_id, agent_id, type, data)
 * and `name_n` gathers their notices (json array column `notices`) for the EventPublisher, which
 * delivers them once the statement has committed. The statement selects
 * `(select notices from name_n) as notices`.
 */
export function eventCtes(name: string, select: string, capability: string): string {
  return `${name} as (
    insert into events (task_id, agent_id, type, data) ${select}
    returning id, task_id, agent_id, type, data
  ), ${name}_n as (
    select coalesce(json_agg(json_build_object('id', e.id, 'taskId', e.task_id, 'agentId', e.agent_id,
      'type', e.type, 'capability', ${capability}, 'state', e.data->>'state') order by e.id), '[]'::json) as notices
    from ${name} e
  )`;
}

/**
 * The agents a round may invite for task capability `cap` (SQL expression): active, reachable
 * (not pull-only), not in `blocked` (a uuid[] expression: open circuits), and not in `failed`
 * (agents that failed this task) while anyone else can be invited: with no one else, a task
 * goes back to the agents that failed it rather than wait for ever (PROTOCOL.md, round step 1).
 * With their completions and failures, the ledger rows not yet folded included (reputation).
 * At most `max` (an int expression) of them, picked at random: a round's cost (and the copies
 * of a task's input it sends) is bounded however many agents register for one capability.
 */
export function eligibleAgentsCte(
  name: string,
  cap: string,
  blocked: string,
  max: string,
  failed = "'{}'::uuid[]",
): string {
  return `${name}_all as (
    select a.id, a.endpoint, a.token_kid, a.protocol, a.standing_offer, a.completions + coalesce(p.completions, 0) as completions,
      a.failures + coalesce(p.failures, 0) as failures
    from agents a left join lateral (
      select sum(d.completions)::int as completions, sum(d.failures)::int as failures
      from agent_stat_deltas d where d.agent_id = a.id and (d.completions <> 0 or d.failures <> 0)
    ) p on true
    where a.status = 'active' and a.endpoint is not null and a.capability_names @> array[${cap}]::text[]
      and not (a.id = any(${blocked}))
  ), ${name} as (
    select * from ${name}_all x where not (x.id = any(${failed}))
      or not exists (select 1 from ${name}_all y where not (y.id = any(${failed})))
    order by random() limit ${max}
  )`;
}
