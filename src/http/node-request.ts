import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../errors/app-error.ts';

/**
 * Reading a request on Node without building a fetch `Request` for it.
 *
 * @hono/node-server gives each route a light stand-in for `Request`; the first read of the body
 * or of the signal makes it build the real one: a `Headers` copy, an `AbortController`, and the
 * body as a web stream over the socket. Under load that was 4-5% of the manager's CPU for the two
 * bodies and one long-poll of every round (docs/BENCHMARKS.md). These read the same things from
 * Node's own request and response instead, and fall back to the `Request` off Node (app.request()).
 */
type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

const nodeOf = (c: Context): NodeBindings => (c.env ?? {}) as NodeBindings;

/** What `Request.text()` strips: a leading UTF-8 byte order mark. */
const isBom = (b: Buffer) => b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;

function readAll(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const gone = () =>
      reject(new AppError(400, 'body_incomplete', 'the connection closed before the whole body arrived'));
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.once('error', gone);
    incoming.once('aborted', gone);
    incoming.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
}

/**
 * Hono's `bodyLimit`, without its first step on Node: it reads `c.req.raw.body` to see whether
 * there is a body at all, which builds the `Request` of every request, GETs included. A body with
 * a Content-Length (Node's parser holds the body to it) is judged by that header alone, as
 * `bodyLimit` itself does; a chunked one goes to `bodyLimit`, which counts it as it streams.
 */
export function limitBody(maxSize: number, onError: (c: Context) => never): MiddlewareHandler {
  const hono = bodyLimit({ maxSize, onError });
  return async (c, next) => {
    if (!nodeOf(c).incoming || c.req.header('transfer-encoding') !== undefined) return hono(c, next);
    if (Number(c.req.header('content-length') ?? 0) > maxSize) onError(c);
    await next();
  };
}

/**
 * Puts the body, as text, in Hono's body cache, so `c.req.json()` and the validators parse it
 * from there (exactly as they would parse `Request.text()`: UTF-8, bad bytes replaced, BOM
 * dropped). Only bodies with a Content-Length, which `limitBody` has already held to the limit;
 * a chunked body takes Hono's own path, where `bodyLimit` counts it as it streams. Registered
 * after the credential checks, so a caller without credentials costs no read.
 */
export const preReadBody: MiddlewareHandler = async (c, next) => {
  const { incoming } = nodeOf(c);
  const method = c.req.method;
  if (
    incoming &&
    (method === 'POST' || method === 'PUT' || method === 'PATCH') &&
    c.req.header('content-length') !== undefined &&
    !incoming.readableEnded &&
    !incoming.readableDidRead
  ) {
    const body = await readAll(incoming);
    const text = (isBom(body) ? body.subarray(3) : body).toString('utf8');
    // The cache holds promises at run time (Hono stores `raw.text()`'s); its type names the methods.
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
  }
  await next();
};

/**
 * A signal aborted when the caller goes away before its answer is sent (for long-polls), as
 * @hono/node-server's own `Request.signal` is, without building that `Request`.
 */
export function callerGone(c: Context): AbortSignal {
  const { incoming, outgoing } = nodeOf(c);
  if (!incoming || !outgoing) return c.req.raw.signal;
  const controller = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) controller.abort(new Error('the caller closed the connection'));
  });
  return controller.signal;
}
