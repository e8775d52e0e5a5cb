import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { cardField, cardRegistration, registrationFromCard } from '../../a2a/agent-card.ts';
import { AppError } from '../../errors/app-error.ts';
import { jsonSizeWithin } from '../../limits/json-size.ts';
import {
  Agent,
  AgentRegistration,
  AgentStatus,
  Heartbeat,
  MAX_AGENT_CARD_BYTES,
  NewToken,
  RegistrationResult,
} from '../../protocol/agent.ts';
import { CapabilityName, page } from '../../protocol/common.ts';
import type { Speaking } from '../../registry/agent-registry.ts';
import { toAgentView } from '../../registry/agent-view.ts';
import { heartbeatIntervalOf } from '../../registry/liveness.ts';
import {
  agentPrincipal,
  bearerOf,
  clientKeys,
  isAdmin,
  requireAgent,
  requireReader,
  requireSelf,
} from '../auth.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { bearer, errorResponses, IdParam, json, PageQuery } from '../openapi-helpers.ts';

const register = createRoute({
  method: 'post',
  path: '/v1/agents',
  tags: ['agents'],
  summary: 'Register an agent, or update its profile with its token',
  request: { body: { content: { 'application/json': { schema: AgentRegistration } }, required: true } },
  responses: {
    201: json(RegistrationResult, 'Registered; the token is shown this once'),
    200: json(RegistrationResult, 'Profile updated'),
    ...errorResponses,
  },
});

const list = createRoute({
  method: 'get',
  path: '/v1/agents',
  tags: ['agents'],
  security: bearer,
  request: {
    query: PageQuery.extend({ capability: CapabilityName.optional(), status: AgentStatus.optional() }),
  },
  responses: { 200: json(page(Agent), 'Agents, newest first'), ...errorResponses },
});

const get = createRoute({
  method: 'get',
  path: '/v1/agents/{id}',
  tags: ['agents'],
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(Agent, 'The agent'), ...errorResponses },
});

const heartbeat = createRoute({
  method: 'post',
  path: '/v1/agents/{id}/heartbeat',
  tags: ['agents'],
  security: bearer,
  request: {
    params: IdParam,
    body: { content: { 'application/json': { schema: Heartbeat } }, required: false },
  },
  responses: { 200: json(Agent, 'Heartbeat recorded'), ...errorResponses },
});

const deregister = createRoute({
  method: 'delete',
  path: '/v1/agents/{id}',
  tags: ['agents'],
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(Agent, 'Deregistered; tasks it held go back to bidding'), ...errorResponses },
});

const rotateToken = createRoute({
  method: 'post',
  path: '/v1/agents/{id}/token',
  tags: ['agents'],
  summary: "Replace the agent's token; the old one stops working at once",
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(NewToken, 'The new token, shown this once'), ...errorResponses },
});

