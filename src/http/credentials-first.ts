import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { A2A_PATH } from '../a2a/manager-card.ts';
import { AppError } from '../errors/app-error.ts';
import { sameSecret } from '../security/same-secret.ts';
import { bearerOf, clientKeys, requireAgentId, requireClient, requireOperator } from './auth.ts';
import type { AppDeps, AppEnv } from './deps.ts';

/**
 * Credentials are checked before a body is parsed or validated: a caller without them learns
 * nothing of the schema from a 422 and costs the manager no parsing. The routes check again
 * (and more: whose task, which agent) with the cached results these leave behind.
 */
export function checkCredentialsFirst(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  // A client key, or an agent token (an agent submitting a subtask); which, the route decides.
  const client: MiddlewareHandler = async (c, next) => {
    try {
      requireClient(c, clientKeys(deps.config));
    } catch (err) {
      const token = bearerOf(c);
      if (!token || !(await deps.registry.agentIdOf(token))) throw err;
    }
    await next();
  };
  const agent: MiddlewareHandler = async (c, next) => {
    await requireAgentId(c, deps.registry);
    await next();
  };
  const registrant: MiddlewareHandler = async (c, next) => {
    const key = deps.config.REGISTRATION_KEY;
    const given = c.req.header('x-registration-key') ?? bearerOf(c);
    if (key && !given)
      throw new AppError(
        401,
        'unauthorized',
        'registration needs the registration key: send "Authorization: Bearer <key>"',
      );
    // A bearer that is not the registration key may be the agent's own token (a profile update);
    // which of the two it is, and whether it fits the name, the registry decides.
    if (key && !sameSecret(given!, key) && !(await deps.registry.agentIdOf(given!)))
      throw new AppError(403, 'forbidden', 'the registration key is wrong');
    await next();
  };
  // A client key only (A2A callers are clients, never agents).
  const clientKey: MiddlewareHandler = async (c, next) => {
    requireClient(c, clientKeys(deps.config));
    await next();
  };
  // An admin key (keys off: anyone), for the routes that move or limit another's money.
  const adminKey: MiddlewareHandler = async (c, next) => {
    requireOperator(c, deps.config);
    await next();
  };
  app.on('POST', '/v1/accounts/:id/movements', adminKey);
  app.on('PATCH', '/v1/accounts/:id', adminKey);
  // Every route that takes a body is listed here (test/abuse.test.ts checks each from openapi.json).
  for (const path of ['/v1/tasks', '/v1/tasks/:id/cancel', '/v1/tasks/:id/retry'])
    app.on('POST', path, client);
  app.on('POST', A2A_PATH, clientKey);
  app.on('POST', '/v1/agents', registrant);
  for (const path of [
    '/v1/tasks/:id/bids',
    '/v1/tasks/:id/result',
    '/v1/queue/claim',
    '/v1/agents/:id/heartbeat',
    '/v1/agents/:id/token',
  ])
    app.on('POST', path, agent);
}
