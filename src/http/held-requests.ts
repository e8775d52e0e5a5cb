import { createHash } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { AppError } from '../errors/app-error.ts';
import { bearerOf } from './auth.ts';

/** A credential as a key for counting (its digest: the bearer itself is never kept). */
export const credentialKey = (bearer: string) =>
  `cred:${createHash('sha256').update(bearer).digest('base64url')}`;

/** The request's remote address as a key for counting. */
export const addressKey = (c: Context) => `addr:${getConnInfo(c).remote.address ?? 'unknown'}`;

/** Who holds a request open: its credential when it has one, else its remote address. */
export function holderOf(c: Context): string {
  const bearer = bearerOf(c);
  return bearer ? credentialKey(bearer) : addressKey(c);
}

/**
 * Requests a client may hold open at once (event streams, long-polls): each holds a socket and
 * a listener, so one client must not be able to open thousands. Over the cap: 429.
 */
export class HeldRequests {
  private readonly held = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly what: string,
    private readonly setting: string,
  ) {}

  /** Takes a slot for the request's holder (429 when it has `max`); the result releases it, once. */
  take(c: Context): () => void {
    const who = holderOf(c);
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
    let released = false;
    return () => {
      if (released) return;
      released = true;
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

/** The caps createApp enforces, shared by every route that holds a request. */
export type HeldSlots = { streams: HeldRequests; polls: HeldRequests };
