import { z } from 'zod';
import { CapabilityName, callablePort, Id, Int32, Text, Timestamp } from './common.ts';
import { JsonSchema } from './json-schema.ts';
import { AGENT_STATUSES } from './states.ts';

/** Capabilities one agent may offer: each is a line in every listing and card it appears in. */
export const MAX_CAPABILITIES = 64;

/** The largest A2A Agent Card the manager takes (JSON bytes): it is kept and served as sent. */
export const MAX_AGENT_CARD_BYTES = 64 * 1024;

export const Capability = z
  .object({
    name: CapabilityName,
    description: Text(1000).optional(),
    tags: z.array(Text(64)).max(32).optional(),
    /** What the agent takes as a task's input: only inputs it accepts are sent to it. */
    inputSchema: JsonSchema.optional(),
    /** What its output is: an output that breaks it is the agent's failure, never a completion. */
    outputSchema: JsonSchema.optional(),
  })
  .strict()
  .meta({ id: 'Capability' });
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

/** A bid: what the work costs and how long it takes. */
const Offer = z.object({ cost: z.number().min(0).max(1e12), etaMs: Int32.min(1) }).strict();

/**
 * The bid the manager makes for an A2A agent in every round it is invited to (an A2A agent
 * cannot bid itself): `default` for every skill, `skills` per skill id.
 */
export const StandingOffer = z
  .object({
    default: Offer.default({ cost: 10, etaMs: 30_000 }),
    skills: z.record(CapabilityName, Offer).optional(),
  })
  .strict()
  .meta({ id: 'StandingOffer' });
export type StandingOffer = z.infer<typeof StandingOffer>;

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

/** `inactive`: not heard from for AGENT_TTL_MS; not invited until its next heartbeat. */
export const AgentStatus = z.enum(AGENT_STATUSES);
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
    /** How the manager speaks to it: this protocol (`cnp`), or A2A (registered by its card). */
    protocol: z.enum(['cnp', 'a2a']),
    /** An A2A agent's standing offer: the bid the manager makes for it. */
    offer: StandingOffer.nullable(),
    status: AgentStatus,
    circuit: CircuitState,
    running: z.number().int(),
    lastHeartbeatAt: Timestamp.nullable(),
    /** When it was last heard from: a heartbeat, a request, an answered call. */
    lastSeenAt: Timestamp,
    stats: AgentStats,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Agent' });
export type Agent = z.infer<typeof Agent>;

export const RegistrationResult = z.object({
  agent: Agent,
  token: z.string().optional(),
  /** Heartbeat at least this often (ms): an agent silent for AGENT_TTL_MS is inactive. */
  heartbeatMs: z.number().int().optional(),
});
export type RegistrationResult = z.infer<typeof RegistrationResult>;

export const Heartbeat = z.object({ running: Int32.min(0).optional() });
export type Heartbeat = z.infer<typeof Heartbeat>;

/** A rotated token (`POST /v1/agents/{id}/token`): calls to the agent are signed with it from now on. */
export const NewToken = z.object({ token: z.string() });
export type NewToken = z.infer<typeof NewToken>;
