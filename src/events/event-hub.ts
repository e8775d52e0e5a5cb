import { EventEmitter } from 'node:events';
import type { Database } from '../db/client.ts';
import { EVENTS_CHANNEL, type EventNotice } from './event-log.ts';
import type { NoticeBatch } from './event-publisher.ts';

/**
 * Fans out the event notifications this manager hears (from itself or any other manager on the
 * database) to in-process listeners: long-polls, event streams and running rounds.
 */
export class EventHub {
  private readonly emitter = new EventEmitter();
  private unlisten?: () => Promise<void>;

  /** `origin`: this manager's id; its own batched notices were delivered when published. */
  constructor(private readonly origin: string) {
    this.emitter.setMaxListeners(0);
  }

  async start(database: Database): Promise<void> {
    this.unlisten = await database.listen(EVENTS_CHANNEL, (payload) => {
      let parsed: Partial<NoticeBatch>;
      try {
        parsed = JSON.parse(payload) as Partial<NoticeBatch>;
      } catch {
        return;
      }
      if (!parsed || parsed.origin === this.origin || !Array.isArray(parsed.notices)) return;
      this.emitter.emit('peer');
      for (const n of parsed.notices) this.deliver(n);
    });
  }

  /** Calls `fn` whenever another manager's batch (or hello) arrives. */
  onPeerNotice(fn: () => void): void {
    this.emitter.on('peer', fn);
  }

  /** Hands one event to this manager's listeners. */
  deliver(notice: EventNotice): void {
    this.emitter.emit('event', notice);
    if (notice.taskId) this.emitter.emit(`task:${notice.taskId}`, notice);
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = undefined;
  }

  /** Calls `fn` for every event; returns the unsubscribe function. */
  onAny(fn: (n: EventNotice) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }

  /** Calls `fn` for every event of one task; returns the unsubscribe function. */
  onTask(taskId: string, fn: (n: EventNotice) => void): () => void {
    this.emitter.on(`task:${taskId}`, fn);
    return () => this.emitter.off(`task:${taskId}`, fn);
  }

  /** Resolves with the first event of `taskId` that matches, or null after `ms` or on abort. */
  waitForTask(
    taskId: string,
    ms: number,
    match: (n: EventNotice) => boolean,
    signal?: AbortSignal,
  ): Promise<EventNotice | null> {
    return new Promise((resolve) => {
      const done = (n: EventNotice | null) => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(n);
      };
      const onAbort = () => done(null);
      const off = this.onTask(taskId, (n) => {
        if (match(n)) done(n);
      });
      const timer = setTimeout(() => done(null), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
