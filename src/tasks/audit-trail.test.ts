import { describe, expect, it } from 'vitest';
import { isTransition, trailError } from './audit-trail.ts';

describe('audit trail check', () => {
  it('accepts the happy path, a moved award, a requeue and a retry', () => {
    expect(trailError(['pending', 'bidding', 'awarded', 'completed'], 'completed')).toBeNull();
    expect(trailError(['pending', 'bidding', 'awarded', 'awarded', 'completed'], 'completed')).toBeNull();
    expect(
      trailError(
        ['pending', 'bidding', 'queued', 'awarded', 'queued', 'bidding', 'awarded', 'completed'],
        'completed',
      ),
    ).toBeNull();
    expect(trailError(['pending', 'failed', 'pending', 'bidding', 'cancelled'], 'cancelled')).toBeNull();
    // A task with dependencies starts waiting, and is released to pending (or fails).
    expect(trailError(['waiting', 'pending', 'bidding', 'awarded', 'completed'], 'completed')).toBeNull();
    expect(trailError(['waiting', 'failed'], 'failed')).toBeNull();
    expect(trailError(['waiting', 'bidding'], 'bidding')).toBe(
      'step 1: waiting -> bidding is not a transition',
    );
  });

  it('names the step that is not a transition', () => {
    expect(trailError(['pending', 'bidding', 'completed'], 'completed')).toBe(
      'step 2: bidding -> completed is not a transition',
    );
    expect(trailError(['pending', 'completed'], 'completed')).toMatch(/step 1/);
    expect(trailError(['pending', 'bidding', 'awarded', 'completed', 'awarded'], 'awarded')).toMatch(
      /completed -> awarded/,
    );
  });

  it('refuses a trail that does not start at pending or does not end where the task is', () => {
    expect(trailError([], 'pending')).toMatch(/starts at nothing/);
    expect(trailError(['bidding', 'awarded'], 'awarded')).toMatch(/not pending/);
    expect(trailError(['pending', 'bidding'], 'completed')).toBe(
      'ends at bidding, but the task is completed',
    );
  });

  it('knows terminal states lead nowhere but failed -> pending', () => {
    expect(isTransition('completed', 'pending')).toBe(false);
    expect(isTransition('cancelled', 'bidding')).toBe(false);
    expect(isTransition('failed', 'pending')).toBe(true);
  });
});
