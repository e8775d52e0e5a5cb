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
