import type { OpenAPIHono } from '@hono/zod-openapi';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Context } from 'hono';
import { MarketApi } from '../../mcp/market-api.ts';
import { marketMcpServer } from '../../mcp/market-tools.ts';
import { clientScope } from '../auth.ts';
import type { AppEnv, RouteDeps } from '../deps.ts';
import { callerGone } from '../node-request.ts';

/**
 * The market as an MCP server (Streamable HTTP, stateless: each POST is one exchange). The tools
 * call the manager's own `/v1` API on loopback with the caller's credentials, so keys, ownership
 * and limits are those of `/v1`; the credentials are checked here first (401/403 before anything).
 */
export function registerMcpRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps) {
  app.post('/mcp', async (c: Context) => {
    const scope = clientScope(c, deps.config);
    const body: unknown = await c.req.json().catch(() => undefined);
    // A tool call may wait for its task: it holds one of the client's long-polls while it runs.
    const release = deps.held.polls.take(c, scope.principal);
    try {
      const api = new MarketApi(deps.selfUrl(), c.req.header('authorization'));
      const server = marketMcpServer(api, await deps.catalogue.read().catch(() => null));
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      await server.connect(transport);
      callerGone(c).addEventListener('abort', () => void transport.close(), { once: true });
      const res = await transport.handleRequest(c.req.raw, { parsedBody: body });
      if (!res.body) {
        release();
        return res;
      }
      // The answer may stream (progress, then the result): the slot is held until it ends.
      const done = new TransformStream<Uint8Array, Uint8Array>({ flush: () => release() });
      void res.body.pipeTo(done.writable).catch(() => release());
      return new Response(done.readable, { status: res.status, headers: res.headers });
    } catch (err) {
      release();
      throw err;
    }
  });
  // Stateless: no session to resume or delete, no server-initiated stream.
  const notHere = (c: Context) =>
    c.json(
      {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, message: 'Method not allowed: POST MCP messages to /mcp' },
      },
      405,
      {
        allow: 'POST',
      },
    );
  app.get('/mcp', notHere);
  app.delete('/mcp', notHere);
}
