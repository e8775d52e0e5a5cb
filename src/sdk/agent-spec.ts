import type { MiddlewareHandler } from 'hono';
import { toJSONSchema, type z } from 'zod';
import type { Capability } from '../protocol/agent.ts';
import type { Cfp, Proposal, Refusal, RejectProposal, TaskSpec } from '../protocol/messages.ts';
import type { ManagerClient } from './manager-client.ts';
import type { SubcontractOptions } from './subcontract.ts';

/** What `bid` sees besides the cfp: the agent's own load, for strategies that price it in. */
export type BidContext = { running: number; queued: number; capacity: number };

/** A bid decided later: the SDK answers `deferred` now and posts the bid when `decide` resolves. */
export type DeferredDecision = { type: 'deferred'; decide: () => Promise<Proposal | Refusal> };

export type BidDecision = Proposal | Refusal | DeferredDecision;

export type WorkContext = {
  signal: AbortSignal;
  task: TaskSpec;
  awardId: string;
  /** What the award pays (the accepted bid's cost; null for a task claimed from the queue). */
  cost: number | null;
  /**
   * Submits a subtask through the market and waits for its output (subcontract.ts): the budgets
   * of this award's subtasks together at most its `cost` (without one, a subtask's budget is what
   * is left), deadline at most its dueAt; cancelled with this work's `signal`.
   */
  subcontract(capability: string, input: unknown, options?: SubcontractOptions): Promise<unknown>;
};

/**
 * A capability as the SDK takes it: its name, and optionally zod schemas of its input and
 * output, published to the manager as JSON Schema (inputSchema, outputSchema) and checked here.
 */
export type CapabilitySpec = Omit<Capability, 'inputSchema' | 'outputSchema'> & {
  input?: z.ZodType;
  output?: z.ZodType;
};

export type AgentSpec<Input = unknown, Output = unknown> = {
  name: string;
  capabilities: (CapabilitySpec | Capability | string)[];
  description?: string;
  /** How many awarded tasks run at once; further awards wait their turn. */
  maxConcurrency?: number;
  /** Validates `task.input` before bidding and working; invalid input is refused / fails. */
  input?: z.ZodType<Input>;
  /** Decide on a cfp: propose, refuse, or `deferred(...)`. */
  bid(cfp: Cfp & { task: TaskSpec & { input: Input } }, ctx: BidContext): BidDecision | Promise<BidDecision>;
  /** Do the work; throw to report `failure`. Honour `signal`: it aborts on cancel. */
  execute(input: Input, ctx: WorkContext): Output | Promise<Output>;
  /** Called on reject-proposal, for strategies that learn from losing. */
  onReject?(msg: RejectProposal): void;
  /** Answer the award with the result itself when the work finishes within this many ms. */
  inlineResultMs?: number;
  /** Requests larger than this are refused with 413 before they are read (default 2 MiB). */
  bodyLimitBytes?: number;
  /** Hono middleware run before the protocol routes (logging, extra auth, fault injection). */
  middleware?: MiddlewareHandler[];
};

export type StartOptions = {
  /** The manager's base URL. */
  manager: string;
  port?: number;
  host?: string;
  /** The URL the manager should call; defaults to http://host:port. */
  publicUrl?: string;
  /**
   * Where the agent keeps its id and token across restarts, so it comes back under its name.
   * Default: `$CNET_AGENT_HOME` (else `~/.contract-net/agents`) / `<name>@<manager host_port>.json`;
   * `false` keeps nothing.
   */
  tokenFile?: string | false;
  registrationKey?: string;
  /** How often to heartbeat; default what the manager asks at registration (a third of its AGENT_TTL_MS). */
  heartbeatMs?: number;
  /** On SIGINT and SIGTERM: stop, deregister and exit (default true). */
  handleSignals?: boolean;
  /** Where the SDK says what it does (listening, registered, manager unreachable); default stderr. */
  log?: (line: string) => void;
  /** For tests: how many times and how fast a result report is retried. */
  reportAttempts?: number;
  /**
   * Also pull from the manager's fallback work queue whenever there is free capacity. The claim
   * is a long-poll: the manager answers as soon as a matching task is queued.
   */
  pull?: { leaseMs?: number; waitMs?: number };
  /**
   * Register without an endpoint and serve nothing: the manager never sends this agent a cfp
   * and it takes work only by pulling from the queue (`pull` defaults on).
   */
  pullOnly?: boolean;
};

export type RunningAgent = {
  id: string;
  /** Where the manager reaches the agent; null for a pull-only agent. */
  url: string | null;
  manager: ManagerClient;
  /** Running and waiting work. */
  load(): { running: number; queued: number };
  /**
   * Replaces the agent's token with a new one (saved to `tokenFile`); the old one stops working
   * at once, while messages the manager signed with it just before are still accepted.
   */
  rotateToken(): Promise<void>;
  /** Stops bidding, lets running work finish (or aborts it after `graceMs`), deregisters and closes. */
  stop(opts?: { graceMs?: number; deregister?: boolean }): Promise<void>;
};

/** Helper for `bid`: answer `deferred` now and post the real bid once `decide` resolves. */
export const deferred = (decide: () => Promise<Proposal | Refusal>): DeferredDecision => ({
  type: 'deferred',
  decide,
});

/**
 * A capability as the manager is told of it: zod schemas become JSON Schema (2020-12), the input
 * as it may be sent (defaults optional), the output as it is produced.
 */
export function publishedCapability(
  c: CapabilitySpec | Capability | string,
  specInput?: z.ZodType,
): Capability {
  if (typeof c === 'string')
    return specInput ? { name: c, inputSchema: jsonSchemaOf(specInput, 'input') } : { name: c };
  const { input, output, ...rest } = c as CapabilitySpec & Capability;
  const inSchema = input ?? (rest.inputSchema ? undefined : specInput);
  return {
    ...rest,
    ...(inSchema ? { inputSchema: jsonSchemaOf(inSchema, 'input') } : {}),
    ...(output ? { outputSchema: jsonSchemaOf(output, 'output') } : {}),
  };
}

const jsonSchemaOf = (schema: z.ZodType, io: 'input' | 'output') =>
  toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;

/** The zod schema a capability's input is checked with: its own, else the spec's. */
function inputSchemaOf(
  spec: Pick<AgentSpec, 'input' | 'capabilities'>,
  capability: string,
): z.ZodType | undefined {
  const own = spec.capabilities.find(
    (c): c is CapabilitySpec => typeof c !== 'string' && c.name === capability && 'input' in c,
  );
  return own?.input ?? spec.input;
}

/** The task input checked against its capability's schema (or the spec's), or why it is not acceptable. */
export function inputOf<Input>(
  spec: Pick<AgentSpec<Input>, 'input' | 'capabilities'>,
  task: TaskSpec,
): { ok: true; value: Input } | { ok: false; reason: string } {
  const schema = inputSchemaOf(spec as Pick<AgentSpec, 'input' | 'capabilities'>, task.capability);
  if (!schema) return { ok: true, value: task.input as Input };
  const r = schema.safeParse(task.input);
  return r.success
    ? { ok: true, value: r.data as Input }
    : { ok: false, reason: `invalid input: ${r.error.issues[0]?.message}` };
}
