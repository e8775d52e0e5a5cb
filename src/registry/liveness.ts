import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { eventCtes } from '../db/sql-fragments.ts';
import type { EventSink } from '../events/event-publisher.ts';

/** After this many AGENT_TTL_MS of silence an inactive agent's name may be taken by a new registration. */
export const NAME_RELEASE_TTLS = 10;

/** How often an agent is asked to heartbeat: three beats per AGENT_TTL_MS, so one lost beat is not silence. */
export const heartbeatIntervalOf = (ttlMs: number): number => Math.max(250, Math.floor(ttlMs / 3));

/**
 * Agents heard from since the last flush are seen now; one reactivated by it gets `agent.active`
 * (a pull-only agent claiming, a holder reporting), so the trail shows each change of status.
 */
const SEEN_SQL = `
with old as (
  select id, status from agents
  where id = any($1::uuid[]) and status in ('active', 'draining', 'inactive')
  -- In id order, and no stronger than the update needs: FOR UPDATE would also block the KEY SHARE
  -- locks that every bid, award and counter row referencing an agent takes (a submission
  -- inviting these agents deadlocked with this flush under load).
  order by id
  for no key update
), seen as (
  update agents a set last_seen_at = now(),
    status = case when old.status = 'inactive' then 'active'::agent_status else old.status end,
    updated_at = case when old.status = 'inactive' then now() else a.updated_at end
  from old where a.id = old.id
  returning a.id, a.name, old.status as was
), ${eventCtes('ev', "select null::uuid, id, 'agent.active', jsonb_build_object('name', name) from seen where was = 'inactive'", 'null')}
select (select notices from ev_n) as notices`;

/**
 * Active agents silent for longer than the TTL become inactive, each with an `agent.inactive`
 * event (the registry hears it: lists of what is on offer go stale).
 */
const INACTIVE_SQL = `
with gone as (
  update agents set status = 'inactive', updated_at = now()
  where status = 'active' and last_seen_at < now() - $1::int * interval '1 millisecond'
  returning id, name, last_seen_at
), ${eventCtes(
  'ev',
  `select null::uuid, id, 'agent.inactive', jsonb_build_object('name', name, 'lastSeenAt',
    to_char(last_seen_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) from gone`,
  'null',
)}
select (select count(*) from gone)::int as gone, (select notices from ev_n) as notices`;

/**
 * Agent liveness: who was heard from is gathered in memory and written once per beat (not a
 * write per call), and agents silent past AGENT_TTL_MS are marked inactive. Every manager runs
 * one; both statements are idempotent, so managers sharing a database need no coordination.
 */
export class Liveness {
  private heardFrom = new Set<string>();
  private timer?: NodeJS.Timeout;
  private beat?: Promise<void>;

  constructor(
    private readonly database: Database,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly events: EventSink,
  ) {}

  /** The agent answered a call or made an authenticated request. */
  heard(agentId: string): void {
    if (this.heardFrom.size < 100_000) this.heardFrom.add(agentId);
  }

  start(): void {
    this.timer = setInterval(
      () => {
        this.beat ??= this.tick()
          .catch((err: unknown) => this.logger.warn({ err }, 'liveness check failed'))
          .finally(() => {
            this.beat = undefined;
          });
      },
      Math.min(5000, Math.max(100, Math.floor(this.ttlMs / 4))),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beat;
    await this.flush().catch(() => {});
  }

  /** Writes who was heard from, then marks the silent inactive. */
  async tick(): Promise<void> {
    await this.flush();
    const [row] = await this.database.query<{ gone: number; notices: unknown }>(INACTIVE_SQL, [this.ttlMs]);
    this.events.published(row?.notices);
    if (row?.gone) this.logger.info({ agents: row.gone }, 'agents not heard from are inactive');
  }

  private async flush(): Promise<void> {
    if (!this.heardFrom.size) return;
    const ids = [...this.heardFrom];
    this.heardFrom = new Set();
    const [row] = await this.database.query<{ notices: unknown }>(SEEN_SQL, [`{${ids.join(',')}}`]);
    this.events.published(row?.notices);
  }
}
