import { describe, expect, it } from 'vitest';
import { SIGNATURE_TOLERANCE_MS } from '../protocol/signature.ts';
import { ReplayGuard } from './replay-guard.ts';

describe('replay guard', () => {
  const now = 1_800_000_000_000;
  it('admits a MAC once while its timestamp is fresh', () => {
    const g = new ReplayGuard();
    expect(g.admit('a'.repeat(64), now, now)).toBe(true);
    expect(g.admit('a'.repeat(64), now, now + 1000)).toBe(false);
    expect(g.admit('b'.repeat(64), now, now + 1000)).toBe(true);
  });

  it('forgets MACs whose timestamps are past the tolerance, whole minutes at a time', () => {
    const g = new ReplayGuard();
    for (let i = 0; i < 1000; i++) g.admit(`mac-${i}`, now, now);
    expect(g.count).toBe(1000);
    g.admit('later', now + 3 * SIGNATURE_TOLERANCE_MS, now + 3 * SIGNATURE_TOLERANCE_MS);
    expect(g.count).toBe(1);
  });

  it('keeps at most `max` MACs, dropping the oldest minute first', () => {
    const g = new ReplayGuard(100);
    for (let i = 0; i < 100; i++) g.admit(`old-${i}`, now - 60_000, now);
    for (let i = 0; i < 50; i++) g.admit(`new-${i}`, now, now);
    expect(g.count).toBe(50);
    expect(g.admit('new-1', now, now)).toBe(false);
  });
});
