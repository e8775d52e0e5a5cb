import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeldAgreements } from './held-agreements.ts';

describe('HeldAgreements', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const due = new Date('2026-12-02T12:00:00Z');

  it('asks for the agreement to be written once the hold is over', async () => {
    vi.useFakeTimers();
    const held = new HeldAgreements(100);
    const outcome = held.hold('a1', due);
    expect(held.size).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(held.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(outcome).resolves.toBe('write');
    expect(held.size).toBe(0);
    expect(held.take('a1')).toBeNull();
  });

  it("hands the agreement to its holder's report, which settles it", async () => {
    vi.useFakeTimers();
    const held = new HeldAgreements(100);
    const outcome = held.hold('a1', due);
    const taken = held.take('a1');
    expect(taken?.dueAt).toEqual(due);
    expect(held.take('a1')).toBeNull(); // taken once
    // The hold's timer no longer runs: the taker decides.
    await vi.advanceTimersByTimeAsync(1000);
    let settled: string | undefined;
    void outcome.then((o) => (settled = o));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBeUndefined();
    taken?.settle(true);
    taken?.settle(false); // only the first settlement counts
    await expect(outcome).resolves.toBe('taken');
  });

  it('asks for the write when the report did not record it', async () => {
    const held = new HeldAgreements(10_000);
    const outcome = held.hold('a1', due);
    held.take('a1')?.settle(false);
    await expect(outcome).resolves.toBe('write');
  });

  it('holds nothing when the hold is 0, or the award is already held', async () => {
    await expect(new HeldAgreements(0).hold('a1', due)).resolves.toBe('write');
    const held = new HeldAgreements(10_000);
    void held.hold('a1', due);
    await expect(held.hold('a1', due)).resolves.toBe('write');
    held.releaseAll();
  });

  it('writes every held agreement when the manager stops', async () => {
    const held = new HeldAgreements(60_000);
    const outcomes = [held.hold('a1', due), held.hold('a2', due)];
    held.releaseAll();
    await expect(Promise.all(outcomes)).resolves.toEqual(['write', 'write']);
    expect(held.size).toBe(0);
  });
});
