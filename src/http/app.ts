import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import { AppError } from '../errors/app-error.ts';
import { registerAgentWebhooks } from './agent-webhooks.ts';
import { checkCredentialsFirst } from './credentials-first.ts';
import type { AppDeps, AppEnv, RouteDeps } from './deps.ts';
import { errorHandler, validationError } from './error-handler.ts';
import { hostPolicy } from './host-policy.ts';
import { limitBody, preReadBody } from './node-request.ts';
import { applyByteBudget, applyRateLimits } from './rate-limits.ts';
import { registerA2ARoutes } from './routes/a2a.ts';
import { registerAccountRoutes } from './routes/accounts.ts';
import { registerAgentMessageRoutes } from './routes/agent-messages.ts';
import { registerAgentRoutes } from './routes/agents.ts';
import { registerCapabilityRoutes } from './routes/capabilities.ts';
import { registerDashboardRoutes } from './routes/dashboard.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerMcpRoutes } from './routes/mcp.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerQueueRoutes } from './routes/queue.ts';
import { registerTaskRoutes } from './routes/tasks.ts';

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** 415 for a request body that is not JSON: every body the API takes is JSON. */
const requireJsonBody: MiddlewareHandler = async (c, next) => {
  const method = c.req.method;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const length = c.req.header('content-length');
    const hasBody =
      (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim();
    if (hasBody && !JSON_TYPE.test(type)) {
      throw new AppError(
        415,
        'unsupported_media_type',
        'send the body as JSON with "Content-Type: application/json"',
      );
    }
  }
  await next();
};

const DOCS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Contract Net API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .25rem}h2{margin-top:2rem}.op{margin:.5rem 0;padding:.5rem;border-left:3px solid #888}</style>
</head><body><h1>Contract Net API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<div id="ops">Loading...</div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  const esc=s=>String(s??'').replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
  let html='';
  for (const [path,ops] of Object.entries(doc.paths)) for (const [m,op] of Object.entries(ops))
    html+='<div class="op"><code>'+m.toUpperCase()+' '+esc(path)+'</code> '+esc(op.summary)+
      '<br><small>answers: '+Object.keys(op.responses||{}).join(', ')+'</small></div>';
  document.getElementById('ops').innerHTML=html;
});
</script></body></html>`;

/** Builds the manager's HTTP app from its collaborators; it never listens (server.ts does). */
export function createApp(appDeps: AppDeps) {
  const deps: RouteDeps = appDeps;
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
  app.use('*', requestId());
  const metrics = deps.metrics;
  if (metrics)
    app.use('*', async (c, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        // The route's pattern, not its path: one series per route, whatever the ids.
        metrics.httpRequest(c.req.method, routePath(c, -1), c.res.status, performance.now() - started);
      }
    });
  const hostAllowed = hostPolicy({
    listenHost: deps.config.HOST,
    publicUrl: deps.config.PUBLIC_URL,
    allowedHosts: deps.config.ALLOWED_HOSTS,
  });
  app.use('*', async (c, next) => {
    if (!hostAllowed(c.req.header('host')))
      throw new AppError(
        403,
        'host_not_allowed',
        'this manager does not answer for that Host; add it to ALLOWED_HOSTS if it is meant to',
      );
    await next();
  });
  applyRateLimits(app, deps);
  applyByteBudget(app, deps);
  app.use(
    '/v1/*',
    limitBody(deps.config.BODY_LIMIT_BYTES, () => {
      throw new AppError(413, 'body_too_large', `the body exceeds ${deps.config.BODY_LIMIT_BYTES} bytes`);
    }),
  );
  app.use('/v1/*', requireJsonBody);
  app.onError(errorHandler(deps.logger));
  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );

  checkCredentialsFirst(app, deps);
  app.use('/v1/*', preReadBody);
  registerDashboardRoutes(app);
  registerOpsRoutes(app, deps);
  registerAgentRoutes(app, deps);
  registerCapabilityRoutes(app, deps);
  registerTaskRoutes(app, deps);
  registerAccountRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerAgentMessageRoutes(app, deps);
  registerQueueRoutes(app, deps);
  registerA2ARoutes(app, deps);
  registerMcpRoutes(app, deps);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  registerAgentWebhooks(app);
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Contract Net manager',
      version: '0.1.0',
      description: 'Announces tasks to registered agents, collects their bids, awards the best one.',
    },
  });
  app.get('/docs', (c) => c.html(DOCS_PAGE));
  return app;
}
