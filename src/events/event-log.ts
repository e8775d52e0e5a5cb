import type { Tx } from '../db/client.ts';
import { events } from '../db/schema.ts';
import type { Task } from '../protocol/task.ts';

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
  /** The view of the task this event ends (local only: see EventNotice). */
  view?: Task;
};

/** What a manager hears about an event; small, because NOTIFY payloads are capped at 8000 bytes. */
export type EventNotice = {
  id: number;
  taskId: string | null;
  agentId: string | null;
  type: string;
  capability?: string;
  state?: string;
  /**
   * The view of the task this event ended, when its writer had it: this manager's long-polls
   * answer from it without a read. Local only: never sent to the other managers.
   */
  view?: Task;
};

/** The notices of each open transaction, published once it has committed (EventPublisher). */
const pendingNotices = new WeakMap<object, EventNotice[]>();

/**
 * Opens a transaction's notice list; `transactionNotices` hands it over. The EventPublisher
 * does both around every `db.transaction`, so the events a transaction recorded reach listeners
 * as the hot statements' do, and only if it commits.
 */
export function openNotices(tx: object): EventNotice[] {
  const list: EventNotice[] = [];
  pendingNotices.set(tx, list);
  return list;
}

/**
 * Appends an event to the audit trail in the caller's transaction; its notice is published (to
 * this manager's listeners, and to the others in the next batched NOTIFY) once that commits.
 */
export async function recordEvent(tx: Tx, e: EventInput): Promise<number> {
  const notices = pendingNotices.get(tx);
  if (!notices) throw new Error('recordEvent needs a transaction of a database the EventPublisher serves');
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
    ...(e.view ? { view: e.view } : {}),
  };
  notices.push(notice);
  return row!.id;
}
