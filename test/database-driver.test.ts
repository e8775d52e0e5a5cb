import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/client.ts';
import { sleep } from './support/harness.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

/**
 * The driver's answers after a statement dies half-way through its rows. postgres.js 3.4.9 kept
 * that statement's row count and error for the next one on the connection, so the next answer
 * had holes where its first rows should be (`rows[0]` undefined: a submission that was stored
 * read as "not stored", a 409 in the outage test) or failed with the dead one's error. Patched
 * in `patches/postgres+3.4.9.patch` (porsager/postgres#1119, #1181).
 */
describe.skipIf(!onPostgres())('the PostgreSQL driver after a statement that dies mid-stream', () => {
  let database: Database;
  let admin: postgres.Sql;
  let drop: () => Promise<void>;
  let url: string;
  beforeAll(async () => {
    const made = await createTestDatabase();
    drop = made.drop;
    url = made.env.DATABASE_URL!;
    // One connection, so the next statement runs where the dead one did.
    database = await openDatabase({ kind: 'postgres', url, poolMax: 1 });
    admin = postgres(url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await database?.close();
    await admin?.end({ timeout: 5 });
    await drop?.();
  });

  it('answers the next statement in full after one that failed on its fourth row', async () => {
    const failed = await database
      .query('select i, 1 / (4 - i) as boom from generate_series(1, 10) i', [])
      .then(
        () => null,
        (err: { code?: string }) => err.code,
      );
    expect(failed).toBe('22012'); // division by zero, after three rows were sent
    const rows = await database.query<{ x: number }>('select $1::int as x', [7]);
    expect(rows).toEqual([{ x: 7 }]);
  });

  it('answers the next statement, on a new connection, after the server killed one mid-stream', async () => {
    const [first] = await database.query<{ pid: number }>('select pg_backend_pid() as pid', []);
    const pid = first!.pid;
    const dying = database
      .query('select i, case when i > 3 then pg_sleep(1) end as nap from generate_series(1, 10) i', [])
      .then(
        () => 'answered',
        () => 'refused',
      );
    await sleep(300); // three rows sent, the fourth asleep
    await admin`select pg_terminate_backend(${pid})`;
    expect(await dying).toBe('refused');
    // Neither the killed statement's FATAL error nor its row count reaches this one.
    const rows = await database.query<{ x: number; pid: number }>(
      'select $1::int as x, pg_backend_pid() as pid',
      [8],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.x).toBe(8);
    expect(rows[0]!.pid).not.toBe(pid);
  });

  it('ends its pool at once after the server killed a statement mid-stream (no stale query held)', async () => {
    // Its own client, ended without a timeout: the old driver kept the killed statement as the
    // connection's query, and end() waited for it for ever (porsager/postgres#1097, #1130).
    const sql = postgres(url, { max: 1, fetch_types: false, onnotice: () => {} });
    const [first] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const dying =
      sql`select i, case when i > 3 then pg_sleep(1) end as nap from generate_series(1, 10) i`.then(
        () => 'answered',
        () => 'refused',
      );
    await sleep(300);
    await admin`select pg_terminate_backend(${first!.pid})`;
    expect(await dying).toBe('refused');
    const ended = await Promise.race([
      sql.end().then(() => 'ended'),
      sleep(10_000).then(() => 'still ending'),
    ]);
    expect(ended).toBe('ended');
  });
});
