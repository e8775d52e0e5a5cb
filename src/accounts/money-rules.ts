import { ledgerRefusal } from '../db/errors.ts';
import { AppError } from '../errors/app-error.ts';

/**
 * With accounts on, a task's budget is money held from its submitter: it must be given, in whole
 * units (422 naming `budget`). Without accounts any budget (or none) goes, as before.
 */
export function checkBudget(accountsOn: boolean, budget: number | null | undefined): void {
  if (!accountsOn) return;
  if (budget === null || budget === undefined)
    throw new AppError(422, 'invalid_request', 'this market keeps accounts: a task needs a budget', [
      { field: 'budget', message: 'required: the most this task may cost, held from your account' },
    ]);
  if (!Number.isSafeInteger(budget))
    throw new AppError(
      422,
      'invalid_request',
      'this market keeps accounts: a budget is a whole number of units',
      [{ field: 'budget', message: `expected a whole number of units, got ${budget}` }],
    );
}

/** Why a proposal's cost cannot be paid with accounts on (null: it can). */
export function unpayableCost(accountsOn: boolean, cost: number): string | null {
  if (!accountsOn || Number.isSafeInteger(cost)) return null;
  return `its cost ${cost} is not a whole number of units, and this market pays in whole units`;
}

/** The account a task's budget is held from: its parent award's holder's (a subtask), or its submitter's. */
export function payerOf(owner: string | null, parentAgentId: string | undefined): string {
  return parentAgentId ? `agent:${parentAgentId}` : (owner ?? 'anonymous');
}

/** A hold the ledger refused, as the 402 the client gets (else the error as it was). */
export function asPaymentError(err: unknown): unknown {
  const refusal = ledgerRefusal(err);
  return refusal
    ? new AppError(402, refusal.code, refusal.message, [{ field: 'budget', message: refusal.message }])
    : err;
}
