import type { Agent } from '../../../src/protocol/agent.ts';

type Schema = Record<string, unknown>;

/** The input schema an active agent offering `capability` publishes (the first one), if any. */
export function inputSchemaOf(agents: readonly Agent[], capability: string): Schema | undefined {
  for (const a of agents)
    if (a.status === 'active')
      for (const c of a.capabilities) if (c.name === capability && c.inputSchema) return c.inputSchema;
  return undefined;
}

const typeOf = (s: unknown): string => {
  if (typeof s !== 'object' || s === null) return 'any';
  const o = s as Schema;
  if (Array.isArray(o.enum)) return o.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (typeof o.type === 'string') return o.type;
  if (Array.isArray(o.type)) return o.type.join(' | ');
  return 'any';
};

/** One line per top-level field: its name, type, whether it is required, and its description. */
export function describeFields(
  schema: Schema,
): { name: string; type: string; required: boolean; description?: string }[] {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    type: typeOf(s),
    required: required.has(name),
    ...(typeof s?.description === 'string' ? { description: s.description } : {}),
  }));
}

/** A starting input from a schema: its first example, else each required field with a blank of its type. */
export function skeletonOf(schema: Schema): unknown {
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  switch (schema.type) {
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
      return Object.fromEntries(required.filter((k) => props[k]).map((k) => [k, skeletonOf(props[k]!)]));
    }
    default:
      return {};
  }
}
