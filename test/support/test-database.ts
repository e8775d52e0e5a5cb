import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { eventually } from './eventually.ts';

/** Databases created and not dropped, and those dropped while connections still held them. */
export const databaseLeaks = { open: new Set<string>(), connected: [] as string[] };

/**
 * A database of the test file's own: a fresh in-memory PGlite by default, or, with
 * DATABASE_URL set, a new database on that server, dropped at the end.
 */
export async function createTestDatabase(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { env: { PGLITE_DATA_DIR: 'memory://' }, drop: async () => {} };
  const name = `cnp_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  databaseLeaks.open.add(name);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    async drop() {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      // Whoever used it has closed its connections (a backend may take a moment to exit).
      const connections = async () =>
        Number((await a`select count(*)::int as n from pg_stat_activity where datname = ${name}`)[0]?.n);
      await eventually(async () => (await connections()) === 0, 5000).catch(async () =>
        databaseLeaks.connected.push(`${name} (${await connections()} connections)`),
      );
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
      databaseLeaks.open.delete(name);
    },
  };
}

export const onPostgres = () => !!process.env.DATABASE_URL;

/**
 * Resolves once some statement waits on a lock that `tx` (a second connection of a test) holds:
 * the manager's statement under test has queued behind it, not merely waited on a lock of its own.
 */
export function blockedBy(tx: postgres.TransactionSql): Promise<unknown> {
  return eventually(
    async () =>
      (await tx`select 1 from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))`).length >
      0,
  );
}
