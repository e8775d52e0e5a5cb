import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { Catalogue } from '../../protocol/catalogue.ts';
import { clientKeys, requireReader } from '../auth.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import { bearer, errorResponses, json } from '../openapi-helpers.ts';

const list = createRoute({
  method: 'get',
  path: '/v1/capabilities',
  tags: ['capabilities'],
  summary: 'The catalogue: every capability on offer, what it takes, who offers it, what it costs lately',
  security: bearer,
  responses: { 200: json(Catalogue, 'Capabilities by name'), ...errorResponses },
});

/** The capability catalogue: what a client, a form or a model needs to submit a task. */
export function registerCapabilityRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  app.openapi(list, async (c) => {
    await requireReader(c, clientKeys(deps.config), deps.registry);
    return c.json(await deps.catalogue.read(), 200);
  });
}
