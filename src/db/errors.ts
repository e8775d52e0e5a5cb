/** The codes on a database error and its causes (either driver's, possibly wrapped by drizzle). */
function* codesOf(err: unknown): Generator<string> {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') yield code;
  }
}

/** True when a database error has SQLSTATE `code`. */
function hasCode(err: unknown, code: string): boolean {
  for (const c of codesOf(err)) if (c === code) return true;
  return false;
}

/**
 * The ledger refused a hold (migration 0018): CN001, not enough available (or, for a subtask,
 * not enough of its parent award's pending earnings); CN002, over one of the account's limits.
 * The database's message says which and by how much.
 */
export function ledgerRefusal(
  err: unknown,
): { code: 'insufficient_funds' | 'over_limit'; message: string } | null {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    const message = String((e as { message?: unknown }).message ?? '');
    if (code === 'CN001') return { code: 'insufficient_funds', message };
    if (code === 'CN002') return { code: 'over_limit', message };
  }
  return null;
}

/** A unique violation: another writer got there first. */
export const isUniqueViolation = (err: unknown): boolean => hasCode(err, '23505');

/** A `FOR UPDATE NOWAIT` that found the row locked. */
export const isLockNotAvailable = (err: unknown): boolean => hasCode(err, '55P03');

/** postgres.js's own codes for a connection it lost or could not make, and the socket's. */
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * The database is (for now) out of reach: a lost or refused connection, or the server
 * terminating sessions or not taking new ones (class 08, 57P01-57P03, 53300). The request
 * may succeed if sent again, so callers answer 503, not 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (const code of codesOf(err))
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code) || code === '53300')
      return true;
  return false;
}
