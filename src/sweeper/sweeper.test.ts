import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { DbClock } from '../db/db-clock.ts';
import { noMetrics } from '../observability/market-metrics.ts';
import type { CallbackOutbox } from '../tasks/callback-outbox.ts';
import type { SweepPort } from './sweep-port.ts';
import { Sweeper } from './sweeper.ts';

/**
 * A sweep whose first statement the database never answers (it dropped the connection
 * mid-statement; the driver lost the reply) must not stop sweeping for good. The database is
 * faked here: a statement that never returns cannot be produced on demand.
 */
describe('a stuck sweep', () => {
  it('is logged, and the next sweep starts beside it', async () => {
    const probes: number[] = [];
    const idle = { awards: false, deadlines: false, rounds: false, reauction: false, callbacks: false };
    const database = {
      driver: 'pglite',
      query: () => {
        probes.push(Date.now());
        // The first probe hangs for ever; the later ones answer "nothing to do".
        return probes.length === 1
          ? new Promise(() => {})
          : Promise.resolve([{ ...idle, ledger: false, waiting: false, orphans: false, db_ms: Date.now() }]);
      },
    } as unknown as Database;
    const errors: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(line) });
    const sweeper = new Sweeper({
      database,
      port: {} as SweepPort,
      config: { SWEEP_INTERVAL_MS: 10, RESTART_GRACE_MS: 0, TASK_RETENTION_MS: 0 } as Config,
      metrics: noMetrics,
      logger,
      managerId: 'm',
      applicationName: 'contract-net/m',
      callbacks: {} as CallbackOutbox,
      clock: new DbClock(),
    });
    sweeper.start(100);
    await new Promise((r) => setTimeout(r, 400));
    await sweeper.stop();
    expect(probes.length).toBeGreaterThan(5);
    // Nothing started until the first had run for the stuck limit.
    expect(probes[1]! - probes[0]!).toBeGreaterThanOrEqual(95);
    expect(errors.some((e) => e.includes('a sweep has not finished'))).toBe(true);
  });
});
