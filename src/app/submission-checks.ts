import { createHash } from 'node:crypto';
import { AppError } from '../errors/app-error.ts';
import type { OutboundGuard } from '../resilience/outbound-guard.ts';
import { canonicalJson } from '../tasks/task-store.ts';

/** 422 naming `callbackUrl` when the outbound policy would refuse to call it (after DNS). */
export async function checkCallbackUrl(guard: OutboundGuard, url: string): Promise<void> {
  const refused = await guard.check(url);
  if (refused)
    throw new AppError(422, 'invalid_request', 'the manager will not call this callbackUrl', [
      { field: 'callbackUrl', message: refused },
    ]);
}

/** What an idempotency key remembers of its body: the same key with another body is 409. */
export const requestHashOf = (rawBody: unknown): string =>
  createHash('sha256').update(canonicalJson(rawBody)).digest('hex');

/** Backpressure: past ROUND_QUEUE_MAX rounds waiting, a submission is refused, nothing stored. */
export const busy = (backlog: number): AppError =>
  new AppError(
    429,
    'busy',
    `${backlog} rounds are waiting for a bidding slot; submit again after Retry-After`,
    undefined,
    {
      retryAfterS: 1,
    },
  );
