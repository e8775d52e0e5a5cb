import { describe, expect, it } from 'vitest';
import { awardDueAt, reauctionDelay } from './backoff.ts';

describe('re-auction backoff', () => {
  it('doubles with each requeue, between half and all of the step', () => {
    expect(reauctionDelay(0, 100, 10_000, () => 0)).toBe(50);
    expect(reauctionDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(reauctionDelay(3, 100, 10_000, () => 1)).toBe(800);
  });
  it('never exceeds the cap, however often the task was requeued', () => {
    expect(reauctionDelay(50, 100, 5000, () => 1)).toBe(5000);
    expect(reauctionDelay(5000, 100, 5000, () => 0.5)).toBeLessThanOrEqual(5000);
  });
});

describe('award due time', () => {
  it('stretches the estimate by the grace factor and adds the grace period', () => {
    expect(awardDueAt(1000, 500, { factor: 2, ms: 100 }, null)).toBe(2100);
  });
  it('is capped by the task deadline', () => {
    expect(awardDueAt(1000, 500, { factor: 2, ms: 100 }, 1500)).toBe(1500);
  });
});