/** The agent registry over HTTP. */
export function registerAgentRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  const view = (row: Parameters<typeof toAgentView>[0]) => toAgentView(row, deps.circuitOf(row.id));

  const registerWith = async (c: Context, body: AgentRegistration, speaking?: Speaking) => {
    const reg = await deps.registry.register(
      body,
      { bearer: bearerOf(c), registrationKey: c.req.header('x-registration-key') },
      speaking,
      (agentId) =>
        deps.market.deregister(agentId, (tx) => deps.registry.deregister(tx, agentId, 'name_taken_over')),
    );
    // A pull-only agent cannot be invited: a new round would find nobody new.
    if (reg.agent.endpoint) await deps.market.wakeQueued(reg.agent.capabilityNames);
    // Its (empty) account, so an admin's view of every account lists it from the start.
    if (reg.created && deps.config.ACCOUNTS) await deps.accounts.open([agentPrincipal(reg.agent.id)]);
    const out = {
      agent: view(reg.agent),
      ...(reg.token ? { token: reg.token } : {}),
      heartbeatMs: heartbeatIntervalOf(deps.config.AGENT_TTL_MS),
    };
    return reg.created ? c.json(out, 201) : c.json(out, 200);
  };

  // An A2A Agent Card registers too: its skills become capabilities, its URL the endpoint, and
  // the manager speaks A2A to it, bidding its standing offer (`{"card": ..., "offer": ...}`).
  app.on('POST', '/v1/agents', async (c, next) => {
    const sent: unknown = await c.req.json().catch(() => undefined);
    const wrapped = cardRegistration(sent);
    if (!wrapped) return next();
    if (!wrapped.ok) throw new AppError(422, 'invalid_request', 'invalid A2A registration', wrapped.details);
    const { card: body, offer } = wrapped;
    if (!Number.isFinite(jsonSizeWithin(body, MAX_AGENT_CARD_BYTES)))
      throw new AppError(
        422,
        'invalid_request',
        `the Agent Card is larger than ${MAX_AGENT_CARD_BYTES} bytes`,
        [{ field: 'card', message: `at most ${MAX_AGENT_CARD_BYTES} bytes of JSON` }],
      );
    const mapped = registrationFromCard(body);
    if (!mapped.ok)
      throw new AppError(
        422,
        'invalid_request',
        `invalid Agent Card: ${mapped.details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
        mapped.details,
      );
    // Spoken to in A2A from now on: it must answer A2A where its card says.
    const unreachable = await deps.a2aProbe(body as Record<string, unknown>);
    if (unreachable)
      throw new AppError(422, 'invalid_request', `the agent's A2A endpoint cannot be used: ${unreachable}`, [
        { field: cardField(['endpoint'], mapped.card), message: unreachable },
      ]);
    try {
      return await registerWith(c, mapped.registration, {
        protocol: 'a2a',
        card: body as Record<string, unknown>,
        offer,
      });
    } catch (err) {
      // The registry's refusals (an endpoint it will not call) name the card's field too.
      if (err instanceof AppError && err.status === 422 && err.details)
        throw new AppError(
          422,
          err.code,
          err.message,
          err.details.map((d) => ({ ...d, field: cardField(d.field.split('.'), mapped.card) })),
        );
      throw err;
    }
  });

  app.openapi(register, (c) => registerWith(c, c.req.valid('json')));

  app.openapi(list, async (c) => {
    await requireReader(c, clientKeys(deps.config), deps.registry);
    const q = c.req.valid('query');
    const res = await deps.registry.list(q);
    return c.json({ items: res.items.map(view), nextCursor: res.nextCursor }, 200);
  });

  app.openapi(get, async (c) => {
    const { id } = c.req.valid('param');
    await requireReader(c, clientKeys(deps.config), deps.registry, id);
    return c.json(view(await deps.registry.get(id)), 200);
  });

  app.openapi(heartbeat, async (c) => {
    const { id } = c.req.valid('param');
    const agent = await requireAgent(c, deps.registry);
    requireSelf(agent, id);
    const body = (c.req.valid('json') as z.infer<typeof Heartbeat> | undefined) ?? {};
    const beat = await deps.registry.heartbeat(id, body.running);
    // Back from inactive: tasks queued for want of an agent may find it now.
    if (beat.reactivated && beat.agent.endpoint) await deps.market.wakeQueued(beat.agent.capabilityNames);
    return c.json(view(beat.agent), 200);
  });

  app.openapi(deregister, async (c) => {
    const { id } = c.req.valid('param');
    // The agent itself, or an operator revoking it (an admin key): its token dies either way.
    if (!isAdmin(c, deps.config)) requireSelf(await requireAgent(c, deps.registry), id);
    else await deps.registry.get(id);
    await deps.market.deregister(id, (tx) => deps.registry.deregister(tx, id));
    return c.json(view(await deps.registry.get(id)), 200);
  });

  app.openapi(rotateToken, async (c) => {
    const { id } = c.req.valid('param');
    const agent = await requireAgent(c, deps.registry);
    requireSelf(agent, id);
    const token = await deps.registry.rotateToken(id, bearerOf(c)!);
    return c.json({ token }, 200);
  });
}
