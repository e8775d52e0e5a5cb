/**
 * Tasks this manager submitted that it has not heard end. A long-poll on one of them can wait
 * for its end notice without reading it first: if it had ended, this manager would have heard
 * (its own ends are delivered in-process; other managers' through NOTIFY). Bounded by size and
 * age; a task not found here is simply read.
 */
export class SubmittedHere {
  private readonly tasks = new Map<string, number>();

  constructor(
    private readonly max = 100_000,
    private readonly ttlMs = 60_000,
  ) {}

  add(taskId: string): void {
    if (this.tasks.size >= this.max) {
      const oldest = this.tasks.keys().next();
      if (!oldest.done) this.tasks.delete(oldest.value);
    }
    this.tasks.set(taskId, Date.now());
  }

  ended(taskId: string): void {
    this.tasks.delete(taskId);
  }

  /** True while the task is known not to have ended. */
  has(taskId: string): boolean {
    const at = this.tasks.get(taskId);
    if (at === undefined) return false;
    if (Date.now() - at > this.ttlMs) {
      this.tasks.delete(taskId);
      return false;
    }
    return true;
  }
}
