import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { type AdmissionPolicy, nextLimit } from './admission-limit.ts';

/** The bidding slots: their (adaptive) limit, the rounds bidding in them, the rounds waiting. */
export type SlotStatus = { limit: number; running: number; waiting: number };

/** Rounds of tasks no client key owns (keys off): one client, with no share to keep to. */
export const ANONYMOUS = '';

/** The part of the slots one client key may hold while others may want them. */
export const CLIENT_SHARE = 0.5;

/** The slots one client may hold at a limit: its share, at least one; the anonymous client all. */
export const shareOf = (client: string, limit: number): number =>
  client === ANONYMOUS ? limit : Math.max(1, Math.ceil(limit * CLIENT_SHARE));

/**
 * The slots rounds bid in: at most `limit` at once, the rest wait. Every `intervalMs` the limit
 * follows the event loop's p99 delay (admission-limit.ts); with `targetLagMs` 0 it stays at
 * `max`. Each client key (the task's owner) holds at most its share of them (`CLIENT_SHARE`), so
 * one client's rounds, however long their bid windows or high their priority, leave room for
 * everyone else's; waiting rounds are let in by client in turn, each client's in order.
 */
export class Admission {
  private running = 0;
  private current: number;
  private saturated = false;
  /** Rounds bidding, by client. */
  private readonly holding = new Map<string, number>();
  /** Rounds waiting, by client, in the order clients are served. */
  private readonly waiting = new Map<string, (() => void)[]>();
  private waitingCount = 0;
  private readonly histogram: IntervalHistogram | null;
  private readonly timer: NodeJS.Timeout | null;

  constructor(
    private readonly policy: AdmissionPolicy,
    intervalMs = 250,
  ) {
    const adaptive = policy.targetLagMs > 0;
    // Start below the maximum: a burst at start-up must not open more rounds than the manager serves.
    this.current = adaptive ? Math.max(policy.min, Math.round(policy.max / 4)) : policy.max;
    this.histogram = adaptive ? monitorEventLoopDelay({ resolution: 10 }) : null;
    this.histogram?.enable();
    this.timer = adaptive ? setInterval(() => this.adapt(), intervalMs) : null;
    this.timer?.unref();
  }

  get limit(): number {
    return this.current;
  }

  /** Rounds waiting for a slot. */
  get backlog(): number {
    return this.waitingCount;
  }

  /** The slots now: the limit, the rounds bidding in them, the rounds waiting (metrics). */
  status(): SlotStatus {
    return { limit: this.current, running: this.running, waiting: this.waitingCount };
  }

  /** Whether a round of `client` could start bidding at once. */
  hasFreeSlot(client = ANONYMOUS): boolean {
    return this.mayStart(client) && !this.waiting.has(client);
  }

  /**
   * Runs `fn` in a slot of `client`'s, once one is free and within its share. The slot is given
   * back when `fn` ends, or earlier when it calls `release` (its busy part is over).
   */
  async execute<T>(client: string, fn: (release: () => void) => Promise<T>): Promise<T> {
    if (!this.hasFreeSlot(client)) {
      this.saturated = true;
      // pump() hands the slot over: it counts this round as running before waking it.
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(client);
        if (queue) queue.push(resolve);
        else this.waiting.set(client, [resolve]);
        this.waitingCount++;
      });
    } else {
      this.take(client);
    }
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.running--;
      const left = (this.holding.get(client) ?? 1) - 1;
      if (left > 0) this.holding.set(client, left);
      else this.holding.delete(client);
      this.pump();
    };
    try {
      return await fn(release);
    } finally {
      release();
    }
  }

  private mayStart(client: string): boolean {
    return this.running < this.current && (this.holding.get(client) ?? 0) < shareOf(client, this.current);
  }

  private take(client: string): void {
    this.running++;
    this.holding.set(client, (this.holding.get(client) ?? 0) + 1);
  }

  /** Lets waiting rounds in, one client at a time in turn (a served client goes to the back). */
  private pump(): void {
    let progressed = true;
    while (progressed && this.running < this.current && this.waitingCount) {
      progressed = false;
      for (const [client, queue] of this.waiting) {
        if (this.running >= this.current) break;
        if (!this.mayStart(client)) continue;
        const next = queue.shift()!;
        this.waiting.delete(client);
        if (queue.length) this.waiting.set(client, queue);
        this.waitingCount--;
        this.take(client);
        next();
        progressed = true;
      }
    }
  }

  private adapt(): void {
    if (!this.histogram) return;
    const lagMs = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    this.current = nextLimit(
      this.current,
      { lagMs, saturated: this.saturated || this.waitingCount > 0 },
      this.policy,
    );
    this.saturated = false;
    this.pump();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.histogram?.disable();
  }
}
