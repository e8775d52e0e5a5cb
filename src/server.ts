import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { createManager, type Manager } from './manager.ts';

export type RunningManager = {
  /** The bound URL (with the port chosen when PORT=0). */
  url: string;
  manager: Manager;
  /**
   * Graceful stop: the background work stops, the server takes no new connections and lets
   * in-flight requests finish (long-polls and streams are cut after SHUTDOWN_TIMEOUT_MS), running
   * rounds finish, then the database closes.
   */
  stop(): Promise<void>;
};

/** Listens on HOST:PORT with the manager's app, then starts its background work. */
export async function listen(manager: Manager): Promise<RunningManager> {
  const { config } = manager;
  const sockets = new Set<Socket>();
  const { server, url } = await new Promise<{ server: Server; url: string }>((resolve) => {
    const server = serve({ fetch: manager.app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
      manager.address.bound(info.port);
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({ server, url: `http://${host}:${info.port}` });
    }) as Server;
    server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_MS;
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
  });
  manager.start();
  return {
    url,
    manager,
    async stop() {
      await manager.quiesce();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Long-polls and event streams would hold the close for ever; end them after the grace period.
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, config.SHUTDOWN_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
      await manager.close();
    },
  };
}

/** The manager process: reads config once, serves, and shuts down gracefully on SIGTERM/SIGINT. */
export async function runServer(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`contract-net: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const running = await listen(await createManager(config));
  const { manager, url } = running;
  manager.logger.info({ url, database: manager.database.driver }, `manager listening on ${url}`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    manager.logger.info({ signal }, 'shutting down');
    await running.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runServer().catch((err) => {
    console.error('contract-net: failed to start:', err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
