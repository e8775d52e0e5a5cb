import type { agents } from '../db/schema.ts';
import type { Agent, CircuitState } from '../protocol/agent.ts';
import { reputation } from './reputation.ts';

export type AgentRow = typeof agents.$inferSelect;

/** The wire form of an agent; `circuit` is this manager's view of its breaker. */
export function toAgentView(row: AgentRow, circuit: CircuitState): Agent {
  return {
    id: row.id,
    name: row.name,
    endpoint: row.endpoint,
    capabilities: row.capabilities,
    maxConcurrency: row.maxConcurrency,
    description: row.description,
    card: row.a2aCard ?? null,
    protocol: row.protocol,
    offer: row.standingOffer ?? null,
    status: row.status,
    circuit,
    running: row.running,
    lastHeartbeatAt: row.lastHeartbeatAt?.toISOString() ?? null,
    lastSeenAt: row.lastSeenAt.toISOString(),
    stats: {
      cfps: row.cfps,
      proposals: row.proposals,
      refusals: row.refusals,
      noReplies: row.noReplies,
      awards: row.awards,
      completions: row.completions,
      failures: row.failures,
      reputation: reputation(row.completions, row.failures),
    },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
