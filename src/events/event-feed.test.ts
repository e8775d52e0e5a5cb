import { describe, expect, it } from 'vitest';
import { EventFeed, type FeedRow } from './event-feed.ts';
import { EventHub } from './event-hub.ts';

const row = (id: number): FeedRow => ({
  id,
  taskId: null,
  agentId: null,
  type: 'agent.updated',
  data: {},
  createdAt: new Date(0),
  capability: null,
  traceParent: null,
});

/** A feed over a table whose rows become visible in any order, as commits do. */
function setup(
  gapWaitMs: number,
  opts: { open?: () => boolean; gapMaxMs?: number; readMs?: number; latestMs?: number } = {},
) {
  const visible = new Map<number, FeedRow>();
  const hub = new EventHub('test');
  const feed = new EventFeed(
    hub,
    async (after, limit) => {
      if (opts.readMs) await tick(opts.readMs);
      return [...visible.values()]
        .filter((r) => r.id > after)
        .sort((a, b) => a.id - b.id)
        .slice(0, limit);
    },
    async () => {
      if (opts.latestMs) await tick(opts.latestMs);
      return 0;
    },
    gapWaitMs,
    async () => opts.open?.() ?? false,
    opts.gapMaxMs,
  );
  const commit = (id: number) => {
    visible.set(id, row(id));
    hub.deliver({ id, taskId: null, agentId: null, type: 'agent.updated' });
  };
  return { feed, commit };
}

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('EventFeed', () => {
  it('keeps handing out events after a notice came while the first stream was still subscribing', async () => {
    // The first subscriber reads the head (a round trip); a notice meanwhile starts a pull that
    // ends at once (no head yet). That pull must not leave the feed believing one still runs.
    const { feed, commit } = setup(10_000, { latestMs: 50 });
    const seen: number[] = [];
    const subscribing = feed.subscribe((rows) => seen.push(...rows.map((r) => r.id)));
    await tick(10);
    commit(1);
    await subscribing;
    commit(2);
    await tick();
    commit(3);
    await tick();
    // The head read was 0 (before 1 committed): 1 comes too. The old feed handed out nothing.
    expect(seen).toEqual([1, 2, 3]);
  });

  it('never passes an id that has not committed yet: a later commit of a lower id still arrives', async () => {
    const { feed, commit } = setup(10_000);
    const seen: number[] = [];
    await feed.subscribe((rows) => seen.push(...rows.map((r) => r.id)));
    commit(1);
    await tick();
    commit(3); // 2 took its id first but commits later
    await tick();
    expect(seen).toEqual([1]);
    commit(2);
    await tick();
    expect(seen).toEqual([1, 2, 3]);
  });

  it('passes an id that never commits (a rolled-back transaction) after the wait, with no further notice', async () => {
    const { feed, commit } = setup(100);
    const seen: number[] = [];
    await feed.subscribe((rows) => seen.push(...rows.map((r) => r.id)));
    commit(1);
    commit(3);
    await tick();
    expect(seen).toEqual([1]);
    await tick(250);
    expect(seen).toEqual([1, 3]);
    commit(4);
    await tick();
    expect(seen).toEqual([1, 3, 4]);
    expect(feed.gapsPassed).toEqual({ checked: 1, limit: 0 });
    expect(feed.gapAgeMs()).toBe(0);
  });

  it('goes on waiting past the wait while a transaction older than the gap is open, and hands the id out in order when it commits', async () => {
    let open = true;
    const { feed, commit } = setup(50, { open: () => open, gapMaxMs: 10_000 });
    const seen: number[] = [];
    await feed.subscribe((rows) => seen.push(...rows.map((r) => r.id)));
    commit(1);
    commit(3);
    await tick(300); // six waits: a slow commit, not a rollback
    expect(seen).toEqual([1]);
    // The streams' lag, as the metric shows it.
    expect(feed.gapAgeMs()).toBeGreaterThanOrEqual(250);
    commit(2);
    open = false;
    await tick(150);
    expect(seen).toEqual([1, 2, 3]);
    // Filled, not passed over.
    expect(feed.gapsPassed).toEqual({ checked: 0, limit: 0 });
    expect(feed.gapAgeMs()).toBe(0);
  });

  it('never passes a gap on the clock alone: a read that ends past the wait still needs the answer', async () => {
    // Notices keep coming while reads are slow: a pull that asked nothing (the wait was not yet
    // over) but whose read ended after it must not pass the gap while a transaction is open.
    const { feed, commit } = setup(50, { open: () => true, gapMaxMs: 10_000, readMs: 15 });
    const seen: number[] = [];
    await feed.subscribe((rows) => seen.push(...rows.map((r) => r.id)));
    commit(1);
    commit(3);
    for (let id = 4; id < 40; id++) {
      await tick(7);
      commit(id);
    }
    await tick(100);
    expect(seen).toEqual([1]);
  });

  it('passes a gap at its limit even while some transaction stays open', async () => {
    const { feed, commit } = setup(50, { open: () => true, gapMaxMs: 200 });
    const seen: number[] = [];
    await feed.subscribe((rows) => seen.push(...rows.map((r) => r.id)));
    commit(1);
    commit(3);
    await tick(120);
    expect(seen).toEqual([1]);
    await tick(300);
    expect(seen).toEqual([1, 3]);
    expect(feed.gapsPassed).toEqual({ checked: 0, limit: 1 });
  });
});
