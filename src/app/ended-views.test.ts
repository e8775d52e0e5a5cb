import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../protocol/task.ts';
import { EndedViews } from './ended-views.ts';

const view = (id: string) => ({ id, state: 'completed' }) as Task;

describe('EndedViews', () => {
  afterEach(() => vi.useRealTimers());

  it('answers a remembered view until it is older than its ttl', () => {
    vi.useFakeTimers();
    const views = new EndedViews(10, 1000);
    views.remember(view('a'));
    expect(views.get('a')?.id).toBe('a');
    vi.advanceTimersByTime(1001);
    expect(views.get('a')).toBeNull();
  });

  it('forgets the oldest view first when full', () => {
    const views = new EndedViews(2, 60_000);
    views.remember(view('a'));
    views.remember(view('b'));
    views.remember(view('c'));
    expect(views.get('a')).toBeNull();
    expect(views.get('b')?.id).toBe('b');
    expect(views.get('c')?.id).toBe('c');
  });
});
