/** One metric as `GET /metrics` answers it with `Accept: application/json` (prom-client's form). */
export type MetricJson = {
  name: string;
  type: string;
  values: { value: number; metricName?: string; labels: Record<string, string | number> }[];
};

/** What the charts need from one scrape. */
export type Scrape = {
  at: number;
  /** Tasks completed since the manager started (every outcome label summed). */
  completed: number;
  /** Tasks in the fallback queue now, every capability summed. */
  queueDepth: number;
  /** Cumulative round-duration buckets, upper bound (seconds) -> count, every outcome summed. */
  roundBuckets: Map<number, number>;
  /** This manager's bidding slots; null from a manager without the gauge. */
  slots: Slots | null;
  /** Money admins have credited (ACCOUNTS=true): above 0, the market has balances to show. */
  moneyIssued: number;
};

/** The bidding slots: their (adaptive) limit, the rounds bidding in them, the rounds waiting. */
export type Slots = { limit: number; running: number; waiting: number };

function slotsOf(metric: MetricJson | undefined): Slots | null {
  if (!metric) return null;
  const kind = (k: string) => metric.values.find((v) => v.labels.kind === k)?.value ?? 0;
  return { limit: kind('limit'), running: kind('running'), waiting: kind('waiting') };
}

const byName = (metrics: MetricJson[], name: string) => metrics.find((m) => m.name === name);

/** Sums a histogram's buckets over every label but `le`. */
function bucketsOf(metric: MetricJson | undefined): Map<number, number> {
  const out = new Map<number, number>();
  for (const v of metric?.values ?? []) {
    if (v.metricName && !v.metricName.endsWith('_bucket')) continue;
    const le = v.labels.le;
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + v.value);
  }
  return out;
}

function countOf(metric: MetricJson | undefined): number {
  let n = 0;
  for (const v of metric?.values ?? []) if (v.metricName?.endsWith('_count')) n += v.value;
  return n;
}

function gaugeSum(metric: MetricJson | undefined): number {
  return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
}

export function readScrape(metrics: MetricJson[], at: number): Scrape {
  return {
    at,
    completed: countOf(byName(metrics, 'cnp_submit_to_completed_seconds')),
    queueDepth: gaugeSum(byName(metrics, 'cnp_queue_depth')),
    roundBuckets: bucketsOf(byName(metrics, 'cnp_round_duration_seconds')),
    slots: slotsOf(byName(metrics, 'cnp_bidding_slots')),
    moneyIssued:
      byName(metrics, 'cnp_money_units')?.values.find((v) => v.labels.kind === 'issued')?.value ?? 0,
  };
}

/**
 * The q-quantile of the observations between two cumulative histograms, interpolated within
 * its bucket as Prometheus' `histogram_quantile` does; null when nothing was observed.
 */
export function quantileBetween(
  prev: Map<number, number>,
  cur: Map<number, number>,
  q: number,
): number | null {
  const bounds = [...cur.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => Math.max(0, (cur.get(b) ?? 0) - (prev.get(b) ?? 0)));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i]!;
    const count = counts[i]!;
    if (count >= rank) {
      // In the +Inf bucket there is no upper bound: answer the highest finite one.
      if (upper === Number.POSITIVE_INFINITY) return lower;
      const inBucket = count - below;
      return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
    }
    lower = upper;
    below = count;
  }
  return lower;
}

/** One chart point between two scrapes. */
export type MarketPoint = {
  /** Seconds since the epoch (uPlot's x). */
  t: number;
  completedPerSecond: number;
  queueDepth: number;
  /** Round latency in ms over the interval; null when no round closed in it. */
  roundP50Ms: number | null;
  roundP95Ms: number | null;
  /** The bidding slots at the later scrape (null: not reported). */
  slots: Slots | null;
};

export function pointBetween(prev: Scrape, cur: Scrape): MarketPoint {
  const seconds = Math.max(0.001, (cur.at - prev.at) / 1000);
  const ms = (s: number | null) => (s === null ? null : Math.round(s * 1000 * 10) / 10);
  return {
    t: cur.at / 1000,
    // A restarted manager's counters start again from 0: never a negative rate.
    completedPerSecond: Math.max(0, cur.completed - prev.completed) / seconds,
    queueDepth: cur.queueDepth,
    roundP50Ms: ms(quantileBetween(prev.roundBuckets, cur.roundBuckets, 0.5)),
    roundP95Ms: ms(quantileBetween(prev.roundBuckets, cur.roundBuckets, 0.95)),
    slots: cur.slots,
  };
}

/** Appends a point and drops those older than `windowS` seconds before it. */
export function appendPoint(points: MarketPoint[], p: MarketPoint, windowS = 600): MarketPoint[] {
  return [...points, p].filter((x) => x.t >= p.t - windowS);
}
