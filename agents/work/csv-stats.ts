import Papa from 'papaparse';
import { z } from 'zod';

export const CsvInput = z
  .object({
    csv: z.string().min(1, 'csv must not be empty').max(5_000_000),
    delimiter: z.string().length(1).optional(),
  })
  // An example the manager's card and the dashboard's form show.
  .meta({ examples: [{ csv: 'city,temp\nOslo,4\nLima,19' }] });
export type CsvInput = z.infer<typeof CsvInput>;

export type ColumnStats =
  | {
      column: string;
      type: 'number';
      count: number;
      missing: number;
      min: number;
      max: number;
      mean: number;
      stddev: number;
      median: number;
    }
  | {
      column: string;
      type: 'text';
      count: number;
      missing: number;
      distinct: number;
      top: { value: string; count: number }[];
    };

/** Parses CSV with a header row (papaparse) and describes each column: numeric stats or value counts. */
export function csvStats(input: CsvInput): { rows: number; columns: ColumnStats[] } {
  const parsed = Papa.parse<Record<string, string>>(input.csv.trim(), {
    header: true,
    skipEmptyLines: true,
    delimiter: input.delimiter ?? '',
  });
  const fatal = parsed.errors.find((e) => e.type === 'Quotes' || e.type === 'Delimiter');
  if (fatal) throw new Error(`cannot parse the CSV: ${fatal.message} (row ${fatal.row})`);
  const fields = parsed.meta.fields ?? [];
  if (fields.length === 0 || parsed.data.length === 0)
    throw new Error('the CSV needs a header row and at least one data row');
  const columns = fields.map((column): ColumnStats => {
    const raw = parsed.data.map((r) => (r[column] ?? '').trim());
    const present = raw.filter((v) => v !== '');
    const missing = raw.length - present.length;
    const nums = present.map(Number);
    if (present.length > 0 && nums.every(Number.isFinite)) {
      const sorted = [...nums].sort((a, b) => a - b);
      const mean = nums.reduce((s, x) => s + x, 0) / nums.length;
      const variance = nums.reduce((s, x) => s + (x - mean) ** 2, 0) / nums.length;
      const mid = sorted.length >> 1;
      const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
      return {
        column,
        type: 'number',
        count: nums.length,
        missing,
        min: sorted[0]!,
        max: sorted.at(-1)!,
        mean,
        stddev: Math.sqrt(variance),
        median,
      };
    }
    const counts = new Map<string, number>();
    for (const v of present) counts.set(v, (counts.get(v) ?? 0) + 1);
    const top = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 5)
      .map(([value, count]) => ({ value, count }));
    return { column, type: 'text', count: present.length, missing, distinct: counts.size, top };
  });
  return { rows: parsed.data.length, columns };
}
