import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { Database, DatabaseTarget } from './client.ts';

/** The package's drizzle/ folder, found upwards from here: src/db in development, dist/src/db built. */
function findMigrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'drizzle');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`drizzle/ migrations folder not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
const migrationsFolder = findMigrationsFolder();

/** Arbitrary but fixed: every manager takes this advisory lock around its migrations. */
const MIGRATION_LOCK_KEY = 7_310_405_221;

/**
 * Applies the committed drizzle migrations. On PostgreSQL it holds an advisory lock on a
 * dedicated connection, so managers starting at once on one database migrate one at a time.
 */
export async function migrateDatabase(database: Database, target: DatabaseTarget): Promise<void> {
  if (target.kind === 'pglite') {
    await migratePglite(database.db as never, { migrationsFolder });
    return;
  }
  // One connection, so the lock and the migration share a session.
  const client = postgres(target.url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}
