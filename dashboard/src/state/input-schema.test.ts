import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeFields, skeletonOf } from './input-schema.ts';

describe('the submit form’s help from a capability’s input schema', () => {
  const schema = z.toJSONSchema(
    z.object({
      text: z.string().describe('the text to read'),
      top: z.int().min(1).default(5),
      mode: z.enum(['fast', 'exact']),
    }),
    { io: 'input' },
  ) as Record<string, unknown>;

  it('lists the fields with their types, required or not', () => {
    expect(describeFields(schema)).toEqual([
      { name: 'text', type: 'string', required: true, description: 'the text to read' },
      { name: 'top', type: 'integer', required: false },
      { name: 'mode', type: '"fast" | "exact"', required: true },
    ]);
  });

  it('starts the input with every required field', () => {
    expect(skeletonOf(schema)).toEqual({ text: '', mode: 'fast' });
    expect(skeletonOf({ type: 'object', examples: [{ n: 2 }] })).toEqual({ n: 2 });
  });
});
