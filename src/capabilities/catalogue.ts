import type { Database } from '../db/client.ts';
import type { Capability, CircuitState } from '../protocol/agent.ts';
import type { Catalogue, CatalogueEntry } from '../protocol/catalogue.ts';

/** The awards the catalogue's recent figures are taken over: the market's last ones (ids are time-ordered). */
export const RECENT_AWARDS = 5000;
/** How long the catalogue is served from memory. */
const CACHE_MS = 2000;

const AGENTS_SQL = `select id, capabilities, endpoint, last_seen_at from agents where status = 'active' limit 10000`;

const RECENT_SQL = `
select t.capability, count(*)::int as awards,
  percentile_cont(0.5) within group (order by a.cost) as median_cost,
  percentile_cont(0.5) within group (order by a.eta_ms) as median_eta_ms,
  count(*) filter (where a.status = 'completed')::float8
    / nullif(count(*) filter (where a.status in ('completed', 'failed', 'expired')), 0) as completion_rate
from (select id, task_id, cost, eta_ms, status from awards order by id desc limit ${RECENT_AWARDS}) a
join tasks t on t.id = a.task_id
group by t.capability`;

type AgentRow = {
  id: string;
  capabilities: Capability[];
  endpoint: string | null;
  last_seen_at: string | Date;
};
type RecentRow = {
  capability: string;
  awards: number;
  median_cost: number | null;
  median_eta_ms: number | null;
  completion_rate: number | null;
};

/** Builds the catalogue from the active agents' profiles and the market's recent awards (pure). */
export function buildCatalogue(
  agents: readonly AgentRow[],
  recent: readonly RecentRow[],
  reachable: (agent: AgentRow) => boolean,
): Catalogue {
  const byName = new Map<string, CatalogueEntry & { keys: Map<string, number> }>();
  for (const a of agents) {
    const up = reachable(a);
    for (const c of a.capabilities) {
      let e = byName.get(c.name);
      if (!e) {
        e = {
          name: c.name,
          description: null,
          tags: [],
          schemas: [],
          agents: 0,
          reachable: 0,
          recent: { awards: 0, medianCost: null, medianEtaMs: null, completionRate: null },
          keys: new Map(),
        };
        byName.set(c.name, e);
      }
      e.description ??= c.description ?? null;
      for (const t of c.tags ?? []) if (!e.tags.includes(t) && e.tags.length < 32) e.tags.push(t);
      e.agents++;
      if (up) e.reachable++;
      if (c.inputSchema || c.outputSchema) {
        const key = JSON.stringify([c.inputSchema ?? null, c.outputSchema ?? null]);
        const at = e.keys.get(key);
        if (at !== undefined) e.schemas[at]!.agents++;
        else if (e.schemas.length < 10) {
          e.keys.set(key, e.schemas.length);
          e.schemas.push({
            inputSchema: c.inputSchema ?? null,
            outputSchema: c.outputSchema ?? null,
            agents: 1,
          });
        }
      }
    }
  }
  for (const r of recent) {
    const e = byName.get(r.capability);
    if (!e) continue;
    e.recent = {
      awards: r.awards,
      medianCost: r.median_cost === null ? null : Number(r.median_cost),
      medianEtaMs: r.median_eta_ms === null ? null : Math.round(Number(r.median_eta_ms)),
      completionRate: r.completion_rate === null ? null : Number(r.completion_rate),
    };
  }
  const items = [...byName.values()]
    .map(({ keys: _keys, ...e }) => e)
    .sort((a, b) => a.name.localeCompare(b.name))
    .slice(0, 500);
  return { items };
}

/**
 * `GET /v1/capabilities`: every capability active agents offer, with its schemas, its agents
 * (reachable now: heard from within AGENT_TTL_MS and not behind an open circuit on this
 * manager) and its recent price, time and completion rate. Read at most once per CACHE_MS.
 */
export class CapabilityCatalogue {
  private cached: { at: number; catalogue: Promise<Catalogue> } | null = null;

  constructor(
    private readonly database: Database,
    private readonly circuitOf: (agentId: string) => CircuitState,
    private readonly ttlMs: number,
  ) {}

  read(): Promise<Catalogue> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < CACHE_MS) return this.cached.catalogue;
    const catalogue = Promise.all([
      this.database.query<AgentRow>(AGENTS_SQL, []),
      this.database.query<RecentRow>(RECENT_SQL, []),
    ]).then(([agents, recent]) =>
      buildCatalogue(
        agents,
        recent,
        (a) =>
          this.circuitOf(a.id) !== 'open' && Date.now() - new Date(a.last_seen_at).getTime() < this.ttlMs,
      ),
    );
    this.cached = { at: now, catalogue };
    catalogue.catch(() => {
      if (this.cached?.catalogue === catalogue) this.cached = null;
    });
    return catalogue;
  }
}
