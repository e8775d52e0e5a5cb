import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { rateLimiter } from 'hono-rate-limiter';
import { bearerOf, clientKeys } from './auth.ts';
import type { AppDeps, AppEnv } from './deps.ts';
import { addressKey, credentialKey } from './held-requests.ts';

const tooMany = (who: string) => async (c: Context) =>
  c.json(
    {
      error: {
        code: 'rate_limited',
        message: `too many requests from this ${who}; wait as long as Retry-After says and try again`,
      },
    },
    429,
  );

/**
 * Request budgets per window (hono-rate-limiter's fixed windows, kept in this manager's memory):
 * one per remote address for every /v1 call, and one per credential: each client key, and each
 * agent token (any other bearer is counted as an agent's, so inventing tokens buys nothing).
 * Over budget: 429 with Retry-After. Several managers each keep their own counts.
 */
export function applyRateLimits(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  const cfg = deps.config;
  const windowMs = cfg.RATE_LIMIT_WINDOW_MS;
  const keys = new Set(clientKeys(cfg) ?? []);
  if (cfg.REGISTRATION_KEY) keys.add(cfg.REGISTRATION_KEY);
  if (cfg.RATE_LIMIT_PER_ADDRESS > 0)
    app.use(
      '/v1/*',
      rateLimiter<AppEnv>({
        windowMs,
        limit: cfg.RATE_LIMIT_PER_ADDRESS,
        standardHeaders: 'draft-7',
        requestPropertyName: 'rateLimitAddress',
        requestStorePropertyName: 'rateLimitAddressStore',
        keyGenerator: addressKey,
        handler: tooMany('address'),
      }),
    );
  if (cfg.RATE_LIMIT_PER_KEY > 0)
    app.use(
      '/v1/*',
      rateLimiter<AppEnv>({
        windowMs,
        limit: cfg.RATE_LIMIT_PER_KEY,
        standardHeaders: 'draft-7',
        skip: (c) => bearerOf(c) === undefined,
        keyGenerator: (c) => credentialKey(bearerOf(c)!),
        handler: async (c) => tooMany(keys.has(bearerOf(c)!) ? 'key' : 'agent')(c),
      }),
    );
}

/**
 * Request bodies per window, in bytes, per credential (RATE_LIMIT_BYTES_PER_KEY): a request
 * budget counts a 1 MiB body as one request, but storing and answering it costs a thousand small
 * ones. Counted from Content-Length (or the body limit, for a body of unknown length) before
 * the body is read; over budget, 429 with Retry-After. Fixed windows, in this manager's memory,
 * all dropped when a window ends.
 */
export function applyByteBudget(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  const cfg = deps.config;
  const budget = cfg.RATE_LIMIT_BYTES_PER_KEY;
  if (budget <= 0) return;
  let windowStart = 0;
  let used = new Map<string, number>();
  app.use('/v1/*', async (c, next) => {
    const bearer = bearerOf(c);
    const method = c.req.method;
    if (!bearer || (method !== 'POST' && method !== 'PUT' && method !== 'PATCH')) return next();
    const now = Date.now();
    if (now - windowStart >= cfg.RATE_LIMIT_WINDOW_MS) {
      windowStart = now - (now % cfg.RATE_LIMIT_WINDOW_MS);
      used = new Map();
    }
    const length = Number(c.req.header('content-length'));
    const bytes = Number.isSafeInteger(length) && length >= 0 ? length : cfg.BODY_LIMIT_BYTES;
    const key = credentialKey(bearer);
    const total = (used.get(key) ?? 0) + bytes;
    if (total > budget) {
      c.header(
        'Retry-After',
        String(Math.max(1, Math.ceil((windowStart + cfg.RATE_LIMIT_WINDOW_MS - now) / 1000))),
      );
      return c.json(
        {
          error: {
            code: 'rate_limited',
            message: `this credential sent more than ${budget} bytes of request bodies in this window (RATE_LIMIT_BYTES_PER_KEY); wait as long as Retry-After says`,
          },
        },
        429,
      );
    }
    used.set(key, total);
    return next();
  });
}
