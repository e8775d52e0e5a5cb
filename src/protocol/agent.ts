import { z } from 'zod';
import { CapabilityName, callablePort, Id, Int32, Text, Timestamp } from './common.ts';

/** Capabilities one agent may offer: each is a line in every listing and card it appears in. */
export const MAX_CAPABILITIES = 64;

/** The largest A2A Agent Card the manager takes (JSON bytes): it is kept and served as sent. */
export const MAX_AGENT_CARD_BYTES = 64 * 1024;

export const Capability = z
  .object({
    name: CapabilityName,
    description: Text(1000).optional(),
    tags: z.array(Text(64)).max(32).optional(),
  })
  .strict();
export type Capability = z.infer<typeof Capability>;

/** An http(s) base URL without credentials, where the manager reaches the agent. */
export const Endpoint = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  // zod runs refinements even after the URL check failed, so parse defensively.
  .refine((u) => {
    const url = URL.canParse(u) ? new URL(u) : null;
    return !url || (url.username === '' && url.password === '');
  }, 'must not contain credentials')
  .refine(callablePort, 'must not use port 0')
  // The manager appends /cfp, /award...: a query or fragment would turn that into anything.
  .refine((u) => {
    const url = URL.canParse(u) ? new URL(u) : null;
    return !url || (url.search === '' && url.hash === '' && !u.includes('?') && !u.includes('#'));
  }, 'must not contain a query or a fragment');

export const AgentRegistration = z
  .object({
    name: Text(128).pipe(z.string().min(1)),
    /** Absent: a pull-only agent, never sent a cfp; it takes work with POST /v1/queue/claim. */
    endpoint: Endpoint.optional(),
    capabilities: z.array(Capability).min(1).max(MAX_CAPABILITIES),
    maxConcurrency: z.number().int().min(1).max(10_000).default(1),
    description: Text(2000).optional(),
  })
  .strict()
  .meta({ id: 'AgentRegistration' });
export type AgentRegistration = z.infer<typeof AgentRegistration>;

export const AgentStatus = z.enum(['active', 'draining', 'deregistered']);
export type AgentStatus = z.infer<typeof AgentStatus>;

export const CircuitState = z.enum(['closed', 'open', 'half-open']);
export type CircuitState = z.infer<typeof CircuitState>;

export const AgentStats = z.object({
  cfps: z.number().int(),
  proposals: z.number().int(),
  refusals: z.number().int(),
  noReplies: z.number().int(),
  awards: z.number().int(),
  completions: z.number().int(),
  failures: z.number().int(),
  reputation: z.number().min(0).max(1),
});
export type AgentStats = z.infer<typeof AgentStats>;

export const Agent = z
  .object({
    id: Id,
    name: z.string(),
    endpoint: z.string().nullable(),
    capabilities: z.array(Capability),
    maxConcurrency: z.number().int(),
    description: z.string().nullable(),
    /** The A2A Agent Card the agent registered with, as sent (null: it registered a profile). */
    card: z.record(z.string(), z.unknown()).nullable(),
    status: AgentStatus,
    circuit: CircuitState,
    running: z.number().int(),
    lastHeartbeatAt: Timestamp.nullable(),
    stats: AgentStats,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Agent' });
export type Agent = z.infer<typeof Agent>;

export const RegistrationResult = z.object({ agent: Agent, token: z.string().optional() });
export type RegistrationResult = z.infer<typeof RegistrationResult>;

export const Heartbeat = z.object({ running: Int32.min(0).optional() });
export type Heartbeat = z.infer<typeof Heartbeat>;

/** A rotated token (`POST /v1/agents/{id}/token`): calls to the agent are signed with it from now on. */
export const NewToken = z.object({ token: z.string() });
export type NewToken = z.infer<typeof NewToken>;
