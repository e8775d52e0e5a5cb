import { z } from 'zod';

/** A UUID; the manager mints time-ordered v7 ids. */
export const Id = z.uuid();

/** The latest instant PostgreSQL and JavaScript agree on: 9999-12-31T23:59:59.999Z. */
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** ISO 8601 timestamp in UTC, as every time on the wire; years 1970 to 9999. */
export const Timestamp = z.iso.datetime({ offset: true }).refine((t) => {
  const ms = Date.parse(t);
  return ms >= 0 && ms <= MAX_TIME;
}, 'must be between 1970-01-01 and 9999-12-31');

/** The largest integer a PostgreSQL `integer` column holds. */
/**
 * An http(s) URL the manager will call: port 0 parses as a URL, but nothing can be reached
 * there, so every call would fail. Lenient on text that is not a URL (the URL check names that).
 */
export const callablePort = (u: string): boolean => !URL.canParse(u) || new URL(u).port !== '0';

export const MAX_INT32 = 2_147_483_647;

/** An integer a PostgreSQL `integer` column can store. */
export const Int32 = z.number().int().min(-MAX_INT32).max(MAX_INT32);

/**
 * NUL and unpaired UTF-16 surrogates: PostgreSQL text and jsonb cannot store the first, and UTF-8
 * cannot encode the second. Every string from the wire is checked for both.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');
const UNSTORABLE_MESSAGE = 'must not contain NUL (\\u0000) or unpaired surrogates';

/** True if PostgreSQL can store the string as it is. */
export const storable = (s: string): boolean => !UNSTORABLE.test(s);

/** The string with NUL and unpaired surrogates replaced by U+FFFD. */
export const cleanText = (s: string): string => s.replace(UNSTORABLE_ALL, '\uFFFD');

/** Text from a client: refused (422 naming the field) if it cannot be stored. */
export const Text = (max: number) => z.string().max(max).refine(storable, UNSTORABLE_MESSAGE);

/**
 * Text from an agent's answer (a refusal's reason, a failure): cleaned, never refused, so one
 * agent's bytes cannot fail the statement that records every other agent's bid.
 */
export const AgentText = (max: number) => z.string().transform((s) => cleanText(s).slice(0, max));

/** How deep JSON a task carries may nest. */
export const MAX_JSON_DEPTH = 64;

/**
 * Where a JSON value cannot be stored, or null: nested deeper than MAX_JSON_DEPTH, or a string
 * or key PostgreSQL refuses. Iterative, so no input can exhaust the stack.
 */
export function jsonProblem(value: unknown): { path: (string | number)[]; message: string } | null {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { v, path } = item;
    if (typeof v === 'string') {
      if (!storable(v)) return { path, message: UNSTORABLE_MESSAGE };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path, message: 'must be a finite number' };
    } else if (v !== null && typeof v === 'object') {
      if (path.length >= MAX_JSON_DEPTH)
        return { path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
      if (Array.isArray(v)) for (const [i, x] of v.entries()) stack.push({ v: x, path: [...path, i] });
      else
        for (const [k, x] of Object.entries(v)) {
          if (!storable(k)) return { path: [...path, k], message: `key ${UNSTORABLE_MESSAGE}` };
          stack.push({ v: x, path: [...path, k] });
        }
    }
  }
  return null;
}

/** Capability names are stable identifiers agents and clients agree on. */
export const CapabilityName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$');

/**
 * Arbitrary JSON a task carries in or out; kept opaque by the manager. (Not `z.json()`: its
 * recursion breaks the OpenAPI generator, and the body parser has already ensured it is JSON.)
 */
export const JsonValue = z
  .unknown()
  .refine((v) => v !== undefined, 'is required')
  .superRefine((v, ctx) => {
    const problem = jsonProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
  })
  .meta({ description: `any JSON value, nested at most ${MAX_JSON_DEPTH} levels` });

/** The one error shape of every non-2xx answer. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** A page of a list: newest first, `nextCursor` is null on the last page. */
export const page = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
