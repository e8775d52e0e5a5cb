import type { Agent } from '../../../src/protocol/agent.ts';
import { CircuitBadge } from './circuit-badge.tsx';

/** Every registered agent: what it offers, its breaker, how it has done. */
export function AgentsPanel({ agents }: { agents: Agent[] | undefined }) {
  return (
    <section class="panel agents" aria-labelledby="agents-title">
      <h2 id="agents-title">Agents {agents ? <small>({agents.length})</small> : null}</h2>
      {!agents ? (
        <p class="muted">Loading agents...</p>
      ) : agents.length === 0 ? (
        <p class="muted">No agents registered yet. Start one with `npm run agent -- calculator`.</p>
      ) : (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th class="wide-only">Capabilities</th>
                <th>Circuit</th>
                <th class="num">Reputation</th>
                <th>Load</th>
                <th class="num">Wins</th>
                <th class="num">Done</th>
                <th class="num">Failures</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((a) => (
                <tr key={a.id} data-agent={a.name} class={a.status !== 'active' ? 'inactive' : ''}>
                  <td>
                    <strong>{a.name}</strong>
                    {a.status !== 'active' ? <small class="muted"> {a.status}</small> : null}
                  </td>
                  <td class="wide-only">
                    {a.capabilities.map((c) => (
                      <span class="chip" key={c.name} title={c.description}>
                        {c.name}
                      </span>
                    ))}
                  </td>
                  <td>
                    <CircuitBadge state={a.circuit} />
                  </td>
                  <td class="num">{a.stats.reputation.toFixed(2)}</td>
                  <td>
                    <Load running={a.running} max={a.maxConcurrency} />
                  </td>
                  <td class="num">{a.stats.awards}</td>
                  <td class="num">{a.stats.completions}</td>
                  <td class="num">{a.stats.failures}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Load({ running, max }: { running: number; max: number }) {
  const share = max > 0 ? Math.min(1, running / max) : 0;
  return (
    <span class="load" title={`${running} of ${max} running`}>
      <span class="load-bar">
        <span style={{ width: `${Math.round(share * 100)}%` }} />
      </span>
      {running}/{max}
    </span>
  );
}
