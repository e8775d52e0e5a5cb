import { describe, expect, it } from 'vitest';
import { appendPoint, type MetricJson, pointBetween, quantileBetween, readScrape } from './metric-series.ts';

const hist = (
  name: string,
  byOutcome: Record<string, [number | '+Inf', number][]>,
  count?: number,
): MetricJson => ({
  name,
  type: 'histogram',
  values: Object.entries(byOutcome).flatMap(([outcome, buckets]) => [
    ...buckets.map(([le, value]) => ({ value, metricName: `${name}_bucket`, labels: { le, outcome } })),
    { value: count ?? buckets[buckets.length - 1]![1], metricName: `${name}_count`, labels: { outcome } },
    { value: 1, metricName: `${name}_sum`, labels: { outcome } },
  ]),
});

describe('readScrape', () => {
  it('sums histograms over their labels and the queue gauge over capabilities', () => {
    const s = readScrape(
      [
        hist('cnp_submit_to_completed_seconds', {
          x: [
            [1, 3],
            ['+Inf', 4],
          ],
        }),
        hist('cnp_round_duration_seconds', {
          awarded: [
            [0.1, 2],
            [1, 5],
            ['+Inf', 5],
          ],
          no_bids: [
            [0.1, 0],
            [1, 1],
            ['+Inf', 2],
          ],
        }),
        {
          name: 'cnp_queue_depth',
          type: 'gauge',
          values: [
            { value: 3, labels: { capability: 'a' } },
            { value: 4, labels: { capability: 'b' } },
          ],
        },
      ],
      1000,
    );
    expect(s.completed).toBe(4);
    expect(s.queueDepth).toBe(7);
    expect(s.moneyIssued).toBe(0);
    expect([...s.roundBuckets]).toEqual([
      [0.1, 2],
      [1, 6],
      [Number.POSITIVE_INFINITY, 7],
    ]);
  });

  it('reads the money admins issued, which says the market keeps accounts', () => {
    const money = {
      name: 'cnp_money_units',
      type: 'gauge',
      values: [
        { value: 30, labels: { kind: 'held' } },
        { value: 500, labels: { kind: 'issued' } },
      ],
    };
    expect(readScrape([money], 1).moneyIssued).toBe(500);
  });

  it('reads an empty or partial scrape as zeros', () => {
    const s = readScrape([], 5);
    expect(s).toMatchObject({ completed: 0, queueDepth: 0, slots: null, moneyIssued: 0 });
    expect(s.roundBuckets.size).toBe(0);
  });

  it('reads the bidding slots by kind', () => {
    const s = readScrape(
      [
        {
          name: 'cnp_bidding_slots',
          type: 'gauge',
          values: [
            { value: 16, labels: { kind: 'limit' } },
            { value: 16, labels: { kind: 'running' } },
            { value: 5, labels: { kind: 'waiting' } },
          ],
        },
      ],
      5,
    );
    expect(s.slots).toEqual({ limit: 16, running: 16, waiting: 5 });
    expect(pointBetween(readScrape([], 0), s).slots).toEqual({ limit: 16, running: 16, waiting: 5 });
  });
});

describe('quantileBetween', () => {
  const m = (pairs: [number, number][]) => new Map(pairs);
  const inf = Number.POSITIVE_INFINITY;

  it('interpolates inside the bucket that holds the rank, over the interval only', () => {
    const prev = m([
      [0.1, 10],
      [0.2, 10],
      [inf, 10],
    ]);
    // 10 new observations, all between 0.1 and 0.2: the median is halfway.
    const cur = m([
      [0.1, 10],
      [0.2, 20],
      [inf, 20],
    ]);
    expect(quantileBetween(prev, cur, 0.5)).toBeCloseTo(0.15);
    expect(quantileBetween(prev, cur, 1)).toBeCloseTo(0.2);
  });

  it('answers null with nothing observed and the highest finite bound for the +Inf bucket', () => {
    const same = m([
      [0.1, 1],
      [inf, 1],
    ]);
    expect(quantileBetween(same, same, 0.5)).toBeNull();
    expect(
      quantileBetween(
        m([]),
        m([
          [0.1, 0],
          [1, 0],
          [inf, 4],
        ]),
        0.5,
      ),
    ).toBe(1);
  });

  it('never goes negative when the counters restart', () => {
    expect(
      quantileBetween(
        m([
          [1, 50],
          [inf, 50],
        ]),
        m([
          [1, 2],
          [inf, 2],
        ]),
        0.5,
      ),
    ).toBeNull();
  });
});

describe('pointBetween and appendPoint', () => {
  const scrape = (at: number, completed: number, queueDepth = 0) => ({
    at,
    completed,
    queueDepth,
    roundBuckets: new Map([[0.1, completed]]),
    slots: null,
    moneyIssued: 0,
  });

  it('turns two scrapes into a rate, a depth and latencies in ms', () => {
    const p = pointBetween(scrape(0, 10), scrape(2000, 30, 5));
    expect(p).toMatchObject({ t: 2, completedPerSecond: 10, queueDepth: 5 });
    expect(p.roundP50Ms).toBeCloseTo(50);
  });

  it('clamps a restarted counter to zero and keeps only the window', () => {
    expect(pointBetween(scrape(0, 100), scrape(1000, 3)).completedPerSecond).toBe(0);
    const pts = [0, 100, 650].reduce(
      (acc, t) =>
        appendPoint(acc, {
          t,
          completedPerSecond: 1,
          queueDepth: 0,
          roundP50Ms: null,
          roundP95Ms: null,
          slots: null,
        }),
      [] as ReturnType<typeof pointBetween>[],
    );
    expect(pts.map((p) => p.t)).toEqual([100, 650]);
  });
});
