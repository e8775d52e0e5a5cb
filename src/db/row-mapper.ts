import { getTableColumns, type InferSelectModel, type Table } from 'drizzle-orm';

/**
 * Maps a raw row (snake_case columns, as a driver returns them) of `table` to the shape drizzle's
 * select gives, with each column's own decoder (times, JSON), so raw statements and the query
 * builder answer the same objects on PGlite and on postgres.js.
 */
export function rowMapper<T extends Table>(table: T): (raw: Record<string, unknown>) => InferSelectModel<T> {
  const columns = Object.entries(getTableColumns(table)).map(([key, col]) => [key, col.name, col] as const);
  return (raw) => {
    const out: Record<string, unknown> = {};
    for (const [key, name, col] of columns) {
      const v = raw[name];
      out[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
    }
    return out as InferSelectModel<T>;
  };
}

/** The column list of `table` for a RETURNING or SELECT, qualified by `alias`. */
export function columnList(table: Table, alias: string): string {
  return Object.values(getTableColumns(table))
    .map((c) => `${alias}.${c.name}`)
    .join(', ');
}
