import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Database } from '../db/client.ts';
import { DbClock } from '../db/db-clock.ts';
import { noMetrics } from '../observability/market-metrics.ts';
import type { SweepJob } from './sweep-job.ts';
import { Sweeper } from './sweeper.ts';

/**
 * The sweeper as a scheduler, over a faked database: what it does with the probe's answer, and
 * with a probe the database never answers (it dropped the connection mid-statement; the driver
 * lost the reply), which cannot be produced on demand from a real one.
 */
const sweeperOver = (
  query: (text: string) => Promise<unknown[]>,
  jobs: SweepJob[],
  logger = pino({ level: 'silent' }),
) =>
  new Sweeper({
    database: { driver: 'pglite', query } as unknown as Database,
    jobs,
    intervalMs: 10,
    metrics: noMetrics,
    logger,
    applicationName: 'contract-net/m',
    peersPresent: () => {},
    clock: new DbClock(),
  });

describe('the sweeper', () => {
  it('asks every probe in one statement and runs, in order, the jobs that have work and are ready', async () => {
    const ran: string[] = [];
    const texts: string[] = [];
    const job = (name: string, probe?: string, ready?: () => boolean): SweepJob => ({
      name,
      ...(probe ? { probe } : {}),
      ...(ready ? { ready } : {}),
      run: async () => void ran.push(name),
    });
    const sweeper = sweeperOver(
      async (text) => {
        texts.push(text);
        return [{ j0: true, j1: false, j2: true, db_ms: Date.now() }];
      },
      [
        job('a', 'exists (a)'),
        job('b', 'exists (b)'),
        job('c', 'exists (c)', () => false),
        job('d', undefined, () => true),
      ],
    );
    await sweeper.tick();
    expect(texts).toHaveLength(1);
    expect(texts[0]).toMatch(/exists \(a\) as j0,\s+exists \(b\) as j1,\s+exists \(c\) as j2/);
    expect(ran).toEqual(['a', 'd']);
  });

  it('logs a failed job and goes on to the next', async () => {
    const errors: string[] = [];
    const ran: string[] = [];
    const sweeper = sweeperOver(
      async () => [{ db_ms: Date.now() }],
      [
        { name: 'broken', run: () => Promise.reject(new Error('boom')) },
        { name: 'next', run: async () => void ran.push('next') },
      ],
      pino({ level: 'error' }, { write: (line: string) => errors.push(line) }),
    );
    await sweeper.tick();
    expect(ran).toEqual(['next']);
    expect(errors.some((e) => e.includes('"step":"broken"'))).toBe(true);
  });

  it('logs a stuck sweep, and starts the next one beside it', async () => {
    const probes: number[] = [];
    const errors: string[] = [];
    const sweeper = sweeperOver(
      () => {
        probes.push(Date.now());
        // The first probe hangs for ever; the later ones answer "nothing to do".
        return probes.length === 1 ? new Promise(() => {}) : Promise.resolve([{ db_ms: Date.now() }]);
      },
      [],
      pino({ level: 'error' }, { write: (line: string) => errors.push(line) }),
    );
    vi.useFakeTimers();
    try {
      sweeper.start(100);
      await vi.advanceTimersByTimeAsync(400);
    } finally {
      vi.useRealTimers();
    }
    void sweeper.stop();
    expect(probes.length).toBeGreaterThan(5);
    // Nothing started until the first had run for the stuck limit.
    expect(probes[1]! - probes[0]!).toBeGreaterThanOrEqual(95);
    expect(errors.some((e) => e.includes('a sweep has not finished'))).toBe(true);
  });
});
