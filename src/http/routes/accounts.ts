import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AppError } from '../../errors/app-error.ts';
import { Account, AccountLimits, AccountMovement, LedgerEntry } from '../../protocol/accounts.ts';
import { page } from '../../protocol/common.ts';
import { agentPrincipal, bearerOf, clientScope, requireOperator } from '../auth.ts';
import type { AppEnv, RouteDeps } from '../deps.ts';
import { bearer, errorResponses, json, paymentResponses } from '../openapi-helpers.ts';

const AccountParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^(anonymous|issuance|[0-9a-f]{16}|agent:[0-9a-f-]{36})$/, 'not an account id')
    .openapi({ param: { name: 'id', in: 'path' } }),
});

const StatementQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,19}$/, 'a cursor from a previous page')
    .optional(),
});

const AccountsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(64).optional(),
});

const me = createRoute({
  method: 'get',
  path: '/v1/accounts/me',
  tags: ['accounts'],
  summary: "The caller's account: a client key's, or an agent's with its token",
  security: bearer,
  responses: { 200: json(Account, 'The account'), ...errorResponses },
});

const myStatement = createRoute({
  method: 'get',
  path: '/v1/accounts/me/entries',
  tags: ['accounts'],
  summary: "The caller's statement, newest first",
  security: bearer,
  request: { query: StatementQuery },
  responses: { 200: json(page(LedgerEntry), 'A page of entries'), ...errorResponses },
});

const list = createRoute({
  method: 'get',
  path: '/v1/accounts',
  tags: ['accounts'],
  summary: 'Every account (admin keys)',
  security: bearer,
  request: { query: AccountsQuery },
  responses: { 200: json(page(Account), 'A page of accounts, by id'), ...errorResponses },
});

const one = createRoute({
  method: 'get',
  path: '/v1/accounts/{id}',
  tags: ['accounts'],
  summary: 'One account (admin keys)',
  security: bearer,
  request: { params: AccountParam },
  responses: { 200: json(Account, 'The account'), ...errorResponses },
});

const statement = createRoute({
  method: 'get',
  path: '/v1/accounts/{id}/entries',
  tags: ['accounts'],
  summary: "One account's statement, newest first (admin keys)",
  security: bearer,
  request: { params: AccountParam, query: StatementQuery },
  responses: { 200: json(page(LedgerEntry), 'A page of entries'), ...errorResponses },
});

const movement = createRoute({
  method: 'post',
  path: '/v1/accounts/{id}/movements',
  tags: ['accounts'],
  summary: 'Credit an account from the market, or debit it back (admin keys)',
  security: bearer,
  request: {
    params: AccountParam,
    headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }),
    body: { content: { 'application/json': { schema: AccountMovement } }, required: true },
  },
  responses: { 200: json(Account, 'The account after the movement'), ...errorResponses, ...paymentResponses },
});

const limits = createRoute({
  method: 'patch',
  path: '/v1/accounts/{id}',
  tags: ['accounts'],
  summary: "Set or lift an account's limits (admin keys)",
  security: bearer,
  request: {
    params: AccountParam,
    body: { content: { 'application/json': { schema: AccountLimits } }, required: true },
  },
  responses: { 200: json(Account, 'The account'), ...errorResponses },
});

/** Accounts (ACCOUNTS=true): a caller's own account and statement; every account for admin keys. */
export function registerAccountRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps) {
  const on = () => {
    if (!deps.config.ACCOUNTS)
      throw new AppError(404, 'accounts_off', 'this market keeps no accounts (ACCOUNTS is not true)');
  };
  /** The caller's own account: an agent's with its token, else its client key's ('anonymous' with keys off). */
  const mine = async (c: Context<AppEnv>) => {
    on();
    const token = bearerOf(c);
    const agentId = token ? await deps.registry.agentIdOf(token) : null;
    return agentId ? agentPrincipal(agentId) : clientScope(c, deps.config).principal;
  };
  /** Admin keys only (with keys off, every caller is the operator). */
  const admin = (c: Context<AppEnv>) => {
    on();
    requireOperator(c, deps.config);
  };

  app.openapi(me, async (c) => c.json(await deps.accounts.get(await mine(c)), 200));
  app.openapi(myStatement, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    return c.json(await deps.accounts.statement(await mine(c), limit, cursor), 200);
  });
  app.openapi(list, async (c) => {
    admin(c);
    const { limit, cursor } = c.req.valid('query');
    return c.json(await deps.accounts.list(limit, cursor), 200);
  });
  app.openapi(one, async (c) => {
    admin(c);
    return c.json(await deps.accounts.get(c.req.valid('param').id), 200);
  });
  app.openapi(statement, async (c) => {
    admin(c);
    const { limit, cursor } = c.req.valid('query');
    return c.json(await deps.accounts.statement(c.req.valid('param').id, limit, cursor), 200);
  });
  app.openapi(movement, async (c) => {
    admin(c);
    const { id } = c.req.valid('param');
    if (id === 'issuance')
      throw new AppError(422, 'invalid_request', 'the issuance account is where credits come from', [
        { field: 'id', message: 'credit or debit a client or agent account' },
      ]);
    const key = c.req.valid('header')['idempotency-key'];
    return c.json(await deps.accounts.move(id, c.req.valid('json'), key), 200);
  });
  app.openapi(limits, async (c) => {
    admin(c);
    return c.json(await deps.accounts.setLimits(c.req.valid('param').id, c.req.valid('json')), 200);
  });
}
