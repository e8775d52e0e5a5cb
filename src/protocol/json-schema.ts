import { z } from 'zod';
import { jsonSizeWithin } from '../limits/json-size.ts';
import { jsonProblem } from './common.ts';

/** The largest JSON Schema a capability may carry (JSON bytes): it is compiled and listed. */
export const MAX_SCHEMA_BYTES = 16 * 1024;

/** How deep a capability's schema may nest. */
export const MAX_SCHEMA_DEPTH = 32;

/**
 * A JSON Schema (2020-12) as a capability carries it: a JSON object, bounded in size and depth.
 * Whether it compiles is checked at registration (`compileSchema`), where the field is named.
 */
export const JsonSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (s) => jsonSizeWithin(s, MAX_SCHEMA_BYTES) <= MAX_SCHEMA_BYTES,
    `must be at most ${MAX_SCHEMA_BYTES} bytes of JSON`,
  )
  .superRefine((s, ctx) => {
    const problem = jsonProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    else if (depthOf(s) > MAX_SCHEMA_DEPTH)
      ctx.addIssue({ code: 'custom', message: `nests deeper than ${MAX_SCHEMA_DEPTH} levels` });
  })
  .meta({
    id: 'JsonSchema',
    description: 'A JSON Schema (draft 2020-12), at most 16 KiB; validated with ajv.',
  });
export type JsonSchema = z.infer<typeof JsonSchema>;

function depthOf(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [x, d] = item;
    if (d > max) max = d;
    if (x !== null && typeof x === 'object' && d <= MAX_SCHEMA_DEPTH)
      for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
  return max;
}
