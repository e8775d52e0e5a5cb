/** True when a database error (from either driver, possibly wrapped by drizzle) has SQLSTATE `code`. */
function hasCode(err: unknown, code: string): boolean {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
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
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code) || code === '53300')
      return true;
  }
  return false;
}
