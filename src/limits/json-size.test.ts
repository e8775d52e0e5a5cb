import { describe, expect, it } from 'vitest';
import { jsonSizeWithin } from './json-size.ts';

describe('jsonSizeWithin', () => {
  it('is about the JSON length', () => {
    const v = { a: 'hello', b: [1, 2, 3], c: { d: null, e: true } };
    const n = jsonSizeWithin(v, 1e9);
    const exact = JSON.stringify(v).length;
    expect(n).toBeGreaterThanOrEqual(exact * 0.8);
    expect(n).toBeLessThanOrEqual(exact * 2);
  });

  it('stops at the limit', () => {
    expect(jsonSizeWithin('x'.repeat(10_000), 100)).toBe(Number.POSITIVE_INFINITY);
    expect(jsonSizeWithin(new Array(10_000).fill(1), 100)).toBe(Number.POSITIVE_INFINITY);
  });
});
