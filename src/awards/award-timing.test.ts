import { describe, expect, it } from 'vitest';
import { awardDueAt } from './award-timing.ts';

describe('award due time', () => {
  it('stretches the estimate by the grace factor and adds the grace period', () => {
    expect(awardDueAt(1000, 500, { factor: 2, ms: 100 }, null)).toBe(2100);
  });
  it('is capped by the task deadline', () => {
    expect(awardDueAt(1000, 500, { factor: 2, ms: 100 }, 1500)).toBe(1500);
  });
});
