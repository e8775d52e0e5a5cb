import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { type AdmissionPolicy, nextLimit } from './admission-limit.ts';

/** The bidding slots: their (adaptive) limit, the rounds bidding in them, the rounds waiting. */
export type SlotStatus = { limit: number; running: number; waiting: number };

/**
 * The slots rounds bid in: at most `limit` at once, the rest wait in order. Every `intervalMs`
 * the limit follows the event loop's p99 delay (admission-limit.ts); with `targetLagMs` 0 it
 * stays at `max`.
 */
export class Admission {
  private running = 0;
  private current: number;
  private saturated = false;
  private readonly waiting: (() => void)[] = [];
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
    return this.waiting.length;
  }

  /** The slots now: the limit, the rounds bidding in them, the rounds waiting (metrics). */
  status(): SlotStatus {
    return { limit: this.current, running: this.running, waiting: this.waiting.length };
  }

  hasFreeSlot(): boolean {
    return this.running < this.current;
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.current || this.waiting.length) {
      this.saturated = true;
      // pump() hands the slot over: it counts this round as running before waking it.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      this.running--;
      this.pump();
    }
  }

  private pump(): void {
    while (this.running < this.current && this.waiting.length) {
      this.running++;
      this.waiting.shift()?.();
    }
  }

  private adapt(): void {
    if (!this.histogram) return;
    const lagMs = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    this.current = nextLimit(
      this.current,
      { lagMs, saturated: this.saturated || this.waiting.length > 0 },
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
