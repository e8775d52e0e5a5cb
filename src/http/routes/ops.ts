import type { OpenAPIHono } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
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
    const text = deps.metrics ? await deps.metrics.text() : '';
    return c.text(text, 200, { 'content-type': 'text/plain; version=0.0.4' });
  });

  app.get('/.well-known/agent-card.json', (c) => {
    const url = deps.publicUrl();
    return c.json({
      name: 'contract-net-manager',
      description: 'Contract Net manager: announces tasks to registered agents, awards the best bid.',
      url,
      version: '0.1.0',
      capabilities: { streaming: true },
      defaultInputModes: ['application/json'],
      defaultOutputModes: ['application/json'],
      skills: [
        {
          id: 'contract-net.submit',
          name: 'Submit a task',
          description: 'POST /v1/tasks: the task is auctioned to the agents that offer its capability.',
        },
      ],
    });
  });
}
