import { Writable } from 'node:stream';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger('info', 'test', stream) };
}

describe('createLogger', () => {
  it("never writes a failed statement's bound values", () => {
    const { lines, logger } = capture();
    const cause = Object.assign(new Error('duplicate key'), {
      code: '23505',
      query: 'insert into tasks values ($1, $2)',
      parameters: ['task-1', '{"secret":"INPUT-SECRET"}'],
    });
    const err = new DrizzleQueryError('insert into tasks values ($1, $2)', ['task-1', 'INPUT-SECRET'], cause);
    logger.error({ err }, 'unhandled error');
    const text = lines.join('');
    expect(text).toContain('insert into tasks values ($1, $2)');
    expect(text).toContain('23505');
    expect(text).not.toContain('INPUT-SECRET');
  });
  it('never writes the value PostgreSQL quotes in a message or a detail', () => {
    const { lines, logger } = capture();
    const cause = Object.assign(new Error('invalid input syntax for type uuid: "VALUE-SECRET"'), {
      code: '22P02',
      detail: 'Key (idempotency_key)=(DETAIL-SECRET) already exists.',
    });
    logger.error({ err: new DrizzleQueryError('select $1', ['VALUE-SECRET'], cause) }, 'unhandled error');
    const text = lines.join('');
    expect(text).toContain('invalid input syntax for type uuid: [value]');
    expect(text).not.toContain('VALUE-SECRET');
    expect(text).not.toContain('DETAIL-SECRET');
  });
  it('redacts credentials', () => {
    const { lines, logger } = capture();
    logger.info(
      { req: { headers: { authorization: 'Bearer KEY-SECRET' } }, agent: { token: 'cnp_x' } },
      'hi',
    );
    expect(lines.join('')).not.toContain('KEY-SECRET');
    expect(lines.join('')).not.toContain('cnp_x');
  });
});
