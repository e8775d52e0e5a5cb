import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.ts';
import { asPaymentError, checkBudget, payerOf, unpayableCost } from './money-rules.ts';

describe('money rules', () => {
  it('requires a whole budget only when the market keeps accounts', () => {
    expect(() => checkBudget(false, undefined)).not.toThrow();
    expect(() => checkBudget(false, 2.5)).not.toThrow();
    expect(() => checkBudget(true, 7)).not.toThrow();
    expect(() => checkBudget(true, 0)).not.toThrow();
    for (const bad of [undefined, null, 2.5, 2 ** 60]) {
      try {
        checkBudget(true, bad);
        expect.unreachable(`budget ${bad} passed`);
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).status).toBe(422);
        expect((err as AppError).details?.[0]?.field).toBe('budget');
      }
    }
  });

  it('refuses fractions of a unit as a cost, with accounts on only', () => {
    expect(unpayableCost(false, 1.25)).toBeNull();
    expect(unpayableCost(true, 3)).toBeNull();
    expect(unpayableCost(true, 1.25)).toMatch(/whole number of units/);
  });

  it("charges a subtask to its parent award's holder, a task to its submitter", () => {
    expect(payerOf('0123456789abcdef', undefined)).toBe('0123456789abcdef');
    expect(payerOf(null, undefined)).toBe('anonymous');
    expect(payerOf('agent:x', 'a1')).toBe('agent:a1');
  });

  it("turns the ledger's refusals into 402s and leaves other errors be", () => {
    const funds = asPaymentError(
      Object.assign(new Error('the account x has 1 available'), { code: 'CN001' }),
    );
    expect(funds).toMatchObject({ status: 402, code: 'insufficient_funds' });
    // drizzle wraps the driver's error: the code is found on its cause.
    const wrapped = new Error('query failed', {
      cause: Object.assign(new Error('over maxPerTask'), { code: 'CN002' }),
    });
    expect(asPaymentError(wrapped)).toMatchObject({ status: 402, code: 'over_limit' });
    const other = Object.assign(new Error('boom'), { code: '23505' });
    expect(asPaymentError(other)).toBe(other);
  });
});
