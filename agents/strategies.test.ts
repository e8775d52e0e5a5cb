import { describe, expect, it } from 'vitest';
import {
  cheapButSlow,
  fastButExpensive,
  loadPriced,
  refuseWhenBusy,
  undercutting,
  withinBudget,
} from './strategies.ts';

const idle = { running: 0, queued: 0, capacity: 4 };
const job = { size: 10, budget: null };

describe('bidding strategies', () => {
  it('prices load in: a busier agent asks more and promises later', () => {
    const s = loadPriced({ base: 2, perTask: 1, msPerUnit: 10, minMs: 50 });
    const a = s(job, idle);
    const b = s(job, { running: 4, queued: 2, capacity: 4 });
    expect(a).toEqual({ type: 'propose', cost: 2, etaMs: 150 });
    expect(b.type === 'propose' && b.cost).toBe(8);
    expect(b.type === 'propose' && b.etaMs).toBe(300);
  });

  it('cheap-but-slow and fast-but-expensive trade cost against time', () => {
    const cheap = cheapButSlow({ cost: 1, etaMs: 3000 })(job, idle);
    const fast = fastButExpensive({ cost: 9, etaMs: 100 })(job, idle);
    expect(
      cheap.type === 'propose' &&
        fast.type === 'propose' &&
        cheap.cost < fast.cost &&
        cheap.etaMs > fast.etaMs,
    ).toBe(true);
  });

  it('refuses when every slot is taken', () => {
    const s = refuseWhenBusy(cheapButSlow({ cost: 1, etaMs: 10 }));
    expect(s(job, idle).type).toBe('propose');
    expect(s(job, { running: 3, queued: 1, capacity: 4 })).toEqual({ type: 'refuse', reason: 'busy' });
  });

  it('does not bid over the budget', () => {
    const s = withinBudget(fastButExpensive({ cost: 9, etaMs: 100 }));
    expect(s({ size: 1, budget: 5 }, idle).type).toBe('refuse');
    expect(s({ size: 1, budget: 10 }, idle).type).toBe('propose');
  });
});

describe('undercutting', () => {
  const idle = { running: 0, queued: 0, capacity: 4 };
  const haggle = undercutting(fastButExpensive({ cost: 5, etaMs: 80 }), { floor: 0.6, step: 1 });
  it('bids its own price until it sees a lower leading offer, then undercuts it down to its floor', () => {
    expect(haggle({ size: 1, budget: null }, idle)).toEqual({ type: 'propose', cost: 5, etaMs: 80 });
    expect(haggle({ size: 1, budget: null, best: { cost: 4, etaMs: 100 } }, idle)).toMatchObject({
      cost: 3,
    });
    expect(haggle({ size: 1, budget: null, best: { cost: 2, etaMs: 100 } }, idle)).toMatchObject({ cost: 3 });
    expect(haggle({ size: 1, budget: null, best: { cost: 6, etaMs: 100 } }, idle)).toMatchObject({ cost: 5 });
  });
});
