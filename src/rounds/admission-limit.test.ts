import { describe, expect, it } from 'vitest';
import { nextLimit } from './admission-limit.ts';

const policy = { min: 2, max: 64, targetLagMs: 50 };

describe('admission limit', () => {
  it('cuts the limit when the event loop runs late, never below the minimum', () => {
    expect(nextLimit(64, { lagMs: 200, saturated: true }, policy)).toBe(44);
    expect(nextLimit(3, { lagMs: 200, saturated: true }, policy)).toBe(2);
    expect(nextLimit(2, { lagMs: 200, saturated: false }, policy)).toBe(2);
  });

  it('raises it while rounds wait and the loop keeps up, never above the maximum', () => {
    expect(nextLimit(10, { lagMs: 5, saturated: true }, policy)).toBe(11);
    expect(nextLimit(40, { lagMs: 5, saturated: true }, policy)).toBe(44);
    expect(nextLimit(63, { lagMs: 5, saturated: true }, policy)).toBe(64);
  });

  it('holds it when nothing waits: an idle manager does not grow a limit it has not tried', () => {
    expect(nextLimit(10, { lagMs: 5, saturated: false }, policy)).toBe(10);
  });

  it('converges under a steady overload instead of oscillating to the extremes', () => {
    let limit = 64;
    const lagAt = (l: number) => (l > 20 ? 120 : 10); // the manager keeps up with 20 rounds
    const seen: number[] = [];
    for (let i = 0; i < 60; i++) {
      limit = nextLimit(limit, { lagMs: lagAt(limit), saturated: true }, policy);
      seen.push(limit);
    }
    const tail = seen.slice(-20);
    expect(Math.min(...tail)).toBeGreaterThanOrEqual(14);
    expect(Math.max(...tail)).toBeLessThanOrEqual(22);
  });
});
