import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { Database, DatabaseTarget } from './client.ts';
import { migrationsFolder } from './package-root.ts';

/** Arbitrary but fixed: every manager takes this advisory lock around its migrations. */
const MIGRATION_LOCK_KEY = 7_310_405_221;

/**
 * Applies the committed drizzle migrations. On PostgreSQL it holds an advisory lock on a
 * dedicated connection, so managers starting at once on one database migrate one at a time.
 */
export async function migrateDatabase(database: Database, target: DatabaseTarget): Promise<void> {
  if (target.kind === 'pglite') {
    await migratePglite(database.db as never, { migrationsFolder });
    await database.migrated?.();
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
