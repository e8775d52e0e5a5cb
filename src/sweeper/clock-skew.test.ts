import { describe, expect, it } from 'vitest';
import { clockSkewMs } from '../db/db-clock.ts';
import { ClockSkewWatch, SKEW_WARN_MS } from './clock-skew.ts';

describe('clock skew', () => {
  it('measures the database clock against the middle of the round trip', () => {
    expect(clockSkewMs(1000, 1010, 1005)).toBe(0);
    expect(clockSkewMs(1000, 1010, 3005)).toBe(2000);
    expect(clockSkewMs(1000, 1010, 5)).toBe(-1000);
  });

  it('warns past the limit (allowing half the round trip), at most once a minute', () => {
    const watch = new ClockSkewWatch();
    expect(watch.shouldWarn(SKEW_WARN_MS, 0, 0)).toBe(false);
    expect(watch.shouldWarn(-SKEW_WARN_MS - 5, 20, 0)).toBe(false); // within the doubt of a 20 ms trip
    expect(watch.shouldWarn(-SKEW_WARN_MS - 11, 20, 0)).toBe(true);
    expect(watch.shouldWarn(5000, 2, 30_000)).toBe(false); // warned a moment ago
    expect(watch.shouldWarn(5000, 2, 60_000)).toBe(true);
    expect(watch.shouldWarn(3, 2, 200_000)).toBe(false);
  });
});
