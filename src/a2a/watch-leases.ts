import type { Database } from '../db/client.ts';
import { quoted } from '../db/sql-lists.ts';
import { LIVE_AWARD_STATUSES } from '../protocol/states.ts';

/**
 * A remote A2A task is followed by one manager at a time: the one holding its award's watch
 * lease, renewed while it follows; a lease that ran out (its manager stopped) is adopted.
 */
/** How long a manager's watch of a remote task lasts unrenewed: past it, another manager takes it. */
export const WATCH_LEASE_MS = 15_000;

/** An award whose work runs as a task on an A2A agent. */
export type Watch = { awardId: string; taskId: string; agentId: string; remoteTaskId: string };

const LIVE = quoted(LIVE_AWARD_STATUSES);

const SET_REMOTE_SQL = `update awards set remote_task_id = $2, watch_owner = $3,
  watch_lease_until = now() + $4::int * interval '1 millisecond'
  where id = $1 and status in ${LIVE}`;

const RENEW_SQL = `update awards set watch_lease_until = now() + $3::int * interval '1 millisecond'
  where id = $1 and watch_owner = $2 and status in ${LIVE} returning id`;

/** Remote tasks no live manager follows (their watcher's manager stopped): this one takes them. */
const ORPHANS_SQL = `
with o as (
  select id from awards
  where watch_lease_until < now() and remote_task_id is not null and live
  order by watch_lease_until limit 50 for update skip locked
)
update awards a set watch_owner = $1, watch_lease_until = now() + $2::int * interval '1 millisecond'
from o where a.id = o.id
returning a.id, a.task_id, a.agent_id, a.remote_task_id`;

/** Records the remote task of a live award, followed by `managerId`. */
export async function hold(
  database: Database,
  awardId: string,
  remoteTaskId: string,
  managerId: string,
): Promise<void> {
  await database.query(SET_REMOTE_SQL, [awardId, remoteTaskId, managerId, WATCH_LEASE_MS]);
}

/** Renews the lease; empty when the award ended or another manager follows it now. */
export function renew(database: Database, awardId: string, managerId: string): Promise<unknown[]> {
  return database.query(RENEW_SQL, [awardId, managerId, WATCH_LEASE_MS]);
}

/** Takes up to 50 remote tasks whose watch lease ran out. */
export async function adoptOrphans(database: Database, managerId: string): Promise<Watch[]> {
  const rows = await database.query<{
    id: string;
    task_id: string;
    agent_id: string;
    remote_task_id: string;
  }>(ORPHANS_SQL, [managerId, WATCH_LEASE_MS]);
  return rows.map((r) => ({
    awardId: r.id,
    taskId: r.task_id,
    agentId: r.agent_id,
    remoteTaskId: r.remote_task_id,
  }));
}
