import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { DeferredBid, ResultReport } from '../../protocol/messages.ts';
import { Task } from '../../protocol/task.ts';
import { requireAgentId } from '../auth.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { bearer, errorResponses, IdParam, json } from '../openapi-helpers.ts';

const bid = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/bids',
  tags: ['agent messages'],
  summary: "A deferred bid (agent token), before the round's replyBy; 409 bid_too_late after it",
  security: bearer,
  request: {
    params: IdParam,
    body: { content: { 'application/json': { schema: DeferredBid } }, required: true },
  },
  responses: { 202: json(z.object({ status: z.literal('received') }), 'Bid received'), ...errorResponses },
});

const result = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/result',
  tags: ['agent messages'],
  summary: 'The award holder reports inform-result or failure (agent token)',
  security: bearer,
  request: {
    params: IdParam,
    body: { content: { 'application/json': { schema: ResultReport } }, required: true },
  },
  responses: { 200: json(Task, 'Result kept (or a repeat of one)'), ...errorResponses },
});

/** The calls agents make about tasks: deferred bids and results. */
export function registerAgentMessageRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  app.openapi(bid, async (c) => {
    const agentId = await requireAgentId(c, deps.registry);
    await deps.market.submitDeferredBid(agentId, c.req.valid('param').id, c.req.valid('json'));
    return c.json({ status: 'received' as const }, 202);
  });

  app.openapi(result, async (c) => {
    const agentId = await requireAgentId(c, deps.registry);
    return c.json(await deps.market.reportResult(agentId, c.req.valid('param').id, c.req.valid('json')), 200);
  });
}
