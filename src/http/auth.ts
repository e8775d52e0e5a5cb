import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { AppError } from '../errors/app-error.ts';
import type { AgentRegistry } from '../registry/agent-registry.ts';
import type { AgentRow } from '../registry/agent-view.ts';
import { sameSecret } from '../security/same-secret.ts';

/** The bearer token of a request, if any. */
export function bearerOf(c: Context): string | undefined {
  const h = c.req.header('authorization');
  const m = h?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The principal an API key stands for (what tasks record as their owner). */
export const principalOf = (key: string) => digest(key).toString('hex').slice(0, 16);

/**
 * Checks a client's API key when keys are configured; returns a stable principal that scopes
 * idempotency keys ('anonymous' when keys are off).
 */
export function requireClient(c: Context, apiKeys: string[] | undefined): string {
  if (!apiKeys?.length) return 'anonymous';
  const token = bearerOf(c);
  if (!token)
    throw new AppError(
      401,
      'unauthorized',
      'this manager needs an API key: send "Authorization: Bearer <key>"',
    );
  if (!apiKeys.some((k) => sameSecret(token, k))) {
    throw new AppError(403, 'forbidden', 'the API key is not valid for this manager');
  }
  return principalOf(token);
}

/** Every client key, admin keys included; undefined when none is configured (auth off). */
export function clientKeys(keys: { API_KEYS?: string[]; ADMIN_KEYS?: string[] }): string[] | undefined {
  const all = [...(keys.API_KEYS ?? []), ...(keys.ADMIN_KEYS ?? [])];
  return all.length ? all : undefined;
}

/** What a client may see: `owner` null sees every task (keys off, or an admin key). */
export type ClientScope = { principal: string; owner: string | null };

/**
 * Checks the client's key (API_KEYS or ADMIN_KEYS) and says whose tasks it may see: with keys
 * configured, a task belongs to the key that submitted it, and only an admin key sees all.
 */
export function clientScope(c: Context, keys: { API_KEYS?: string[]; ADMIN_KEYS?: string[] }): ClientScope {
  const principal = requireClient(c, clientKeys(keys));
  if (principal === 'anonymous') return { principal, owner: null };
  const admin = (keys.ADMIN_KEYS ?? []).some((k) => principalOf(k) === principal);
  return { principal, owner: admin ? null : principal };
}

/** Whether the request carries one of ADMIN_KEYS (an operator's key). */
export function isAdmin(c: Context, keys: { ADMIN_KEYS?: string[] }): boolean {
  const token = bearerOf(c);
  if (!token || !keys.ADMIN_KEYS?.length) return false;
  return keys.ADMIN_KEYS.some((k) => sameSecret(token, k));
}

/**
 * 403 unless the request acts as the market's operator: an admin key, or anyone while keys are
 * off (then the one client is everyone). What moving or reading another's account needs.
 */
export function requireOperator(c: Context, keys: { API_KEYS?: string[]; ADMIN_KEYS?: string[] }): void {
  if (clientScope(c, keys).owner !== null)
    throw new AppError(
      403,
      'forbidden',
      "only an admin key (ADMIN_KEYS) reads, moves or limits another's account",
    );
}

/** The principal of the tasks an agent submits (its subtasks): its own, apart from any key's. */
export const agentPrincipal = (agentId: string) => `agent:${agentId}`;

/**
 * Whose tasks a request may see and act on: a client key's (clientScope), or, with keys
 * configured, an agent's own subtasks with its agent token.
 */
export async function taskScope(
  c: Context,
  keys: { API_KEYS?: string[]; ADMIN_KEYS?: string[] },
  registry: AgentRegistry,
): Promise<ClientScope> {
  try {
    return clientScope(c, keys);
  } catch (err) {
    const token = bearerOf(c);
    const agentId =
      token && err instanceof AppError && err.status === 403 ? await registry.agentIdOf(token) : null;
    if (!agentId) throw err;
    return { principal: agentPrincipal(agentId), owner: agentPrincipal(agentId) };
  }
}

/** The agent whose token the request carries; 401 without one, 403 with an unknown one. */
export async function requireAgent(c: Context, registry: AgentRegistry): Promise<AgentRow> {
  const token = bearerOf(c);
  if (!token)
    throw new AppError(401, 'unauthorized', 'agent calls need "Authorization: Bearer <agent token>"');
  const agent = await registry.authenticate(token);
  if (!agent) throw new AppError(403, 'forbidden', 'the agent token is not valid; register again to get one');
  return agent;
}

/**
 * The id of the agent whose token the request carries, without reading the agent once its token
 * is known: for calls whose statement is itself guarded by the agent (results, deferred bids).
 */
export async function requireAgentId(c: Context, registry: AgentRegistry): Promise<string> {
  const token = bearerOf(c);
  if (!token)
    throw new AppError(401, 'unauthorized', 'agent calls need "Authorization: Bearer <agent token>"');
  const id = await registry.agentIdOf(token);
  if (!id) throw new AppError(403, 'forbidden', 'the agent token is not valid; register again to get one');
  return id;
}

/** 403 unless the authenticated agent is `agentId`: an agent acts only on its own registration. */
export function requireSelf(agent: AgentRow, agentId: string) {
  if (agent.id !== agentId)
    throw new AppError(403, 'forbidden', 'an agent may act only on its own registration');
}

/**
 * With API keys configured, reading the registry (endpoints included) needs a client key, or
 * the agent's own token for its own profile: agents' addresses are not for anyone who asks.
 */
export async function requireReader(
  c: Context,
  apiKeys: string[] | undefined,
  registry: AgentRegistry,
  ownId?: string,
): Promise<void> {
  if (!apiKeys?.length) return;
  const token = bearerOf(c);
  if (ownId && token && (await registry.agentIdOf(token)) === ownId) return;
  requireClient(c, apiKeys);
}
