import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { migrationsFolder, packageRoot } from './package-root.ts';
import { PgliteStatements } from './pglite-statements.ts';
import { isFreshDataDir, pgliteTemplate } from './pglite-template.ts';
import * as schema from './schema.ts';

/** Where migrated PGlite templates are kept (see pglite-template.ts). */
const templateCache = join(packageRoot, 'node_modules', '.cache', 'contract-net');

export type Schema = typeof schema;
/** The drizzle database, whichever driver is behind it. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction; inside one, use only the `tx`: PGlite has a single connection. */
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type Executor = Db | Tx;

/** A statement parameter: JSON, arrays and times are passed as text and cast in the SQL. */
export type Param = string | number | boolean | null;

export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolMax: number }
  | { kind: 'pglite'; dataDir: string };

/** An open database: drizzle on top, plus LISTEN for cross-manager notifications. */
export interface Database {
  readonly db: Db;
  readonly driver: 'pglite' | 'postgres';
  /**
   * Runs one statement outside any transaction (it commits on its own) and answers its rows as
   * the driver gives them. For the hot path: each protocol step is one statement, prepared by
   * text once per connection (postgres.js) instead of being rebuilt by the query builder per call.
   */
  query<T = Record<string, unknown>>(text: string, params: readonly Param[]): Promise<T[]>;
  /**
   * Runs a utility statement that may not run in a transaction (VACUUM), by the simple query
   * protocol; no parameters, so its text must be the caller's own.
   */
  utility(text: string): Promise<void>;
  /** Subscribes to a NOTIFY channel; resolves to an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /** The PGlite instance, for migration; undefined on PostgreSQL. */
  readonly pglite?: PGlite;
  /** Called once the migrations are applied (a fresh PGlite keeps itself as the template). */
  readonly migrated?: () => Promise<void>;
}

/** postgres.js's `unsafe` options for a prepared statement (`simple` is read but not typed). */
const PREPARED = { prepare: true, simple: false } as { prepare: true };

/**
 * `applicationName` names every connection in pg_stat_activity; managers name theirs
 * `contract-net/<manager id>` so each can see whether others share the database.
 */
export async function openDatabase(
  target: DatabaseTarget,
  opts: { applicationName?: string } = {},
): Promise<Database> {
  if (target.kind === 'postgres') {
    const client = postgres(target.url, {
      max: target.poolMax,
      onnotice: () => {},
      connection: { application_name: (opts.applicationName ?? 'contract-net').slice(0, 63) },
      // Not the array-type lookup postgres.js runs on each new connection: when the database drops
      // connections as they open (a restart, a failover), its failure escapes as an unhandled
      // rejection that would stop the process (porsager/postgres#1192, #1223). Arrays are decoded
      // by drizzle's column mappers (row-mapper.ts) from PostgreSQL's text form instead.
      fetch_types: false,
    });
    const db = drizzlePostgres(client, { schema }) as unknown as Db;
    return {
      db,
      driver: 'postgres',
      // Prepared even without parameters (postgres.js would send those as simple queries,
      // parsed and planned at every call): every text here is a constant of the code.
      query: <T>(text: string, params: readonly Param[]) =>
        client.unsafe(text, params as Param[], PREPARED) as unknown as Promise<T[]>,
      async utility(text) {
        await client.unsafe(text).simple();
      },
      async listen(channel, onPayload) {
        const sub = await client.listen(channel, onPayload);
        return async () => sub.unlisten();
      },
      close: () => client.end({ timeout: 5 }),
    };
  }
  const template = isFreshDataDir(target.dataDir)
    ? pgliteTemplate(templateCache, migrationsFolder)
    : undefined;
  const tarball = template?.load();
  const pg = await PGlite.create(target.dataDir, tarball ? { loadDataDir: tarball } : {});
  const db = drizzlePglite(pg, { schema }) as unknown as Db;
  const statements = new PgliteStatements(pg);
  let closed = false;
  return {
    db,
    driver: 'pglite',
    pglite: pg,
    migrated: async () => {
      if (template && !tarball) await template.save(pg);
    },
    query: <T>(text: string, params: readonly Param[]) => statements.query<T>(text, params),
    async utility(text) {
      await pg.exec(text);
    },
    async listen(channel, onPayload) {
      const unsub = await pg.listen(channel, onPayload);
      return async () => {
        if (!closed) await unsub();
      };
    },
    async close() {
      closed = true;
      await pg.close();
    },
  };
}

/** Rows of a raw query, whichever driver ran it (postgres.js answers an array, PGlite `{ rows }`). */
export async function queryRows<T>(ex: Executor, query: Parameters<Executor['execute']>[0]): Promise<T[]> {
  const result = (await ex.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
