import { afterEach, describe, expect, it, vi } from 'vitest';
import { SubmittedHere } from './submitted-here.ts';

describe('SubmittedHere', () => {
  afterEach(() => vi.useRealTimers());

  it('knows a task until it ends or its ttl passes', () => {
    vi.useFakeTimers();
    const here = new SubmittedHere(10, 1000);
    here.add('a');
    here.add('b');
    expect(here.has('a')).toBe(true);
    here.ended('a');
    expect(here.has('a')).toBe(false);
    vi.advanceTimersByTime(1001);
    expect(here.has('b')).toBe(false);
  });

  it('forgets the oldest task first when full: a forgotten task is read, never wrongly trusted', () => {
    const here = new SubmittedHere(2, 60_000);
    here.add('a');
    here.add('b');
    here.add('c');
    expect(here.has('a')).toBe(false);
    expect(here.has('c')).toBe(true);
  });
});
