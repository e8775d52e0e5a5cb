import { SIGNATURE_TOLERANCE_MS } from '../protocol/signature.ts';

const BUCKET_MS = 60_000;

/**
 * Remembers the MACs of the signatures seen while their timestamps are fresh, so a captured
 * request cannot be replayed. Keyed on the MAC, not the header text: a header rewritten to
 * still verify (spaces, order, extra fields) is the same request. MACs are kept in buckets by
 * the minute of their timestamp; buckets older than the tolerance are dropped whole, so an
 * admit costs O(1) however many are kept, and at most `max` are kept (the oldest bucket goes
 * first; a request that old is refused as stale anyway).
 */
export class ReplayGuard {
  private readonly buckets = new Map<number, Set<string>>();
  private size = 0;

  constructor(private readonly max = 200_000) {}

  /** True the first time a MAC (of a signature stamped `t`) is seen; false for a replay. */
  admit(mac: string, t: number, now = Date.now()): boolean {
    this.expire(now);
    // A replay carries the same timestamp, so its MAC can only be in that minute's bucket.
    const b = Math.floor(t / BUCKET_MS);
    if (this.buckets.get(b)?.has(mac)) return false;
    let bucket = this.buckets.get(b);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(b, bucket);
    }
    bucket.add(mac);
    this.size++;
    while (this.size > this.max) this.dropOldest();
    return true;
  }

  /** Whether a MAC (stamped `t`) was admitted already: a replay, refused before its body is read. */
  seen(mac: string, t: number): boolean {
    return this.buckets.get(Math.floor(t / BUCKET_MS))?.has(mac) ?? false;
  }

  get count(): number {
    return this.size;
  }

  private expire(now: number) {
    const oldest = Math.floor((now - SIGNATURE_TOLERANCE_MS) / BUCKET_MS) - 1;
    for (const [k, set] of this.buckets) {
      if (k >= oldest) continue;
      this.size -= set.size;
      this.buckets.delete(k);
    }
  }

  private dropOldest() {
    const first = Math.min(...this.buckets.keys());
    const set = this.buckets.get(first);
    if (!set) return;
    this.size -= set.size;
    this.buckets.delete(first);
  }
}
