import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { firstIdOf } from './retention.ts';

describe('firstIdOf', () => {
  it('orders below every v7 id of its millisecond and later, above every earlier one', () => {
    const at = Date.UTC(2026, 11, 3, 12, 0, 0, 123);
    const bound = firstIdOf(new Date(at));
    expect(bound).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7000-8000-0{12}$/);
    for (let i = 0; i < 200; i++) {
      // UUIDs compare as bytes in PostgreSQL: the same order as their lower-case text.
      expect(uuidv7({ msecs: at }) > bound).toBe(true);
      expect(uuidv7({ msecs: at + 1 + i }) > bound).toBe(true);
      expect(uuidv7({ msecs: at - 1 - i }) < bound).toBe(true);
    }
  });

  it('stays a valid id before 1970 and past the 48-bit clock', () => {
    expect(firstIdOf(new Date(-5))).toBe('00000000-0000-7000-8000-000000000000');
    expect(firstIdOf(new Date(8.64e15))).toBe('ffffffff-ffff-7000-8000-000000000000');
  });
});
