import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { ApiError } from './api-error.ts';

/** Maps a zod validation failure to 422 naming each field (or 400 when the body is not JSON at all). */
export function validationError(error: ZodError, target: string): ApiError {
  const details = error.issues.map((i) => ({
    field: i.path.length ? i.path.join('.') : target,
    message: i.message,
  }));
  return new ApiError(
    422,
    'invalid_request',
    `invalid ${target}: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
    details,
  );
}

/** The single error mapper: expected errors keep their status; anything else is logged and 500. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) return c.json(err.toBody(), err.status);
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
    logger.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return c.json(
      { error: { code: 'internal', message: `internal error; quote request id ${c.get('requestId')}` } },
      500,
    );
  };
}
