import type { MarketPoint } from '../state/metric-series.ts';
import { TimeChart } from './time-chart.tsx';

/** Completed tasks per second, queue depth and round latency over the last ten minutes. */
export function ChartsPanel({ points, error }: { points: MarketPoint[]; error: string | null }) {
  const xs = points.map((p) => p.t);
  const last = points[points.length - 1];
  const peak = points.reduce((m, p) => Math.max(m, p.completedPerSecond), 0);
  return (
    <section class="panel charts" aria-labelledby="charts-title" data-peak-completed={peak.toFixed(2)}>
      <h2 id="charts-title">
        Market{' '}
        {last ? (
          <small class="muted">
            {last.completedPerSecond.toFixed(1)} tasks/s, {last.queueDepth} queued
            {last.slots ? (
              <span class="slots" title="rounds bidding / this manager's bidding slots (adaptive limit)">
                , {last.slots.running}/{last.slots.limit} rounds bidding
                {last.slots.waiting ? `, ${last.slots.waiting} waiting for a slot` : ''}
              </span>
            ) : null}
          </small>
        ) : null}
      </h2>
      {error ? <p class="error">metrics: {error}</p> : null}
      <div class="chart-grid">
        <TimeChart
          title="Completed tasks per second"
          unit="tasks/s"
          xs={xs}
          series={[
            { label: 'completed/s', color: '#2f7d32', values: points.map((p) => p.completedPerSecond) },
          ]}
        />
        <TimeChart
          title="Fallback queue depth"
          unit="tasks"
          xs={xs}
          series={[{ label: 'queued', color: '#b26a00', values: points.map((p) => p.queueDepth) }]}
        />
        <TimeChart
          title="Round latency (cfp to close)"
          unit="ms"
          xs={xs}
          series={[
            { label: 'p50', color: '#1565c0', values: points.map((p) => p.roundP50Ms) },
            { label: 'p95', color: '#8e24aa', values: points.map((p) => p.roundP95Ms) },
          ]}
        />
      </div>
    </section>
  );
}
