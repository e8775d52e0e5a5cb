import type { OpenAPIHono } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { managerCard } from '../../a2a/manager-card.ts';
import { clientKeys, requireClient } from '../auth.ts';
import type { AppDeps, AppEnv } from '../deps.ts';

/** Health, readiness, metrics and the manager's own agent card. */
export function registerOpsRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    try {
      await deps.database.db.execute(sql`select 1`);
      return c.json({ status: 'ready', database: deps.database.driver });
    } catch (err) {
      deps.logger.warn({ err }, 'readiness check failed');
      return c.json(
        {
          error: {
            code: 'not_ready',
            message: 'the database does not answer; check DATABASE_URL and the server',
          },
        },
        503,
      );
    }
  });

  app.get('/metrics', async (c) => {
    // Behind a client key when keys are configured (a scraper sends one as a bearer token).
    requireClient(c, clientKeys(deps.config));
    // JSON on request (prom-client's own form), for the dashboard; Prometheus text otherwise.
    if (deps.metrics && (c.req.header('accept') ?? '').startsWith('application/json'))
      return c.json(await deps.metrics.json());
    const text = deps.metrics ? await deps.metrics.text() : '';
    return c.text(text, 200, { 'content-type': 'text/plain; version=0.0.4' });
  });

  app.get('/.well-known/agent-card.json', async (c) =>
    c.json(
      managerCard({
        publicUrl: deps.publicUrl(),
        capabilities: await deps.registry.liveCapabilities(),
        keysRequired: Boolean(clientKeys(deps.config)),
        version: '0.1.0',
      }),
    ),
  );
}
