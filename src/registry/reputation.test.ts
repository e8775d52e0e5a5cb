import { describe, expect, it } from 'vitest';
import { reputation } from './reputation.ts';

describe('reputation', () => {
  it('starts a new agent at 0.5', () => expect(reputation(0, 0)).toBe(0.5));
  it('rises with completions and falls with failures, staying inside 0..1', () => {
    expect(reputation(10, 0)).toBeGreaterThan(0.9);
    expect(reputation(0, 10)).toBeLessThan(0.1);
    expect(reputation(1000, 0)).toBeLessThan(1);
    expect(reputation(0, 1000)).toBeGreaterThan(0);
  });
  it('forgives one failure in a long good record', () => {
    expect(reputation(99, 1)).toBeGreaterThan(0.97);
  });
});
