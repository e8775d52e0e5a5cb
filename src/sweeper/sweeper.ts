import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import type { DbClock } from '../db/db-clock.ts';
import type { MarketMetrics } from '../observability/market-metrics.ts';
import { ClockSkewWatch } from './clock-skew.ts';
import type { SweepJob } from './sweep-job.ts';

/**
 * A sweep still running after this long is taken for stuck (a statement the database never
 * answered, after it dropped a connection): the next sweep starts beside it rather than never.
 */
export const STUCK_SWEEP_MS = 60_000;

export type SweeperDeps = {
  database: Database;
  /** In the order they run: each module that owns overdue work provides its job (sweep-job.ts). */
  jobs: readonly SweepJob[];
  intervalMs: number;
  metrics: MarketMetrics;
  logger: Logger;
  /** This manager's connections' name in pg_stat_activity: any other such name is a peer. */
  applicationName: string;
  /** Whether other managers' connections share the database (PostgreSQL only), at each sweep. */
  peersPresent(present: boolean): void;
  /** Fed by each probe's reading of the database's clock (the rounds turn replyBy with it). */
  clock: DbClock;
};

type Probe = Record<string, boolean | number | undefined> & { db_ms: number; peers?: boolean };

/**
 * The durable backstop for every timer, and nothing more: a scheduler. Each sweep asks, in one
 * statement, which jobs have work (each job's probe, a partial index probe at best) and what
 * time the database has; then runs those jobs, in order. The jobs (awards past due, deadlines,
 * orphaned rounds, re-auctions, callbacks, released dependencies, orphaned subtasks, the agent
 * ledger, retention) belong to the modules whose rules they apply, and take their rows with FOR
 * UPDATE SKIP LOCKED, so managers sharing a database never sweep the same row twice.
 */
export class Sweeper {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private readonly skew = new ClockSkewWatch();
  private readonly probeSql: string;
  /** Sweeps finished so far: a wait for "the backstop has had its chance" counts them. */
  completed = 0;

  constructor(private readonly d: SweeperDeps) {
    const probes = d.jobs.flatMap((job, i) => (job.probe ? [`${job.probe} as j${i}`] : []));
    // This manager's name as a literal, not a parameter: a statement without parameters is
    // planned once per connection, where PostgreSQL planned this one afresh at every sweep
    // (custom plans: 2 ms of its CPU each time, four times a second, busy or idle).
    const self = d.applicationName.replaceAll("'", "''");
    const peers =
      d.database.driver === 'postgres'
        ? [
            `exists (select 1 from pg_stat_activity where datname = current_database()
              and application_name like 'contract-net/%' and application_name <> '${self}') as peers`,
          ]
        : [];
    this.probeSql = `select ${[...probes, ...peers, '(extract(epoch from clock_timestamp()) * 1000)::float8 as db_ms'].join(',\n  ')}`;
  }

  start(stuckMs = STUCK_SWEEP_MS): void {
    let startedAt = 0;
    this.timer = setInterval(() => {
      if (this.ticking && Date.now() - startedAt < stuckMs) return;
      if (this.ticking)
        this.d.logger.error(
          { runningMs: Date.now() - startedAt },
          'a sweep has not finished: starting the next one beside it (its steps lock what they take, so they do not overlap)',
        );
      startedAt = Date.now();
      const tick = this.tick().finally(() => {
        if (this.ticking === tick) this.ticking = undefined;
      });
      this.ticking = tick;
    }, this.d.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One sweep; exported for tests that drive time themselves. An idle sweep costs one statement. */
  async tick(): Promise<void> {
    let probe: Probe;
    try {
      const sentAt = Date.now();
      const [row] = await this.d.database.query<Probe>(this.probeSql, []);
      if (!row) return;
      probe = row;
      this.checkClock(sentAt, Date.now(), Number(probe.db_ms));
      if (probe.peers !== undefined) this.d.peersPresent(probe.peers);
    } catch (err) {
      this.d.logger.error({ err }, 'sweep probe failed');
      return;
    }
    const now = Date.now();
    for (const [i, job] of this.d.jobs.entries()) {
      if (job.probe && !probe[`j${i}`]) continue;
      if (job.ready && !job.ready(now)) continue;
      try {
        await job.run();
      } catch (err) {
        this.d.logger.error({ err, step: job.name }, 'sweep step failed');
      }
    }
    this.completed++;
  }

  /** This manager's clock against the database's: a metric always, a warning when they disagree. */
  private checkClock(sentAt: number, answeredAt: number, dbMs: number) {
    if (!Number.isFinite(dbMs)) return;
    const skewMs = this.d.clock.reading(sentAt, answeredAt, dbMs);
    this.d.metrics.clockSkew(skewMs);
    if (this.skew.shouldWarn(skewMs, answeredAt - sentAt, answeredAt))
      this.d.logger.warn(
        { skewMs: Math.round(skewMs), roundTripMs: answeredAt - sentAt },
        "this manager's clock differs from the database's: leases and due times go by the database's clock (estimated here at every sweep), but agents judge the times they are sent by their own, so keep every clock in sync (NTP)",
      );
  }
}
