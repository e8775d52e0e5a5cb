import { sql } from 'drizzle-orm';
import type { Executor } from '../db/client.ts';
import { events } from '../db/schema.ts';

/** The NOTIFY channel on which every manager hears of every recorded event. */
export const EVENTS_CHANNEL = 'cnp_events';

export type EventInput = {
  taskId?: string | null;
  agentId?: string | null;
  type: string;
  data?: Record<string, unknown>;
  /** Carried in the notification so live listeners can filter without a query. */
  capability?: string;
  state?: string;
};

/** What a manager hears about an event; small, because NOTIFY payloads are capped at 8000 bytes. */
export type EventNotice = {
  id: number;
  taskId: string | null;
  agentId: string | null;
  type: string;
  capability?: string;
  state?: string;
};

/**
 * Appends an event to the audit trail in the caller's transaction and notifies every manager;
 * PostgreSQL delivers the notification only if the transaction commits.
 */
export async function recordEvent(tx: Executor, e: EventInput): Promise<number> {
  const [row] = await tx
    .insert(events)
    .values({ taskId: e.taskId ?? null, agentId: e.agentId ?? null, type: e.type, data: e.data ?? {} })
    .returning({ id: events.id });
  const notice: EventNotice = {
    id: row!.id,
    taskId: e.taskId ?? null,
    agentId: e.agentId ?? null,
    type: e.type,
    ...(e.capability ? { capability: e.capability } : {}),
    ...(e.state ? { state: e.state } : {}),
  };
  await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${JSON.stringify(notice)})`);
  return row!.id;
}
