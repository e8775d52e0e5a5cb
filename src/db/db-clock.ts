import type { Database } from './client.ts';

/**
 * How far the database's clock (`dbMs`, read by a statement sent at `sentAt` and answered at
 * `answeredAt`, both this process's clock) is ahead of this process's: measured against the
 * middle of the round trip, so the error is at most half of it.
 */
export function clockSkewMs(sentAt: number, answeredAt: number, dbMs: number): number {
  return dbMs - (sentAt + answeredAt) / 2;
}

/**
 * This process's estimate of the database's clock: of the last few measurements (one at start,
 * then one per sweep), the one with the shortest round trip, whose error is at most half of it.
 * A time the database wrote (a round's `replyBy`) is turned into this process's clock with it
 * before a timer is set on it, so a manager whose clock is off still waits a bid window out,
 * neither ending it at once (clock ahead) nor minutes late (behind).
 */
export class DbClock {
  private readonly recent: { skewMs: number; roundTripMs: number }[] = [];
  private best = 0;

  constructor(private readonly keep = 20) {}

  observe(skewMs: number, roundTripMs: number): void {
    this.recent.push({ skewMs, roundTripMs });
    if (this.recent.length > this.keep) this.recent.shift();
    let pick = this.recent[0]!;
    for (const m of this.recent) if (m.roundTripMs < pick.roundTripMs) pick = m;
    this.best = pick.skewMs;
  }

  /** Takes one reading (`dbMs`, by a statement sent at `sentAt`, answered at `answeredAt`); its skew. */
  reading(sentAt: number, answeredAt: number, dbMs: number): number {
    const skewMs = clockSkewMs(sentAt, answeredAt, dbMs);
    this.observe(skewMs, answeredAt - sentAt);
    return skewMs;
  }

  /** How far the database's clock is ahead of this process's, in ms (negative: behind). */
  get skewMs(): number {
    return this.best;
  }

  /** Now by the database's clock, as this process estimates it (ms since the epoch). */
  now(): number {
    return Date.now() + this.best;
  }

  /** A time (ms since the epoch) by the database's clock, on this process's clock. */
  toLocal(dbMs: number): number {
    return dbMs - this.best;
  }
}

/** Reads the database's clock once and feeds `clock` (at start, before the first sweep). */
export async function measureDbClock(database: Database, clock: DbClock): Promise<void> {
  const sentAt = Date.now();
  const [row] = await database.query<{ db_ms: number }>(
    'select (extract(epoch from clock_timestamp()) * 1000)::float8 as db_ms',
    [],
  );
  const answeredAt = Date.now();
  if (row && Number.isFinite(Number(row.db_ms))) clock.reading(sentAt, answeredAt, Number(row.db_ms));
}
