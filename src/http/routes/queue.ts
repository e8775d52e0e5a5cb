import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { ClaimRequest, ClaimResponse } from '../../protocol/queue.ts';
import { agentPrincipal, requireAgent } from '../auth.ts';
import type { AppEnv, RouteDeps } from '../deps.ts';
import { callerGone } from '../node-request.ts';
import { bearer, errorResponses, json } from '../openapi-helpers.ts';

const claim = createRoute({
  method: 'post',
  path: '/v1/queue/claim',
  tags: ['queue'],
  summary: 'Pull queued tasks (agent token); with waitMs, waits for one instead of answering empty',
  security: bearer,
  request: {
    body: {
      content: {
        'application/json': {
          schema: ClaimRequest.extend({ waitMs: z.number().int().min(0).max(60_000).optional() }),
        },
      },
      required: true,
    },
  },
  responses: { 200: json(ClaimResponse, 'Claimed tasks, possibly none'), ...errorResponses },
});

/** The fallback work queue's pull endpoint. */
export function registerQueueRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps) {
  app.openapi(claim, async (c) => {
    const agent = await requireAgent(c, deps.registry);
    const req = c.req.valid('json');
    const release = req.waitMs ? deps.held.polls.take(c, agentPrincipal(agent.id)) : () => {};
    try {
      return c.json({ tasks: await deps.market.claim(agent, req, callerGone(c)) }, 200);
    } finally {
      release();
    }
  });
}
