/** One sample of the Prometheus text exposition format. */
export type Sample = { name: string; labels: Record<string, string>; value: number };

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Parses the text format strictly enough to fail on a malformed line, and checks every sample
 * belongs to a family with its # HELP and # TYPE.
 */
export function parsePrometheus(text: string): Sample[] {
  const typed = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const meta = line.match(/^# (HELP|TYPE) (\S+) (.*)$/);
    if (meta) {
      if (meta[1] === 'TYPE') typed.add(meta[2]!);
      continue;
    }
    const m = line.match(SAMPLE);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name, rawLabels, rawValue] = m;
    const family = name!.replace(/_(bucket|sum|count|total)$/, '');
    if (!typed.has(name!) && !typed.has(family)) throw new Error(`sample ${name} has no # TYPE`);
    const labels: Record<string, string> = {};
    for (const l of (rawLabels ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    // prom-client writes NaN as `Nan`; Prometheus reads it case-insensitively (Go's ParseFloat).
    if (Number.isNaN(value) && rawValue?.toLowerCase() !== 'nan') throw new Error(`bad value in ${line}`);
    samples.push({ name: name!, labels, value });
  }
  return samples;
}

/** The value of the sample named `name` whose labels include `labels` (summed over the rest). */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}
