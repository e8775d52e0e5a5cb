import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { AppError } from '../errors/app-error.ts';

/** Maps a zod validation failure to 422 naming each field (or 400 when the body is not JSON at all). */
export function validationError(error: ZodError, target: string): AppError {
  const details = error.issues.flatMap((i) =>
    // One detail per unknown field, named by its own path.
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ field: [...i.path, k].join('.'), message: 'unknown field' }))
      : [{ field: i.path.length ? i.path.join('.') : target, message: i.message }],
  );
  return new AppError(
    422,
    'invalid_request',
    `invalid ${target}: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
    details,
  );
}

/** The single error mapper: expected errors keep their status; anything else is logged and 500. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    // The rest of a body too large was not read: the connection cannot carry another request,
    // so say it closes (a keep-alive client would otherwise send its next request into it).
    if ((err instanceof AppError || err instanceof HTTPException) && err.status === 413)
      c.header('Connection', 'close');
    if (err instanceof AppError) {
      if (err.retryAfterS !== undefined) c.header('Retry-After', String(err.retryAfterS));
      return c.json(err.toBody(), err.status);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code =
        status === 400
          ? 'malformed_json'
          : status === 413
            ? 'body_too_large'
            : status === 401
              ? 'unauthorized'
              : 'http_error';
      const message =
        status === 400
          ? 'the request body is not valid JSON'
          : err.message || `request failed with ${status}`;
      return c.json({ error: { code, message } }, status);
    }
    if (isDatabaseUnavailable(err)) {
      // A restart or failover of the database: the same request may well work in a moment.
      logger.warn({ err, requestId: c.get('requestId'), path: c.req.path }, 'database unavailable');
      c.header('Retry-After', '1');
      return c.json(
        {
          error: {
            code: 'database_unavailable',
            message:
              'the database is out of reach for now; send the request again (with the same Idempotency-Key) shortly',
          },
        },
        503,
      );
    }
    logger.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return c.json(
      { error: { code: 'internal', message: `internal error; quote request id ${c.get('requestId')}` } },
      500,
    );
  };
}
