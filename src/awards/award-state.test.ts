import { describe, expect, it } from 'vitest';
import { LIVE_AWARD_STATUSES } from '../protocol/states.ts';
import { awardStatusesAllowing, nextAwardStatus, statusAfter } from './award-state.ts';

describe('the award state machine', () => {
  it('lets only an offered award be agreed or refused', () => {
    expect(awardStatusesAllowing('agree')).toEqual(['offered']);
    expect(awardStatusesAllowing('refuse')).toEqual(['offered']);
  });

  it('lets a live award (offered or agreed) complete, fail, expire or be cancelled', () => {
    for (const action of ['complete', 'fail', 'expire', 'cancel'] as const)
      expect(awardStatusesAllowing(action)).toEqual([...LIVE_AWARD_STATUSES]);
  });

  it('counts an inform-result answered to the offer itself as completion', () => {
    expect(nextAwardStatus('offered', 'complete')).toBe('completed');
  });

  it('never changes an award that has ended', () => {
    for (const ended of ['completed', 'failed', 'refused', 'expired', 'cancelled'] as const)
      for (const action of ['agree', 'complete', 'refuse', 'fail', 'expire', 'cancel'] as const)
        expect(nextAwardStatus(ended, action)).toBeNull();
  });

  it('has one target per action, which the award statements write', () => {
    expect((['agree', 'complete', 'refuse', 'fail', 'expire', 'cancel'] as const).map(statusAfter)).toEqual([
      'agreed',
      'completed',
      'refused',
      'failed',
      'expired',
      'cancelled',
    ]);
  });
});
