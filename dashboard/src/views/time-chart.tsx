import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export type Series = { label: string; color: string; values: (number | null)[] };

/** The x range: at least the last minute, at most the last ten, ending at the newest point. */
function timeWindow(xs: ArrayLike<number> | undefined): [number, number] {
  const last = xs?.length ? xs[xs.length - 1]! : Date.now() / 1000;
  const first = xs?.length ? xs[0]! : last;
  return [Math.max(Math.min(first, last - 60), last - 600), last];
}

/** One uPlot time chart that follows its container's width (a phone or a laptop screen). */
export function TimeChart({
  title,
  unit,
  xs,
  series,
}: {
  title: string;
  unit: string;
  xs: number[];
  series: Series[];
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 160,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // At least the last minute, at most the last ten: a lone point is not drawn as a year.
        // (From the data itself: for a lone point uPlot widens the range it passes by 1000 days.)
        x: { time: true, range: (u) => timeWindow(u.data[0]) },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [{}, { label: unit, size: 50 }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true }))],
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])] as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 160 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [labels, unit]);

  useEffect(() => {
    plot.current?.setData([xs, ...series.map((s) => s.values)] as uPlot.AlignedData);
  });

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
