/**
 * The market's own words (states and statuses from src/protocol/states.ts, never input) as SQL
 * literals, for guards and partial indexes. `sep` keeps an index's predicate exactly as its
 * migration wrote it.
 */

/** `'a','b'` */
export const literals = (xs: readonly string[], sep = ','): string => xs.map((x) => `'${x}'`).join(sep);

/** `('a','b')` */
export const quoted = (xs: readonly string[], sep = ','): string => `(${literals(xs, sep)})`;
