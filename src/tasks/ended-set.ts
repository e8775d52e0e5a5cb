import { sql } from 'drizzle-orm';
import { tasks } from '../db/schema.ts';

/**
 * What a task that ends writes besides its state, by the database's clock: when it ended, and
 * its callback's place in the outbox (due now when it has a callbackUrl), in the same
 * transaction as the end itself.
 */
const ENDED_VALUES = {
  completedAt: 'now()',
  callbackAttempts: '0',
  callbackDueAt: `case when ${tasks.callbackUrl.name} is null then null else now() end`,
} as const satisfies Partial<Record<keyof typeof tasks.$inferInsert, string>>;

/** The ended set as drizzle `set` items (transitionTask). */
export const endedSet = Object.fromEntries(
  Object.entries(ENDED_VALUES).map(([k, v]) => [k, sql.raw(v)]),
) as Record<keyof typeof ENDED_VALUES, ReturnType<typeof sql.raw>>;

/** The ended set as SQL `set` items, for the statements written in SQL (complete-award). */
export const ENDED_SET_SQL = Object.entries(ENDED_VALUES)
  .map(([k, v]) => `${tasks[k as keyof typeof ENDED_VALUES].name} = ${v}`)
  .join(', ');
