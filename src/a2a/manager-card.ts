import type { Capability } from '../protocol/agent.ts';

/** Where the manager answers A2A JSON-RPC: the interface its card names. */
export const A2A_PATH = '/v1/a2a';

/**
 * The manager's own A2A Agent Card (v1.0): one skill per capability some active agent offers
 * now (sending a message with it submits a task of that capability), the JSON-RPC interface it
 * really serves, and the bearer scheme when API keys are configured.
 */
export function managerCard(opts: {
  publicUrl: string;
  capabilities: Capability[];
  keysRequired: boolean;
  version: string;
}) {
  const base = opts.publicUrl.replace(/\/+$/, '');
  return {
    name: 'contract-net-manager',
    description:
      'A contract-net task marketplace: a message names a capability (message.metadata.capability) and carries the input (a data part, or text); the task is auctioned to the agents that offer the capability and the best bid does it.',
    version: opts.version,
    supportedInterfaces: [{ url: `${base}${A2A_PATH}`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
    documentationUrl: `${base}/docs`,
    capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
    securitySchemes: opts.keysRequired
      ? {
          bearer: {
            httpAuthSecurityScheme: {
              scheme: 'Bearer',
              description: "an API key of this manager's API_KEYS",
            },
          },
        }
      : {},
    securityRequirements: opts.keysRequired ? [{ schemes: { bearer: { list: [] } } }] : [],
    defaultInputModes: ['application/json', 'text/plain'],
    defaultOutputModes: ['application/json'],
    skills: opts.capabilities.map((c) => ({
      id: c.name,
      name: c.name,
      description: skillDescription(c),
      tags: c.tags ?? [],
      // A capability with an input schema takes a data part that matches it; else text as well.
      inputModes: c.inputSchema ? ['application/json'] : ['application/json', 'text/plain'],
      outputModes: ['application/json'],
      ...(c.inputSchema ? { examples: examplesOf(c.inputSchema) } : {}),
    })),
  };
}

/** What a skill does, and what it takes (its input schema, compact) when its agents say. */
function skillDescription(c: Capability): string {
  const what = c.description ?? `tasks of capability ${c.name}, auctioned among the agents that offer it`;
  if (!c.inputSchema) return what;
  const { $schema: _s, ...schema } = c.inputSchema;
  const text = JSON.stringify(schema);
  return `${what}. Send metadata.capability "${c.name}" and a data part matching this JSON Schema: ${
    text.length > 1500 ? `${text.slice(0, 1500)}… (GET /v1/capabilities has it whole)` : text
  }`;
}

/** The schema's own `examples` as the skill's examples (A2A examples are strings). */
function examplesOf(schema: Record<string, unknown>): string[] {
  const ex = schema.examples;
  return Array.isArray(ex) ? ex.slice(0, 5).map((e) => JSON.stringify(e).slice(0, 500)) : [];
}

/** Capabilities of several agents as one list: one entry per name, the first description and tags kept. */
export function mergeCapabilities(lists: readonly (readonly Capability[])[]): Capability[] {
  const byName = new Map<string, Capability>();
  for (const list of lists) for (const c of list) if (!byName.has(c.name)) byName.set(c.name, c);
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
