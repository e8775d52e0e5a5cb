import { describe, expect, it } from 'vitest';
import { needsVacuum } from './dead-rows.ts';

describe('when a churning table is vacuumed', () => {
  it('waits for enough dead rows, and for a tenth of the live ones', () => {
    expect(needsVacuum(1999, 0)).toBe(false);
    expect(needsVacuum(2000, 10_000)).toBe(true);
    expect(needsVacuum(2000, 20_001)).toBe(false);
    expect(needsVacuum(50_000, 500_000)).toBe(true);
  });
});
