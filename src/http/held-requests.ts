import { createHash } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { AppError } from '../errors/app-error.ts';

/** A credential as a key for counting (its digest: the bearer itself is never kept). */
export const credentialKey = (bearer: string) =>
  `cred:${createHash('sha256').update(bearer).digest('base64url')}`;

/** The request's remote address as a key for counting. */
export const addressKey = (c: Context) => `addr:${getConnInfo(c).remote.address ?? 'unknown'}`;

/**
 * Who holds a request open: the principal its credentials were verified as, else its remote
 * address. Never the bearer as sent: with keys off nothing checks it, so a made-up bearer per
 * request would be a new client each time.
 */
export function holderOf(c: Context, principal?: string | null): string {
  return principal && principal !== 'anonymous' ? `principal:${principal}` : addressKey(c);
}

/**
 * Requests a client may hold open at once (event streams, long-polls): each holds a socket and
 * a listener, so one client must not be able to open thousands. Over the cap: 429.
 */
export class HeldRequests {
  private readonly held = new Map<string, number>();
  /** Requests of this kind held open now, by every client. */
  total = 0;

  constructor(
    private readonly max: number,
    private readonly what: string,
    private readonly setting: string,
  ) {}

  /**
   * Takes a slot for the request's holder (429 when it has `max`); the result releases it, once.
   * `principal`: whom the route verified the request's credentials as (none: its address).
   */
  take(c: Context, principal: string | null | undefined): () => void {
    const who = holderOf(c, principal);
    const n = this.held.get(who) ?? 0;
    if (n >= this.max) {
      throw new AppError(
        429,
        'too_many_open',
        `this client holds ${n} ${this.what} open already, the most it may (${this.setting}); close one first`,
        undefined,
        { retryAfterS: 1 },
      );
    }
    this.held.set(who, n + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.held.get(who) ?? 1) - 1;
      if (left <= 0) this.held.delete(who);
      else this.held.set(who, left);
    };
  }

  /** How many `who` holds: for tests and metrics. */
  count(who: string): number {
    return this.held.get(who) ?? 0;
  }
}

/** The caps the routes enforce, shared by every route that holds a request. */
export type HeldSlots = { streams: HeldRequests; polls: HeldRequests };

/** The caps of MAX_STREAMS_PER_CLIENT and MAX_LONG_POLLS_PER_CLIENT. */
export function heldSlots(c: {
  MAX_STREAMS_PER_CLIENT: number;
  MAX_LONG_POLLS_PER_CLIENT: number;
}): HeldSlots {
  return {
    streams: new HeldRequests(c.MAX_STREAMS_PER_CLIENT, 'event streams', 'MAX_STREAMS_PER_CLIENT'),
    polls: new HeldRequests(c.MAX_LONG_POLLS_PER_CLIENT, 'long-polls', 'MAX_LONG_POLLS_PER_CLIENT'),
  };
}
