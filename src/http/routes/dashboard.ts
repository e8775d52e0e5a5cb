import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import { packageRoot } from '../../db/package-root.ts';
import { AppError } from '../../errors/app-error.ts';
import type { AppEnv } from '../deps.ts';

/** Where `npm run build` puts the dashboard (dashboard/build.js). */
export const dashboardFolder = join(packageRoot, 'dist', 'dashboard');

/**
 * The page may load only its own scripts and styles and talk only to this manager: an agent's
 * name or a task's output shown on it can never pull in a script (uPlot sizes its canvas with
 * inline style attributes, hence the one `unsafe-inline`, for styles only).
 */
const pageHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    objectSrc: ["'none'"],
  },
  crossOriginEmbedderPolicy: false,
  referrerPolicy: 'no-referrer',
});

/**
 * The live dashboard at `/` (built ahead of time into dist/dashboard, assets under
 * `/dashboard/`). A client asking `/` for JSON gets the manager's index of links instead.
 */
export function registerDashboardRoutes(app: OpenAPIHono<AppEnv>) {
  const built = existsSync(join(dashboardFolder, 'index.html'));
  const page = built ? readFileSync(join(dashboardFolder, 'index.html'), 'utf8') : undefined;
  app.use('/', pageHeaders);
  app.use('/dashboard/*', pageHeaders);
  app.get('/', (c) => {
    const accept = c.req.header('accept') ?? '';
    if (!accept.includes('text/html'))
      return c.json({
        name: 'Contract Net manager',
        dashboard: '/',
        docs: '/docs',
        openapi: '/openapi.json',
        events: '/v1/events',
        metrics: '/metrics',
      });
    if (!page)
      throw new AppError(503, 'dashboard_not_built', 'the dashboard is not built: run `npm run build`');
    c.header('cache-control', 'no-cache');
    return c.html(page);
  });
  if (built)
    app.use(
      '/dashboard/*',
      async (c, next) => {
        await next();
        // Fixed names (app.js, app.css): revalidate on every load so a rebuilt page is never stale.
        if (c.res.ok) c.header('cache-control', 'no-cache');
      },
      serveStatic({
        root: dashboardFolder,
        precompressed: true,
        rewriteRequestPath: (p) => p.replace(/^\/dashboard/, ''),
      }),
    );
}
