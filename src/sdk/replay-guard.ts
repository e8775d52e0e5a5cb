import { SIGNATURE_TOLERANCE_MS } from '../protocol/signature.ts';

/**
 * Remembers the signatures seen within the tolerance window, so a captured request cannot be
 * replayed while its timestamp is still fresh. The manager signs every retry anew.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  /** True the first time a signature is seen; false for a replay. */
  admit(signature: string, now = Date.now()): boolean {
    if (this.seen.size > 10_000) this.purge(now);
    if (this.seen.has(signature)) return false;
    this.seen.set(signature, now);
    return true;
  }

  private purge(now: number) {
    for (const [sig, at] of this.seen) if (now - at > SIGNATURE_TOLERANCE_MS * 2) this.seen.delete(sig);
  }
}
