import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

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
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    async drop() {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export const onPostgres = () => !!process.env.DATABASE_URL;
