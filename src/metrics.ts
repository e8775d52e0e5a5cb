import { sql } from 'drizzle-orm';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Db } from './db/client.ts';
import { queryRows } from './db/client.ts';

/** The manager's Prometheus metrics; one registry per manager so tests can run several. */
export function createMetrics(db: Db) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const circuitTransitions = new Counter({
    name: 'cnp_circuit_transitions_total',
    help: 'Agent circuit breaker transitions seen by this manager',
    labelNames: ['state'],
    registers: [registry],
  });
  new Gauge({
    name: 'cnp_tasks',
    help: 'Tasks by state (all managers on the database)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const rows = await queryRows<{ state: string; n: string | number }>(
        db,
        sql`select state::text as state, count(*) as n from tasks group by state`,
      );
      this.reset();
      for (const r of rows) this.set({ state: r.state }, Number(r.n));
    },
  });
  return {
    circuitTransitions,
    text: () => registry.metrics(),
  };
}
