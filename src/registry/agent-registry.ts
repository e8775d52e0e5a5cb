import { and, desc, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { mergeCapabilities } from '../a2a/manager-card.ts';
import type { Db, Tx } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { agents, awards } from '../db/schema.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import type { EventHub } from '../events/event-hub.ts';
import { recordEvent } from '../events/event-log.ts';
import type { AgentRegistration, Capability, StandingOffer } from '../protocol/agent.ts';
import { LIVE_AWARD_STATUSES } from '../protocol/states.ts';
import type { AgentAddress } from '../resilience/agent-client.ts';
import type { OutboundGuard } from '../resilience/outbound-guard.ts';
import { sameSecret } from '../security/same-secret.ts';
import { selectAgentsWithStats } from './agent-stats.ts';
import { deriveAgentToken, hashToken, newTokenKid, revokedHash } from './agent-token.ts';
import type { AgentRow } from './agent-view.ts';
import {
  checkEndpoint,
  checkRegistrationKey,
  checkRoom,
  checkSchemas,
  nameTaken,
  releasable,
} from './registration-checks.ts';

export type RegistryOptions = {
  secret: string;
  registrationKey?: string;
  allowedHosts?: string[];
  /** Where the manager may send cfps: endpoints it would refuse to call are refused here. */
  guard?: OutboundGuard;
  /** Live (not deregistered) agents at most: MAX_AGENTS. */
  maxAgents?: number;
  /** Profiles changed here (registered, updated, deregistered): caches of them are stale. */
  onChange?: () => void;
  /** An agent made an authenticated request (liveness). */
  onHeard?: (agentId: string) => void;
  /** AGENT_TTL_MS: an inactive agent silent for NAME_RELEASE_TTLS of it gives up its name. */
  agentTtlMs?: number;
  /** Agents' going inactive and coming back are heard here: lists of what is on offer go stale. */
  hub?: EventHub;
};

/** How the manager will speak to a new registration, and what it bids for an A2A agent. */
export type Speaking =
  | { protocol: 'cnp' }
  | { protocol: 'a2a'; card: Record<string, unknown>; offer: StandingOffer };

/** The name is held by an agent silent for so long that a new registration may take it. */
class ReleasableName extends Error {
  constructor(readonly agentId: string) {
    super('releasable name');
  }
}

export type Registration = { agent: AgentRow; token?: string; created: boolean };

/** How long the merged capability list (the public card's skills) is served before it is read again. */
const CARD_CACHE_MS = 2000;

/** Skills the manager's card lists at most (by name): a card is a summary, not a registry dump. */
const MAX_LISTED_CAPABILITIES = 500;

/** How long another manager may go on accepting a token this one revoked or rotated away. */
const TOKEN_CACHE_MS = 5000;

/** Agents and their capability profiles: registration, lookup, heartbeats and deregistration. */
export class AgentRegistry {
  constructor(
    private readonly db: Db,
    private readonly opts: RegistryOptions,
  ) {
    opts.hub?.onAny((n) => {
      if (n.type === 'agent.inactive' || n.type === 'agent.active') this.forgetOffers();
    });
  }

  /**
   * The token every manager sharing the secret derives for an agent's current key id: the key of
   * its signatures. The key id comes with the agent's row, so a rotation is seen at once.
   */
  tokenOf(agentId: string, kid: string | null): string {
    const key = kid === null ? agentId : `${agentId}:${kid}`;
    let token = this.tokens.get(key);
    if (token === undefined) {
      token = deriveAgentToken(this.opts.secret, agentId, kid);
      if (this.tokens.size >= 100_000) this.tokens.clear();
      this.tokens.set(key, token);
    }
    return token;
  }
  /** Derived tokens by agent id and key id: an HMAC per agent call otherwise. */
  private readonly tokens = new Map<string, string>();

  /**
   * Registers a new agent (201 with a one-time token) or, with that agent's token, updates the
   * profile of an existing name (200, no token). Anything else on an existing name is 409.
   */
  async register(
    body: AgentRegistration,
    credentials: { bearer?: string; registrationKey?: string },
    speaking: Speaking = { protocol: 'cnp' },
    /** Deregisters an agent whose name this registration takes (its live awards end too). */
    retire?: (agentId: string) => Promise<void>,
  ): Promise<Registration> {
    checkSchemas(body.capabilities);
    if (body.endpoint) await checkEndpoint(body.endpoint, this.opts.allowedHosts, this.opts.guard);
    try {
      let reg: Awaited<ReturnType<AgentRegistry['upsert']>>;
      try {
        reg = await this.upsert(body, credentials, speaking);
      } catch (err) {
        if (!(err instanceof ReleasableName)) throw err;
        // Its holder has been gone for long: it is deregistered, and this registration is new.
        await retire?.(err.agentId);
        reg = await this.upsert(body, credentials, speaking);
      }
      this.cards.delete(reg.agent.id);
      this.forgetOffers();
      // Shown with its counters, ledger included (a re-registering agent has a record).
      return reg.created ? reg : { ...reg, agent: await this.get(reg.agent.id) };
    } catch (err) {
      // Two registrations of one new name at once: the loser sees the name taken.
      if (isUniqueViolation(err)) throw nameTaken(body.name);
      throw err;
    }
  }

  private upsert(
    body: AgentRegistration,
    credentials: { bearer?: string; registrationKey?: string },
    speaking: Speaking,
  ) {
    const profile = {
      a2aCard: speaking.protocol === 'a2a' ? speaking.card : null,
      protocol: speaking.protocol,
      standingOffer: speaking.protocol === 'a2a' ? speaking.offer : null,
      lastSeenAt: new Date(),
      endpoint: body.endpoint ?? null,
      capabilities: body.capabilities,
      capabilityNames: [...new Set(body.capabilities.map((c) => c.name))],
      maxConcurrency: body.maxConcurrency,
      description: body.description ?? null,
    };
    return this.db.transaction(async (tx) => {
      // A deregistered agent's name is free, but its id stays dead: whoever takes the name next
      // is a new agent with a new id, and sees none of the old one's subtasks or events.
      const [existing] = await tx
        .select()
        .from(agents)
        .where(and(eq(agents.name, body.name), ne(agents.status, 'deregistered')))
        .for('update');
      if (existing) {
        if (!credentials.bearer || !sameSecret(hashToken(credentials.bearer), existing.tokenHash)) {
          if (!releasable(existing, this.opts.agentTtlMs)) throw nameTaken(body.name);
          checkRegistrationKey(credentials, this.opts.registrationKey);
          throw new ReleasableName(existing.id);
        }
        const [agent] = await tx
          .update(agents)
          .set({ ...profile, status: 'active', updatedAt: new Date() })
          .where(eq(agents.id, existing.id))
          .returning();
        await recordEvent(tx, { agentId: existing.id, type: 'agent.updated', data: { name: body.name } });
        return { agent: agent!, created: false };
      }
      checkRegistrationKey(credentials, this.opts.registrationKey);
      await checkRoom(tx, this.opts.maxAgents);
      const id = uuidv7();
      const kid = newTokenKid();
      const token = this.tokenOf(id, kid);
      const [agent] = await tx
        .insert(agents)
        .values({ id, name: body.name, ...profile, tokenHash: hashToken(token), tokenKid: kid })
        .returning();
      await recordEvent(tx, { agentId: id, type: 'agent.registered', data: { name: body.name } });
      return { agent: agent!, token, created: true };
    });
  }

  /**
   * Token hash -> agent id, for a few seconds: this manager forgets a token it revokes at once,
   * another manager within TOKEN_CACHE_MS (SECURITY.md).
   */
  private readonly idByTokenHash = new Map<string, { id: string; until: number }>();

  /**
   * The id of the agent a token belongs to, or null; mostly without a database read. For calls
   * whose own statement checks what matters (a result report is guarded by the award).
   */
  async agentIdOf(token: string): Promise<string | null> {
    const hash = hashToken(token);
    const known = this.idByTokenHash.get(hash);
    const now = Date.now();
    if (known && known.until > now) {
      this.opts.onHeard?.(known.id);
      return known.id;
    }
    const agent = await this.authenticate(token);
    if (!agent) {
      this.idByTokenHash.delete(hash);
      return null;
    }
    if (this.idByTokenHash.size >= 100_000) this.idByTokenHash.clear();
    this.idByTokenHash.set(hash, { id: agent.id, until: now + TOKEN_CACHE_MS });
    return agent.id;
  }

  /** Where an agent is and the token that signs calls to it; null if it is unknown. */
  async addressOf(agentId: string): Promise<AgentAddress | null> {
    const [row] = await this.db
      .select({
        id: agents.id,
        endpoint: agents.endpoint,
        kid: agents.tokenKid,
        protocol: agents.protocol,
        offer: agents.standingOffer,
      })
      .from(agents)
      .where(eq(agents.id, agentId));
    // A pull-only agent has no address: nothing can be sent to it.
    if (!row?.endpoint) return null;
    return {
      id: row.id,
      endpoint: row.endpoint,
      token: this.tokenOf(row.id, row.kid),
      ...(row.protocol === 'a2a' && row.offer ? { a2a: { offer: row.offer } } : {}),
    };
  }

  /** The A2A card an agent registered with, read at most once per CARD_CACHE_MS (its calls are built from it). */
  async cardOf(agentId: string): Promise<Record<string, unknown> | null> {
    const now = Date.now();
    const known = this.cards.get(agentId);
    if (known && now - known.at < CARD_CACHE_MS) return known.card;
    const [row] = await this.db
      .select({ card: agents.a2aCard })
      .from(agents)
      .where(and(eq(agents.id, agentId), eq(agents.protocol, 'a2a')));
    const card = row?.card ?? null;
    if (this.cards.size >= 10_000) this.cards.clear();
    this.cards.set(agentId, { at: now, card });
    return card;
  }
  private readonly cards = new Map<string, { at: number; card: Record<string, unknown> | null }>();

  /**
   * Gives the agent a new token under a new key id; the old one stops working at once here (and
   * within TOKEN_CACHE_MS on other managers). Calls to the agent are signed with the new one.
   */
  async rotateToken(id: string, oldToken: string): Promise<string> {
    const kid = newTokenKid();
    const token = this.tokenOf(id, kid);
    await this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(agents)
        .set({ tokenHash: hashToken(token), tokenKid: kid, updatedAt: new Date() })
        .where(and(eq(agents.id, id), eq(agents.tokenHash, hashToken(oldToken))))
        .returning({ id: agents.id });
      if (!row)
        throw new AppError(403, 'forbidden', 'the agent token is not valid; register again to get one');
      await recordEvent(tx, { agentId: id, type: 'agent.token_rotated', data: { keyId: kid } });
    });
    this.idByTokenHash.delete(hashToken(oldToken));
    return token;
  }

  /** The agent a bearer token belongs to, or null. */
  async authenticate(token: string): Promise<AgentRow | null> {
    const [row] = await this.db
      .select()
      .from(agents)
      .where(eq(agents.tokenHash, hashToken(token)));
    if (row) this.opts.onHeard?.(row.id);
    return row ?? null;
  }

  /** Every capability some active agent offers now, one entry per name (the manager's card). */
  /**
   * The capabilities active agents offer, merged, at most MAX_LISTED_CAPABILITIES of them: read
   * at most once per CARD_CACHE_MS, so an anonymous caller of the public card costs a lookup.
   */
  liveCapabilities(): Promise<Capability[]> {
    const now = Date.now();
    if (!this.capabilities || now - this.capabilities.at > CARD_CACHE_MS) {
      const list = this.db
        .select({ capabilities: agents.capabilities })
        .from(agents)
        .where(eq(agents.status, 'active'))
        .limit(10_000)
        .then((rows) => mergeCapabilities(rows.map((r) => r.capabilities)).slice(0, MAX_LISTED_CAPABILITIES));
      this.capabilities = { at: now, list };
      list.catch(() => {
        if (this.capabilities?.list === list) this.capabilities = null;
      });
    }
    return this.capabilities.list;
  }
  private capabilities: { at: number; list: Promise<Capability[]> } | null = null;

  async get(id: string): Promise<AgentRow> {
    const [row] = await selectAgentsWithStats(this.db).where(eq(agents.id, id));
    if (!row) throw notFound('agent', id);
    return row;
  }

  async list(opts: { limit: number; cursor?: string; capability?: string; status?: AgentRow['status'] }) {
    const rows = await selectAgentsWithStats(this.db)
      .where(
        and(
          opts.cursor ? lt(agents.id, opts.cursor) : undefined,
          opts.capability ? sql`${opts.capability} = any(${agents.capabilityNames})` : undefined,
          opts.status ? eq(agents.status, opts.status) : undefined,
        ),
      )
      .orderBy(desc(agents.id))
      .limit(opts.limit + 1);
    const more = rows.length > opts.limit;
    const items = rows.slice(0, opts.limit);
    return { items, nextCursor: more ? items.at(-1)!.id : null };
  }

  /**
   * A heartbeat: the agent is seen now, and an inactive one is active again (`agent.active`,
   * `reactivated`: the caller wakes tasks queued for its capabilities).
   */
  async heartbeat(
    id: string,
    running: number | undefined,
  ): Promise<{ agent: AgentRow; reactivated: boolean }> {
    const reactivated = await this.db.transaction(async (tx) => {
      const [row] = await tx
        .select({ status: agents.status, name: agents.name })
        .from(agents)
        .where(eq(agents.id, id))
        // Not FOR UPDATE: that would also hold back the KEY SHARE locks of rows that reference it.
        .for('no key update');
      if (!row) throw notFound('agent', id);
      const wasInactive = row.status === 'inactive';
      const now = new Date();
      await tx
        .update(agents)
        .set({
          lastHeartbeatAt: now,
          lastSeenAt: now,
          ...(running === undefined ? {} : { running }),
          ...(wasInactive ? { status: 'active' as const, updatedAt: now } : {}),
        })
        .where(eq(agents.id, id));
      if (wasInactive) await recordEvent(tx, { agentId: id, type: 'agent.active', data: { name: row.name } });
      return wasInactive;
    });
    if (reactivated) this.forgetOffers();
    return { agent: await this.get(id), reactivated };
  }

  /** What is on offer changed (a registration, a deregistration, an agent inactive or back): lists of it are stale. */
  forgetOffers(): void {
    this.capabilities = null;
    this.opts.onChange?.();
  }

  /** Marks the agent deregistered; returns the ids of tasks it holds a live award on. */
  async deregister(tx: Tx, id: string, reason?: 'name_taken_over'): Promise<string[]> {
    this.forgetOffers();
    // Its token dies with it: the hash it had is replaced by one no token hashes to.
    const [row] = await tx
      .update(agents)
      .set({ status: 'deregistered', running: 0, tokenHash: revokedHash(id), updatedAt: new Date() })
      .where(eq(agents.id, id))
      .returning();
    if (!row) throw notFound('agent', id);
    for (const [hash, known] of this.idByTokenHash) if (known.id === id) this.idByTokenHash.delete(hash);
    this.cards.delete(id);
    await recordEvent(tx, {
      agentId: id,
      type: 'agent.deregistered',
      data: { name: row.name, ...(reason ? { reason } : {}) },
    });
    const held = await tx
      .select({ id: awards.id })
      .from(awards)
      .where(and(eq(awards.agentId, id), inArray(awards.status, [...LIVE_AWARD_STATUSES])));
    return held.map((h) => h.id);
  }
}
