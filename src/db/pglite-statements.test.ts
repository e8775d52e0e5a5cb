import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteStatements } from './pglite-statements.ts';

describe('PgliteStatements', () => {
  let pg: PGlite;
  let statements: PgliteStatements;
  beforeAll(async () => {
    pg = await PGlite.create();
    await pg.exec('create table t (id int primary key, doc jsonb, at timestamptz, name text)');
    statements = new PgliteStatements(pg);
  });
  afterAll(async () => {
    await pg.close();
  });

  it('answers typed rows and parses each text once', async () => {
    const insert =
      'insert into t (id, doc, at, name) values ($1::int, $2::jsonb, $3::timestamptz, $4) returning *';
    const [row] = await statements.query<{ id: number; doc: unknown; at: Date; name: string }>(insert, [
      1,
      '{"a":[1,2]}',
      '2026-12-02T12:00:00.000Z',
      'naïve ✓',
    ]);
    expect(row).toEqual({
      id: 1,
      doc: { a: [1, 2] },
      at: new Date('2026-12-02T12:00:00.000Z'),
      name: 'naïve ✓',
    });
    await statements.query(insert, [2, null, null, null]);
    const count = 'select count(*)::int as n from t';
    expect(await statements.query(count, [])).toEqual([{ n: 2 }]);
    const prepared = await pg.query<{ n: number }>(
      `select count(*)::int as n from pg_prepared_statements where statement in ($1, $2)`,
      [insert, count],
    );
    expect(prepared.rows[0]!.n).toBe(2);
  });

  it('passes errors on with their SQLSTATE, and the connection stays usable', async () => {
    const insert = 'insert into t (id) values ($1::int)';
    await statements.query(insert, [10]);
    await expect(statements.query(insert, [10])).rejects.toMatchObject({ code: '23505' });
    // Text PostgreSQL refuses (a NUL byte) is an error of the statement, not of the connection.
    await expect(statements.query('select $1::text as v', ['a\u0000b'])).rejects.toMatchObject({
      code: '22021',
    });
    await expect(statements.query('select nonsense from', [])).rejects.toMatchObject({ code: '42601' });
    expect(await statements.query('select $1::text as v', ['ok'])).toEqual([{ v: 'ok' }]);
  });

  it('waits for an open transaction instead of running inside it', async () => {
    let inside!: () => void;
    const opened = new Promise<void>((r) => (inside = r));
    const tx = pg
      .transaction(async (t) => {
        await t.query('insert into t (id) values (100)');
        inside();
        await new Promise((r) => setTimeout(r, 200));
        await t.rollback();
      })
      .catch(() => {});
    await opened;
    const started = Date.now();
    const rows = await statements.query<{ n: number }>(
      'select count(*)::int as n from t where id = $1::int',
      [100],
    );
    expect(rows).toEqual([{ n: 0 }]); // the rolled-back row was never seen
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await tx;
  });
});
