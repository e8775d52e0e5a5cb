/** A pause, for what is itself a duration (an agent's slowness), never to order events. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `fn` returns a truthy value, or fails after `ms`. */
export async function eventually<T>(
  fn: () => Promise<T | null | undefined | false | 0 | ''> | T | null | undefined | false,
  ms = 10_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}
