import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { events } from '../db/schema.ts';
import type { EventFeed, FeedRow } from '../events/event-feed.ts';
import type { TaskEvent } from '../protocol/task.ts';
import { traceIdOf } from '../tasks/task-view.ts';
import { KEEP_ALIVE_MS, Waker } from './waker.ts';

export type EventRow = typeof events.$inferSelect;

/** An event on the wire; `traceParent` is its task's (joined in by the query, or known to the caller). */
export const toEventView = (r: (EventRow | FeedRow) & { traceParent?: string | null }): TaskEvent => ({
  id: String(r.id),
  taskId: r.taskId,
  agentId: r.agentId,
  type: r.type,
  data: r.data,
  createdAt: r.createdAt.toISOString(),
  traceId: traceIdOf(r.traceParent),
});

export const wantsEventStream = (c: Context) => (c.req.header('accept') ?? '').includes('text/event-stream');

/** The id a reconnecting EventSource resumes after (undefined: none given). */
export function lastEventIdOf(c: Context): number | undefined {
  const raw = c.req.header('last-event-id') ?? c.req.query('lastEventId');
  const n = Number(raw);
  return raw && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
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
    /** Called once the stream has ended, however it ended. */
    onEnd?: () => void;
  },
) {
  return streamSSE(c, async (stream) => {
    let last = opts.after;
    let dirty = true;
    const waker = new Waker();
    let closed = false;
    const off = opts.subscribe(() => {
      dirty = true;
      waker.wake();
    });
    stream.onAbort(() => {
      closed = true;
      waker.wake();
    });
    try {
      // A first line at once: the client (and any buffering proxy) sees the stream open now.
      await stream.write(': open\n\n');
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
          await waker.wait(KEEP_ALIVE_MS);
          if (!dirty && !closed) await stream.write(': keep-alive\n\n');
        }
      }
    } finally {
      off();
      opts.onEnd?.();
    }
  });
}

/** Each feed row's wire text, made once however many streams send it. */
const wireText = new WeakMap<FeedRow, string>();
const wireOf = (r: FeedRow) => {
  let text = wireText.get(r);
  if (text === undefined) {
    text = JSON.stringify(toEventView(r));
    wireText.set(r, text);
  }
  return text;
};

/**
 * Streams the manager-wide feed: first what the client missed since `after` (at most
 * `replayMax` events, read with `fetch`; beyond that an `events_skipped` event says which ids
 * to page through GET /v1/events?after=), then what the shared feed hands out, filtered.
 * Without `after` the stream starts live.
 */
export function streamFeed(
  c: Context,
  opts: {
    feed: EventFeed;
    after: number | undefined;
    replayMax: number;
    matches: (r: FeedRow) => boolean;
    fetch: (after: number, limit: number) => Promise<EventRow[]>;
    onEnd?: () => void;
  },
) {
  return streamSSE(c, async (stream) => {
    let pending: FeedRow[] = [];
    const waker = new Waker();
    let closed = false;
    const sub = await opts.feed.subscribe((rows) => {
      for (const r of rows) if (opts.matches(r)) pending.push(r);
      if (pending.length) waker.wake();
    });
    stream.onAbort(() => {
      closed = true;
      waker.wake();
    });
    const send = async (r: EventRow | FeedRow, data = JSON.stringify(toEventView(r))) => {
      await stream.writeSSE({ id: String(r.id), event: r.type, data });
      last = r.id;
    };
    let last = opts.after ?? sub.head;
    try {
      // Subscribed: say so at once, so the client knows it will miss nothing from here on.
      await stream.write(': open\n\n');
      let replayed = 0;
      while (!closed && last < sub.head) {
        const rows = (await opts.fetch(last, 500)).filter((r) => r.id <= sub.head);
        if (!rows.length) break;
        for (const r of rows) {
          if (replayed++ >= opts.replayMax) {
            await stream.writeSSE({
              event: 'events_skipped',
              data: JSON.stringify({ after: last, through: sub.head }),
            });
            last = sub.head;
            break;
          }
          await send(r);
        }
      }
      last = Math.max(last, sub.head);
      while (!closed) {
        const rows = pending;
        pending = [];
        for (const r of rows) if (r.id > last) await send(r, wireOf(r));
        if (pending.length) continue;
        const woke = await waker.wait(KEEP_ALIVE_MS);
        if (!woke && !closed) await stream.write(': keep-alive\n\n');
      }
    } finally {
      sub.off();
      opts.onEnd?.();
    }
  });
}
