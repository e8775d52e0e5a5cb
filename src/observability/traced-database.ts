import type { Database, Db } from '../db/client.ts';
import type { Tracing } from './tracing.ts';

/** What a span says about a statement: its first words, never its values. */
const summary = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 80);

/**
 * Puts every statement and transaction of `database` in a span under the span active when it
 * runs (a round, an agent call, a request): only when tracing is on, so the hot path pays
 * nothing otherwise.
 */
export function traceDatabase(database: Database, tracing: Tracing): void {
  if (!tracing.enabled) return;
  const attrs = { 'db.system': database.driver === 'postgres' ? 'postgresql' : 'pglite' };
  const query = database.query.bind(database);
  (database as { query: Database['query'] }).query = (text, params) =>
    tracing.span('db.query', null, { ...attrs, 'db.statement': summary(text) }, () => query(text, params));
  const db = database.db as { transaction: Db['transaction'] };
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn, config) =>
    tracing.span('db.transaction', null, attrs, () => transaction(fn, config))) as Db['transaction'];
}
