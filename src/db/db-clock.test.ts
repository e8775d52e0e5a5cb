import { describe, expect, it } from 'vitest';
import { DbClock } from './db-clock.ts';

describe('the database clock as this process sees it', () => {
  it('starts at no skew and turns database times into local ones', () => {
    const clock = new DbClock();
    expect(clock.toLocal(5000)).toBe(5000);
    clock.observe(120_000, 4);
    expect(clock.skewMs).toBe(120_000);
    expect(clock.toLocal(1_000_000)).toBe(880_000);
  });

  it('trusts the measurement with the shortest round trip among the last few', () => {
    const clock = new DbClock(3);
    clock.observe(1000, 2);
    clock.observe(1400, 800); // a slow probe: its skew could be 400 ms off
    expect(clock.skewMs).toBe(1000);
    clock.observe(1010, 1);
    expect(clock.skewMs).toBe(1010);
    // Older ones age out, so a clock that was stepped is followed.
    clock.observe(-5000, 3);
    clock.observe(-5001, 3);
    clock.observe(-5002, 4);
    expect(clock.skewMs).toBe(-5000);
  });
});
