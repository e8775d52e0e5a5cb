import { z } from 'zod';
import { Id, Timestamp } from './common.ts';

/**
 * Money in the market (ACCOUNTS=true): whole units, never fractions, up to 2^53 - 1 so every
 * amount survives JSON and JavaScript numbers exactly.
 */
export const Units = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * What a ledger movement was: an admin's `credit` or `debit` (against the market's issuance
 * account); a task's `hold` (payer to the task's escrow, or a parent's escrow to a subtask's);
 * `pay` (escrow to the award holder, at the award's cost less what its subtasks drew);
 * `release` (what is left, back to the payer, when the task ends); `recoup` (an award that ended
 * without a result gives back what its subtasks drew, from its holder).
 */
export const LEDGER_KINDS = ['credit', 'debit', 'hold', 'pay', 'release', 'recoup'] as const;
export const LedgerKind = z.enum(LEDGER_KINDS);
export type LedgerKind = z.infer<typeof LedgerKind>;

export const AccountKind = z.enum(['client', 'agent', 'system']);

export const AccountLimits = z
  .object({
    /** The largest budget one task may hold (null: none). */
    maxPerTask: Units.nullable().optional(),
    /** The most the account may hold for new tasks in one UTC day (null: none). */
    maxPerDay: Units.nullable().optional(),
  })
  .strict()
  .meta({ id: 'AccountLimits' });
export type AccountLimits = z.infer<typeof AccountLimits>;

export const Account = z
  .object({
    /** A client key's principal, `agent:<id>`, or `issuance` (where credits come from). */
    id: z.string(),
    kind: AccountKind,
    /** Available: the sum of its ledger entries (negative only for `issuance` and an agent that owes recoups). */
    balance: z.number().int(),
    /** In the escrows of its live tasks (clients). */
    held: z.number().int(),
    /** Paid to it for completed awards, all told (agents). */
    earned: z.number().int(),
    /** Released back to it from ended tasks, all told (clients). */
    refunded: z.number().int(),
    maxPerTask: z.number().int().nullable(),
    maxPerDay: z.number().int().nullable(),
    /** Held for tasks today (UTC), what maxPerDay counts. */
    heldToday: z.number().int(),
  })
  .meta({ id: 'Account' });
export type Account = z.infer<typeof Account>;

export const LedgerEntry = z
  .object({
    id: z.string(),
    movementId: Id,
    kind: LedgerKind,
    accountId: z.string(),
    /** The other side of the movement. */
    counterparty: z.string(),
    taskId: Id.nullable(),
    awardId: Id.nullable(),
    /** Into the account (+) or out of it (-). */
    amount: z.number().int(),
    memo: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'LedgerEntry' });
export type LedgerEntry = z.infer<typeof LedgerEntry>;

/** An admin's movement: money into an account from the market's issuance account, or back. */
export const AccountMovement = z
  .object({
    kind: z.enum(['credit', 'debit']),
    amount: Units.min(1),
    memo: z.string().max(500).optional(),
  })
  .strict()
  .meta({ id: 'AccountMovement' });
export type AccountMovement = z.infer<typeof AccountMovement>;

/** A task's money once accounts are on: what its escrow holds and, once ended, where it went. */
export const TaskSettlement = z
  .object({
    payer: z.string(),
    /** What its latest hold put in its escrow. */
    held: z.number().int(),
    /** Ended: what its award cost (the holder got that less what its subtasks drew); null otherwise. */
    paid: z.number().int().nullable(),
    refunded: z.number().int().nullable(),
  })
  .meta({ id: 'TaskSettlement' });
export type TaskSettlement = z.infer<typeof TaskSettlement>;
