import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request: forwards it, loses the answer, or answers 503 itself. */
export type ProxyFault = 'pass' | 'lose-answer' | 'unavailable';

export type SeenRequest = { method: string; path: string; headers: IncomingMessage['headers']; body: string };

/**
 * A real HTTP hop between an agent and the manager that fails requests as a restarting manager
 * or a dropped connection does: `lose-answer` forwards the request, lets the manager act on it,
 * then cuts the connection before the answer reaches the caller (the ambiguous case a retry
 * must not turn into a second task); `unavailable` answers 503 without forwarding.
 */
export async function startFlakyProxy(target: string, fault: (req: SeenRequest) => ProxyFault) {
  const seen: SeenRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r: SeenRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    seen.push(r);
    const what = fault(r);
    if (what === 'unavailable') {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { code: 'unavailable', message: 'the proxy says so' } }));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(
        ([k, v]) => typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k),
      ),
    ) as Record<string, string>;
    try {
      const up = await fetch(target + r.path, {
        method: r.method,
        headers,
        body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
      });
      const text = await up.text();
      if (what === 'lose-answer') {
        req.socket.destroy();
        return;
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
