import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { backoffDelay, backoffSql } from './backoff.ts';

describe('the backoff law', () => {
  it('doubles with each try, between half and all of the step', () => {
    expect(backoffDelay(0, { baseMs: 100, capMs: 10_000 }, () => 0)).toBe(50);
    expect(backoffDelay(0, { baseMs: 100, capMs: 10_000 }, () => 1)).toBe(100);
    expect(backoffDelay(3, { baseMs: 100, capMs: 10_000 }, () => 1)).toBe(800);
  });

  it('never exceeds the cap, however many tries', () => {
    expect(backoffDelay(50, { baseMs: 100, capMs: 5000 }, () => 1)).toBe(5000);
    expect(backoffDelay(5000, { baseMs: 100, capMs: 5000 }, () => 0.5)).toBeLessThanOrEqual(5000);
  });

  const db = new PGlite();
  afterAll(() => db.close());

  it('is the same law in SQL', async () => {
    for (const [tries, base, cap, r] of [
      [0, 100, 10_000, 0],
      [0, 100, 10_000, 0.999],
      [3, 100, 10_000, 0.5],
      [7, 200, 2000, 0.25],
      [5000, 100, 5000, 0.75],
    ] as const) {
      const { rows } = await db.query<{ ms: number }>(
        `select ${backoffSql('$1::int', '$2', '$3', '$4::float8')} as ms`,
        [tries, base, cap, r],
      );
      expect(rows[0]!.ms).toBe(backoffDelay(tries, { baseMs: base, capMs: cap }, () => r));
    }
  });
});
