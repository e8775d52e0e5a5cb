import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../protocol/task.ts';
import { EndedViews } from './ended-views.ts';

const view = (id: string, output: unknown = null) => ({ id, state: 'completed', output }) as Task;

describe('EndedViews', () => {
  afterEach(() => vi.useRealTimers());

  it('answers a remembered view until it is older than its ttl', () => {
    vi.useFakeTimers();
    const views = new EndedViews({ ttlMs: 1000 });
    views.remember(view('a'));
    expect(views.get('a')?.id).toBe('a');
    vi.advanceTimersByTime(1001);
    expect(views.get('a')).toBeNull();
  });

  it('lets go of expired views on time, without being read', () => {
    vi.useFakeTimers();
    const views = new EndedViews({ ttlMs: 1000 });
    for (let i = 0; i < 50; i++) views.remember(view(`t${i}`, 'x'.repeat(1000)));
    expect(views.size).toBe(50);
    vi.advanceTimersByTime(1100);
    expect(views.size).toBe(0);
    expect(views.bytes).toBe(0);
  });

  it('stays within its byte budget, dropping the oldest first', () => {
    const views = new EndedViews({ maxBytes: 10_000, maxViewBytes: 5_000, ttlMs: 60_000 });
    for (let i = 0; i < 100; i++) views.remember(view(`t${i}`, 'x'.repeat(2_000)));
    expect(views.bytes).toBeLessThanOrEqual(10_000);
    expect(views.get('t0')).toBeNull();
    expect(views.get('t99')?.id).toBe('t99');
  });

  it('does not keep a view larger than one view may be', () => {
    const views = new EndedViews({ maxViewBytes: 1_000 });
    views.remember(view('big', 'x'.repeat(1024 * 1024)));
    expect(views.get('big')).toBeNull();
    expect(views.bytes).toBe(0);
  });

  it('counts a view remembered twice once', () => {
    const views = new EndedViews();
    views.remember(view('a', 'x'.repeat(100)));
    const once = views.bytes;
    views.remember(view('a', 'x'.repeat(100)));
    expect(views.bytes).toBe(once);
    views.forget('a');
    expect(views.bytes).toBe(0);
  });
});
