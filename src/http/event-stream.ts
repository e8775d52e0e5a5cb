import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { events } from '../db/schema.ts';
import type { TaskEvent } from '../protocol/task.ts';

export type EventRow = typeof events.$inferSelect;

export const toEventView = (r: EventRow): TaskEvent => ({
  id: String(r.id),
  taskId: r.taskId,
  agentId: r.agentId,
  type: r.type,
  data: r.data,
  createdAt: r.createdAt.toISOString(),
});

export const wantsEventStream = (c: Context) => (c.req.header('accept') ?? '').includes('text/event-stream');

/** The id a reconnecting EventSource resumes after. */
export function lastEventIdOf(c: Context): number {
  const raw = c.req.header('last-event-id') ?? c.req.query('lastEventId');
  const n = Number(raw);
  return raw && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * Streams events as server-sent events: everything after `after`, then live ones as they are
 * notified, until `isDone` says the stream is complete or the client goes away. A keep-alive
 * comment every 15 s keeps proxies from closing an idle stream.
 */
export function streamEvents(
  c: Context,
  opts: {
    after: number;
    subscribe: (wake: () => void) => () => void;
    fetch: (after: number) => Promise<EventRow[]>;
    isDone?: () => Promise<boolean>;
  },
) {
  return streamSSE(c, async (stream) => {
    let last = opts.after;
    let dirty = true;
    let wake: (() => void) | undefined;
    let closed = false;
    const off = opts.subscribe(() => {
      dirty = true;
      wake?.();
    });
    stream.onAbort(() => {
      closed = true;
      wake?.();
    });
    try {
      while (!closed) {
        dirty = false;
        const done = opts.isDone ? await opts.isDone() : false;
        for (let rows = await opts.fetch(last); rows.length; rows = await opts.fetch(last)) {
          for (const r of rows) {
            await stream.writeSSE({ id: String(r.id), event: r.type, data: JSON.stringify(toEventView(r)) });
            last = r.id;
          }
        }
        if (done) break;
        if (!dirty) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 15_000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (!dirty && !closed) await stream.write(': keep-alive\n\n');
        }
      }
    } finally {
      off();
    }
  });
}
