/**
 * About how many bytes `value` takes as JSON, or `Infinity` once past `limit`: a walk that stops
 * early, so sizing a 1 MiB output against a 64 KiB limit costs 64 KiB of work, not a stringify.
 */
export function jsonSizeWithin(value: unknown, limit: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') total += v.length + 2;
    else if (typeof v === 'number' || typeof v === 'boolean') total += 8;
    else if (v === null || v === undefined) total += 4;
    else if (Array.isArray(v)) {
      total += 2 + v.length;
      for (const x of v) stack.push(x);
    } else if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        total += k.length + 4;
        stack.push(x);
      }
      total += 2;
    }
    if (total > limit) return Number.POSITIVE_INFINITY;
  }
  return total;
}
