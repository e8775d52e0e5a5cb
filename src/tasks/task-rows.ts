import { columnList, rowMapper } from '../db/row-mapper.ts';
import { awards, tasks } from '../db/schema.ts';
import type { AwardRow, TaskRow } from './task-view.ts';

/** A raw `tasks` row (from a hot statement) as the TaskRow the rest of the code uses. */
export const toTaskRow: (raw: Record<string, unknown>) => TaskRow = rowMapper(tasks);

/** A raw `awards` row as an AwardRow. */
export const toAwardRow: (raw: Record<string, unknown>) => AwardRow = rowMapper(awards);

/** `t.id, t.capability, ...`: every task column, for RETURNING and SELECT lists. */
export const taskColumns = (alias: string): string => columnList(tasks, alias);

/** The award's columns as `a_<name>`, so they sit beside a task's in one row. */
export const awardColumnsPrefixed = (alias: string): string =>
  columnList(awards, alias)
    .split(', ')
    .map((c) => `${c} as a_${c.slice(alias.length + 1)}`)
    .join(', ');

/** The award half of a row selected with `awardColumnsPrefixed`; null when there is none. */
export function awardOf(raw: Record<string, unknown>): AwardRow | null {
  if (raw.a_id === null || raw.a_id === undefined) return null;
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (k.startsWith('a_')) plain[k.slice(2)] = v;
  return toAwardRow(plain);
}
