import { pathToFileURL } from 'node:url';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { createManager } from './manager.ts';

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
  const manager = await createManager(config);
  const url = await manager.listen();
  manager.logger.info({ url, database: manager.database.driver }, `manager listening on ${url}`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    manager.logger.info({ signal }, 'shutting down');
    await manager.stop();
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
