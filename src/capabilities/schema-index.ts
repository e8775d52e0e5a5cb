import { and, arrayContains, eq, ne } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { agents } from '../db/schema.ts';
import { AppError } from '../errors/app-error.ts';
import type { Capability } from '../protocol/agent.ts';
import { violations, violationText } from './json-schema.ts';

/** How long what agents offer is served from memory before it is read again. */
const CACHE_MS = 2000;
/** Entries kept at most per map: capabilities asked about, agents asked about. */
const MAX_ENTRIES = 10_000;

type Offer = { agentId: string; capability: Capability };

/** The schema one agent's capability has, or nothing. */
const schemaOf = (caps: readonly Capability[], name: string, key: 'inputSchema' | 'outputSchema') =>
  caps.find((c) => c.name === name)?.[key];

/**
 * What each agent says a capability takes and gives (its `inputSchema` and `outputSchema`),
 * read from the registry at most once per CACHE_MS per capability or agent, and forgotten at
 * once when an agent registers or leaves on this manager.
 */
export class SchemaIndex {
  private readonly byCapability = new Map<string, { at: number; offers: Promise<Offer[]> }>();
  private readonly byAgent = new Map<string, { at: number; caps: Promise<Capability[]> }>();

  constructor(private readonly db: Db) {}

  /** Registration or deregistration: what is on offer has changed. */
  invalidate(): void {
    this.byCapability.clear();
    this.byAgent.clear();
  }

  /** The active agents offering `capability`, with their profile of it. */
  private offersOf(capability: string): Promise<Offer[]> {
    const now = Date.now();
    const known = this.byCapability.get(capability);
    if (known && now - known.at < CACHE_MS) return known.offers;
    const offers = this.db
      .select({ id: agents.id, capabilities: agents.capabilities })
      .from(agents)
      .where(and(eq(agents.status, 'active'), arrayContains(agents.capabilityNames, [capability])))
      .limit(1000)
      .then((rows) =>
        rows.flatMap((r) => {
          const c = r.capabilities.find((x) => x.name === capability);
          return c ? [{ agentId: r.id, capability: c }] : [];
        }),
      );
    if (this.byCapability.size >= MAX_ENTRIES) this.byCapability.clear();
    this.byCapability.set(capability, { at: now, offers });
    offers.catch(() => this.byCapability.delete(capability));
    return offers;
  }

  private capabilitiesOf(agentId: string): Promise<Capability[]> {
    const now = Date.now();
    const known = this.byAgent.get(agentId);
    if (known && now - known.at < CACHE_MS) return known.caps;
    const caps = this.db
      .select({ capabilities: agents.capabilities })
      .from(agents)
      .where(and(eq(agents.id, agentId), ne(agents.status, 'deregistered')))
      .then((rows) => rows[0]?.capabilities ?? []);
    if (this.byAgent.size >= MAX_ENTRIES) this.byAgent.clear();
    this.byAgent.set(agentId, { at: now, caps });
    caps.catch(() => this.byAgent.delete(agentId));
    return caps;
  }

  /**
   * A submission's input against the schemas of the agents that offer its capability. The
   * agents whose schema refuses it are returned (they are never invited); when every offering
   * agent has a schema and none accepts, 422 names where the input breaks the first of them and
   * nothing is stored. No agent offering it: nothing to check against yet.
   */
  async checkInput(capability: string, input: unknown): Promise<{ unfit: string[] }> {
    const offers = await this.offersOf(capability);
    const unfit: string[] = [];
    let first: ReturnType<typeof violations> = null;
    let unchecked = 0;
    for (const o of offers) {
      const schema = o.capability.inputSchema;
      if (!schema) {
        unchecked++;
        continue;
      }
      const broken = violations(schema, input);
      if (broken) {
        unfit.push(o.agentId);
        first ??= broken;
      }
    }
    if (offers.length && !unchecked && unfit.length === offers.length && first)
      throw new AppError(
        422,
        'invalid_request',
        `the input matches the inputSchema of no agent offering ${capability} (see GET /v1/capabilities)`,
        first.map((v) => ({
          field: `input${v.path === '/' ? '' : v.path.replaceAll('/', '.')}`,
          message: v.message,
        })),
      );
    return { unfit };
  }

  /** Why this agent's inputSchema refuses the input, or null (no schema, or it matches). */
  async inputRefusal(agentId: string, capability: string, input: unknown): Promise<string | null> {
    const schema = schemaOf(await this.capabilitiesOf(agentId), capability, 'inputSchema');
    const broken = schema ? violations(schema, input) : null;
    return broken ? `input does not match its inputSchema: ${violationText(broken)}` : null;
  }

  /**
   * Why this agent's output breaks its own outputSchema for the task's capability, or null.
   * `capability` is asked only of an agent that declares an output schema at all.
   */
  async outputRefusal(
    agentId: string,
    capability: () => Promise<string>,
    output: unknown,
  ): Promise<string | null> {
    const caps = await this.capabilitiesOf(agentId);
    if (!caps.some((c) => c.outputSchema)) return null;
    const schema = schemaOf(caps, await capability(), 'outputSchema');
    const broken = schema ? violations(schema, output) : null;
    return broken ? `output does not match its outputSchema: ${violationText(broken)}` : null;
  }
}
