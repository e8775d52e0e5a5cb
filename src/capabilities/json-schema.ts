import { setFlagsFromString } from 'node:v8';
import { RegExpParser, visitRegExpAST } from '@eslint-community/regexpp';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { JsonSchema } from '../protocol/json-schema.ts';

/** One place where a value breaks a schema: a JSON Pointer into the value and what is wrong. */
export type SchemaViolation = { path: string; message: string };

/**
 * Schemas come from agents, and their patterns run on every submission of the capability: a
 * pattern that backtracks without end would stall the manager. V8 runs a regular expression in
 * its linear-time engine once it has backtracked too much (patterns are compiled without the `u`
 * flag, which that engine does not take), and a pattern the linear engine cannot run
 * (backreferences, lookarounds) is refused at registration (`linear`).
 */
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const parser = new RegExpParser({ ecmaVersion: 2025 });

/**
 * Whether V8's linear-time engine can run the pattern: it parses (as ECMAScript, without `u`)
 * and has no backreference and no lookaround, the constructs that engine does not take. Read
 * from the pattern's syntax (regexpp), not by asking V8, whose answer depends on flags that a
 * worker thread may not share.
 */
function linear(pattern: string): boolean {
  let ok = true;
  try {
    visitRegExpAST(parser.parsePattern(pattern, 0, pattern.length, { unicode: false }), {
      onBackreferenceEnter: () => {
        ok = false;
      },
      onAssertionEnter: (node) => {
        if (node.kind === 'lookahead' || node.kind === 'lookbehind') ok = false;
      },
    });
  } catch {
    return false;
  }
  return ok;
}

/**
 * `addUsedSchema: false`: schemas from different agents may share an `$id`; none is registered
 * under it. `strict: false`: keywords ajv does not know (annotations other tools add) are ignored.
 */
const ajv = new Ajv2020({
  unicodeRegExp: false,
  strict: false,
  allErrors: false,
  addUsedSchema: false,
  validateSchema: true,
  // An unknown format is ignored (as the specification allows), without a line on stdout.
  logger: false,
});
addFormats.default(ajv);

const compiled = new Map<string, ValidateFunction | string>();
const MAX_COMPILED = 2000;

/** Every regular expression a schema holds (`pattern` values, `patternProperties` keys). */
function patternsOf(schema: unknown): string[] {
  const out: string[] = [];
  const stack: unknown[] = [schema];
  for (let x = stack.pop(); x !== undefined; x = stack.pop()) {
    if (x === null || typeof x !== 'object') continue;
    if (!Array.isArray(x)) {
      const o = x as Record<string, unknown>;
      if (typeof o.pattern === 'string') out.push(o.pattern);
      if (o.patternProperties && typeof o.patternProperties === 'object')
        out.push(...Object.keys(o.patternProperties));
    }
    stack.push(...Object.values(x));
  }
  return out;
}

/**
 * The schema compiled once (cached by its text), or why it cannot be: it is not a valid 2020-12
 * schema, refers to what it does not hold, or has a pattern that cannot run in linear time.
 */
export function compileSchema(
  schema: JsonSchema,
): { ok: true; validate: ValidateFunction } | { ok: false; message: string } {
  // The same schema object (a cached profile) is looked up without serialising it again.
  let entry = byObject.get(schema);
  if (entry === undefined) {
    entry = compileByText(schema);
    byObject.set(schema, entry);
  }
  return typeof entry === 'string' ? { ok: false, message: entry } : { ok: true, validate: entry };
}

const byObject = new WeakMap<object, ValidateFunction | string>();

function compileByText(schema: JsonSchema): ValidateFunction | string {
  // Draft-07 and older schemas mostly read the same; they are validated as 2020-12.
  const { $schema, ...rest } = schema;
  const doc = typeof $schema === 'string' && $schema.includes('2020-12') ? schema : rest;
  const key = JSON.stringify(doc);
  let entry = compiled.get(key);
  if (entry === undefined) {
    const unsafe = patternsOf(doc).find((p) => !linear(p));
    if (unsafe !== undefined)
      entry = `pattern ${JSON.stringify(unsafe.slice(0, 100))} cannot run in linear time (no backreferences or lookarounds)`;
    else
      try {
        entry = ajv.compile(doc);
      } catch (err) {
        entry = `not a valid JSON Schema: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`;
      }
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, entry);
  }
  return entry;
}

/** Where `value` breaks `schema` (the first few places), or null if it matches. */
export function violations(schema: JsonSchema, value: unknown): SchemaViolation[] | null {
  const c = compileSchema(schema);
  // A schema that stopped compiling (never, once registration checked it) refuses nothing.
  if (!c.ok || c.validate(value)) return null;
  return (c.validate.errors ?? []).slice(0, 5).map(describe);
}

function describe(e: ErrorObject): SchemaViolation {
  const extra =
    e.keyword === 'additionalProperties'
      ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})`
      : e.keyword === 'enum'
        ? `: ${JSON.stringify((e.params as { allowedValues?: unknown[] }).allowedValues).slice(0, 200)}`
        : '';
  return { path: e.instancePath || '/', message: `${e.message ?? e.keyword}${extra}` };
}

/** One line for a reason or an error message: `/text: must be string; /n: must be <= 10`. */
export const violationText = (v: SchemaViolation[]): string =>
  v.map((x) => `${x.path}: ${x.message}`).join('; ');
