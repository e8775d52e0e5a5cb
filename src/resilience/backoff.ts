/**
 * The one backoff law: exponential in the number of tries so far, capped, with "equal jitter"
 * (half fixed, half random) so a burst of retries spreads out. Re-auctions of queued tasks and
 * callback deliveries both wait by it; `backoffSql` is the same law for statements that compute
 * it from a row (their agreement is tested against a database).
 */
export type Backoff = { baseMs: number; capMs: number };

export function backoffDelay(tries: number, b: Backoff, random = Math.random): number {
  const step = Math.min(b.capMs, b.baseMs * 2 ** Math.min(tries, 30));
  return Math.round(step / 2 + random() * (step / 2));
}

/** `backoffDelay` as a SQL expression (int milliseconds) over SQL operands; `random` a float8 in [0, 1). */
export const backoffSql = (tries: string, baseMs: string, capMs: string, random = 'random()'): string =>
  `round(least(${capMs}::float8, ${baseMs}::float8 * power(2, least(${tries}, 30))) * (0.5 + ${random} * 0.5))::int`;
