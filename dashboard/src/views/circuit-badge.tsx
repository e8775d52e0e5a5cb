import type { CircuitState } from '../../../src/protocol/agent.ts';

/** A breaker's state in colour: green closed, amber half-open, red open. */
export function CircuitBadge({ state }: { state: CircuitState }) {
  return (
    <span class={`badge circuit-${state}`} data-circuit={state}>
      {state}
    </span>
  );
}
