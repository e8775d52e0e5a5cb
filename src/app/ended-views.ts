import type { Task } from '../protocol/task.ts';

/**
 * Views of tasks this manager just ended, for the clients long-polling them: the statement that
 * ended a task returned its row, so a waiting client is answered without reading it again.
 * Bounded by size and age; a miss only costs a read.
 */
export class EndedViews {
  private readonly views = new Map<string, { view: Task; at: number }>();

  constructor(
    private readonly max = 10_000,
    private readonly ttlMs = 30_000,
  ) {}

  remember(view: Task): void {
    if (this.views.size >= this.max) {
      const oldest = this.views.keys().next();
      if (!oldest.done) this.views.delete(oldest.value);
    }
    this.views.set(view.id, { view, at: Date.now() });
  }

  /** The task was put back (retry): its ended view is no longer true. */
  forget(taskId: string): void {
    this.views.delete(taskId);
  }

  get(taskId: string): Task | null {
    const hit = this.views.get(taskId);
    if (!hit) return null;
    if (Date.now() - hit.at > this.ttlMs) {
      this.views.delete(taskId);
      return null;
    }
    return hit.view;
  }
}
