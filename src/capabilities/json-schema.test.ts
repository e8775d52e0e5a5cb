import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JsonSchema, MAX_SCHEMA_DEPTH } from '../protocol/json-schema.ts';
import { compileSchema, violations, violationText } from './json-schema.ts';

describe('capability JSON Schemas', () => {
  const schema = {
    type: 'object',
    properties: { text: { type: 'string', minLength: 1 }, top: { type: 'integer', maximum: 50 } },
    required: ['text'],
    additionalProperties: false,
  };

  it('names where a value breaks the schema', () => {
    expect(violations(schema, { text: 'hi' })).toBeNull();
    expect(violations(schema, 'just a string')).toEqual([{ path: '/', message: 'must be object' }]);
    expect(violationText(violations(schema, { text: 'x', top: 99 })!)).toBe('/top: must be <= 50');
    expect(violationText(violations(schema, { text: 'x', extra: 1 })!)).toContain('(extra)');
  });

  it('takes what zod publishes, formats included', () => {
    const published = z.toJSONSchema(z.object({ email: z.email(), at: z.iso.datetime() }));
    expect(compileSchema(published as JsonSchema).ok).toBe(true);
    expect(violationText(violations(published as JsonSchema, { email: 'nope', at: 'x' })!)).toMatch(
      /^\/email: must match/,
    );
  });

  it('validates a draft-07 schema as 2020-12, and schemas sharing an $id separately', () => {
    const old = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://example.com/s.json',
      type: 'number',
    };
    const other = { $id: 'https://example.com/s.json', type: 'string' };
    expect(violations(old, 1)).toBeNull();
    expect(violations(other, 1)).not.toBeNull();
  });

  it('refuses what cannot be compiled, and patterns that may backtrack without end', () => {
    expect(compileSchema({ type: 'no-such-type' })).toMatchObject({ ok: false });
    expect(compileSchema({ $ref: 'https://elsewhere.example/schema.json' })).toMatchObject({ ok: false });
    expect(compileSchema({ type: 'string', pattern: '^(a)\\1$' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('linear time'),
    });
    expect(compileSchema({ patternProperties: { '(?<=x)y': {} } })).toMatchObject({ ok: false });
    expect(compileSchema({ type: 'string', pattern: '^[a-z]+$' }).ok).toBe(true);
  });

  it('runs a pattern that would backtrack without end in linear time', () => {
    const redos = { type: 'string', pattern: '^(a+)+$' };
    // Backtracking, this would not end in the life of the test.
    expect(violations(redos, `${'a'.repeat(40)}!`)).not.toBeNull();
  });

  it('bounds size and depth', () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < MAX_SCHEMA_DEPTH + 2; i++) deep = { items: deep };
    expect(JsonSchema.safeParse(deep).success).toBe(false);
    expect(JsonSchema.safeParse({ description: 'x'.repeat(20_000) }).success).toBe(false);
    expect(JsonSchema.safeParse({ description: 'a\u0000b' }).success).toBe(false);
    expect(JsonSchema.safeParse(schema).success).toBe(true);
  });
});
