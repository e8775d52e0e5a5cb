import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isUniqueViolation } from './errors.ts';

describe('database errors', () => {
  it('tells a database out of reach from a statement that failed on its own', () => {
    for (const code of [
      'CONNECTION_CLOSED',
      'CONNECT_TIMEOUT',
      'ECONNREFUSED',
      '57P01',
      '57P03',
      '08006',
      '53300',
    ])
      expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code }))).toBe(true);
    // drizzle wraps the driver's error: the code is found on its cause.
    const wrapped = new Error('Failed query', {
      cause: Object.assign(new Error('terminating'), { code: '57P01' }),
    });
    expect(isDatabaseUnavailable(wrapped)).toBe(true);
    for (const code of ['23505', '55P03', '22P02', '57014', undefined, 42])
      expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code }))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
    expect(isUniqueViolation(wrapped)).toBe(false);
  });
});
