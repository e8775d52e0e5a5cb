import { jsonSizeWithin } from '../limits/json-size.ts';
import type { Task } from '../protocol/task.ts';

type Entry = { view: Task; at: number; bytes: number };

export type EndedViewLimits = {
  /** All views together, in (estimated) bytes. */
  maxBytes: number;
  /** One view larger than this is not kept: a long-poll on it reads it again. */
  maxViewBytes: number;
  ttlMs: number;
};

const DEFAULTS: EndedViewLimits = { maxBytes: 16 * 1024 * 1024, maxViewBytes: 64 * 1024, ttlMs: 5_000 };

/**
 * Views of tasks this manager just ended, for the clients long-polling them: the statement that
 * ended a task returned its row, so a waiting client is answered without reading it again.
 * Bounded in bytes (not only entries: a task may carry a MiB of input and output) and dropped
 * on time by a timer, not only when read; a miss only costs a read.
 */
export class EndedViews {
  /** In insertion order, which is time order (a view remembered again moves to the end). */
  private readonly views = new Map<string, Entry>();
  private total = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly limits: EndedViewLimits;

  constructor(limits: Partial<EndedViewLimits> = {}) {
    this.limits = { ...DEFAULTS, ...limits };
  }

  /** Estimated bytes held now (metrics, tests). */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.views.size;
  }

  remember(view: Task): void {
    this.forget(view.id);
    const bytes = jsonSizeWithin(view, this.limits.maxViewBytes);
    if (!Number.isFinite(bytes)) return;
    this.expire(Date.now());
    while (this.total + bytes > this.limits.maxBytes && this.views.size) this.dropOldest();
    this.views.set(view.id, { view, at: Date.now(), bytes });
    this.total += bytes;
    this.schedule();
  }

  /** The task was put back (retry) or deleted: its ended view is no longer true. */
  forget(taskId: string): void {
    const hit = this.views.get(taskId);
    if (!hit) return;
    this.views.delete(taskId);
    this.total -= hit.bytes;
  }

  get(taskId: string): Task | null {
    const hit = this.views.get(taskId);
    if (!hit) return null;
    if (Date.now() - hit.at > this.limits.ttlMs) {
      this.forget(taskId);
      return null;
    }
    return hit.view;
  }

  private dropOldest(): void {
    const oldest = this.views.keys().next();
    if (!oldest.done) this.forget(oldest.value);
  }

  private expire(now: number): void {
    for (const [id, e] of this.views) {
      if (now - e.at <= this.limits.ttlMs) break;
      this.forget(id);
    }
  }

  /** One timer at the oldest view's expiry, so an idle manager lets go of them too. */
  private schedule(): void {
    if (this.timer || !this.views.size) return;
    const oldest = this.views.values().next().value as Entry;
    const wait = Math.max(10, oldest.at + this.limits.ttlMs - Date.now() + 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire(Date.now());
      this.schedule();
    }, wait);
    this.timer.unref();
  }
}
