import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';

/** A killed manager comes back on the same port: one below the ephemeral range (free-port.ts). */
export { freePort } from '../support/free-port.ts';

export type Rows = Record<string, unknown>[];

/**
 * The chaos run's database: a fresh PostgreSQL database on DATABASE_URL's server, or a PGlite
 * data directory in the run's folder. The managers use it while the run lasts; `query` opens it
 * directly for the checks once they have stopped (PGlite is one process at a time).
 */
export async function openChaosDatabase(kind: 'pglite' | 'postgres', runDir: string) {
  if (kind === 'postgres') {
    const admin = postgres(process.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
    const name = `cnet_chaos_${process.pid}`;
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
    const url = new URL(process.env.DATABASE_URL as string);
    url.pathname = `/${name}`;
    let sql: postgres.Sql | undefined;
    return {
      describe: `PostgreSQL (database ${name})`,
      managerEnv: { DATABASE_URL: url.toString() } as Record<string, string>,
      /** Cuts every connection to the run's database (the managers reconnect); how many were cut. */
      async dropConnections(): Promise<number> {
        const [row] = await admin`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
          where datname = ${name} and pid <> pg_backend_pid()`;
        return Number(row?.n ?? 0);
      },
      async query(text: string): Promise<Rows> {
        sql ??= postgres(url.toString(), { max: 2, onnotice: () => {} });
        return (await sql.unsafe(text)) as unknown as Rows;
      },
      async close() {
        await sql?.end({ timeout: 5 });
        if (!process.env.CHAOS_KEEP_DB) await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end({ timeout: 5 });
      },
    };
  }
  const dataDir = join(runDir, 'pglite');
  let pg: PGlite | undefined;
  return {
    describe: `PGlite (${dataDir})`,
    managerEnv: { PGLITE_DATA_DIR: dataDir } as Record<string, string>,
    /** PGlite lives inside its one manager: there is no connection to cut. */
    async dropConnections(): Promise<number> {
      return 0;
    },
    async query(text: string): Promise<Rows> {
      pg ??= await PGlite.create(dataDir);
      return (await pg.query<Record<string, unknown>>(text)).rows;
    },
    async close() {
      await pg?.close();
    },
  };
}

export type ChaosDatabase = Awaited<ReturnType<typeof openChaosDatabase>>;
