import { and, asc, desc, eq, gt, lt, sql } from 'drizzle-orm';
import { v5 as uuidv5 } from 'uuid';
import { type Db, queryRows } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { accounts, ledgerEntries } from '../db/schema.ts';
import { AppError } from '../errors/app-error.ts';
import type { Account, AccountLimits, AccountMovement, LedgerEntry } from '../protocol/accounts.ts';

type AccountRow = typeof accounts.$inferSelect;
type EntryRow = typeof ledgerEntries.$inferSelect;

/** Where admin credits come from and debits go: the market's own account (its balance is minus all issued). */
export const ISSUANCE = 'issuance';

/** The namespace of the ids of admin movements made with an idempotency key. */
const MOVEMENT_KEYS = '5f0c2a63-3f7e-4c55-9a51-2f1d2c6a8b10';

/** An account's kind from its id: the rule of the ledger's `ledger_account_kind` (migration 0018). */
const kindOf = (id: string): AccountRow['kind'] =>
  id.startsWith('agent:') ? 'agent' : id === ISSUANCE ? 'system' : 'client';

const today = () => new Date().toISOString().slice(0, 10);

/**
 * The tasks whose escrows count as held (a condition on `tasks`): live root tasks, since a
 * subtask's budget is held from its parent's escrow, not from an account.
 */
export const HOLDING_TASKS = sql`live and parent_id is null`;

/** An account as the API shows it; one without a row yet is empty. */
function toAccount(id: string, row: AccountRow | undefined, held: number): Account {
  return {
    id,
    kind: row?.kind ?? kindOf(id),
    balance: row?.balance ?? 0,
    held,
    earned: row?.earned ?? 0,
    refunded: row?.refunded ?? 0,
    maxPerTask: row?.maxPerTask ?? null,
    maxPerDay: row?.maxPerDay ?? null,
    heldToday: row && row.day === today() ? row.dayHeld : 0,
  };
}

function toEntry(e: EntryRow): LedgerEntry {
  return {
    id: String(e.id),
    movementId: e.movementId,
    kind: e.kind,
    accountId: e.accountId,
    counterparty: e.counterparty,
    taskId: e.taskId,
    awardId: e.awardId,
    amount: e.amount,
    memo: e.memo,
    createdAt: e.createdAt.toISOString(),
  };
}

/**
 * Accounts and their statements (ACCOUNTS=true). Balances move only in ledger movements the
 * database writes (migration 0018): tasks' holds and settlements ride in the statements that
 * change the tasks; an admin's credits and debits are movements against `issuance`.
 */
export class AccountStore {
  constructor(private readonly db: Db) {}

  /** Opens (empty) accounts for these holders if they have none, so an admin sees whom to credit. */
  async open(ids: readonly string[]): Promise<void> {
    if (!ids.length) return;
    await this.db
      .insert(accounts)
      .values(ids.map((id) => ({ id, kind: kindOf(id) })))
      .onConflictDoNothing();
  }

  async get(id: string): Promise<Account> {
    const [row] = await this.db.select().from(accounts).where(eq(accounts.id, id));
    return toAccount(id, row, (await this.heldBy([id])).get(id) ?? 0);
  }

  /** Every account, by id (cursor: the last id of the previous page). */
  async list(limit: number, cursor?: string): Promise<{ items: Account[]; nextCursor: string | null }> {
    const rows = await this.db
      .select()
      .from(accounts)
      .where(cursor ? gt(accounts.id, cursor) : undefined)
      .orderBy(asc(accounts.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const held = await this.heldBy(page.map((r) => r.id));
    return {
      items: page.map((r) => toAccount(r.id, r, held.get(r.id) ?? 0)),
      nextCursor: rows.length > limit ? page.at(-1)!.id : null,
    };
  }

  /** What the accounts' live tasks hold. */
  private async heldBy(ids: string[]): Promise<Map<string, number>> {
    if (!ids.length) return new Map();
    const rows = await queryRows<{ payer: string; held: string | number }>(
      this.db,
      sql`select payer, sum(held) as held from tasks where ${HOLDING_TASKS}
        and payer in (${sql.join(
          ids.map((id) => sql`${id}`),
          sql`, `,
        )}) group by payer`,
    );
    return new Map(rows.map((r) => [r.payer, Number(r.held)]));
  }

  /** The account's statement, newest first (cursor: the last entry id of the previous page). */
  async statement(
    id: string,
    limit: number,
    cursor?: string,
  ): Promise<{ items: LedgerEntry[]; nextCursor: string | null }> {
    const rows = await this.db
      .select()
      .from(ledgerEntries)
      .where(and(eq(ledgerEntries.accountId, id), cursor ? lt(ledgerEntries.id, Number(cursor)) : undefined))
      .orderBy(desc(ledgerEntries.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    return { items: page.map(toEntry), nextCursor: rows.length > limit ? String(page.at(-1)!.id) : null };
  }

  /**
   * An admin's credit (from issuance) or debit (back to it), one movement in one transaction; a
   * debit larger than the balance is 402 insufficient_funds and moves nothing. With an
   * idempotency key the movement's id derives from it: sent again, it moves nothing a second
   * time (the same body answers the account, another body 409).
   */
  async move(id: string, m: AccountMovement, idempotencyKey?: string): Promise<Account> {
    const movementId = idempotencyKey ? uuidv5(`${id}\n${idempotencyKey}`, MOVEMENT_KEYS) : null;
    try {
      await this.db.transaction(async (tx) => {
        if (m.kind === 'debit') {
          const [row] = await tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
          const balance = row?.balance ?? 0;
          if (balance < m.amount)
            throw new AppError(
              402,
              'insufficient_funds',
              `the account ${id} has ${balance} available; the debit needs ${m.amount}`,
              [{ field: 'amount', message: `at most ${balance}` }],
            );
        }
        const [from, to] = m.kind === 'credit' ? [ISSUANCE, id] : [id, ISSUANCE];
        await tx.execute(
          sql`select ledger_move(${m.kind}, null, null, 0, ${from}, ${to}, ${m.amount}::bigint, ${m.memo ?? null}, ${movementId}::uuid)`,
        );
      });
    } catch (err) {
      if (!(movementId && isUniqueViolation(err))) throw err;
      // Sent again: the movement this key made, if it is the same one.
      const [first] = await this.db
        .select()
        .from(ledgerEntries)
        .where(and(eq(ledgerEntries.movementId, movementId), eq(ledgerEntries.accountId, id)));
      const sign = m.kind === 'credit' ? 1 : -1;
      if (!first || first.kind !== m.kind || first.amount !== sign * m.amount)
        throw new AppError(
          409,
          'idempotency_conflict',
          'this Idempotency-Key was used for another movement; use a new key for a new movement',
        );
    }
    return this.get(id);
  }

  /** Sets (or, with null, lifts) an account's limits; fields left out stay as they were. */
  async setLimits(id: string, limits: AccountLimits): Promise<Account> {
    const set = {
      ...(limits.maxPerTask !== undefined ? { maxPerTask: limits.maxPerTask } : {}),
      ...(limits.maxPerDay !== undefined ? { maxPerDay: limits.maxPerDay } : {}),
      updatedAt: new Date(),
    };
    await this.db
      .insert(accounts)
      .values({ id, kind: kindOf(id), ...set })
      .onConflictDoUpdate({ target: accounts.id, set });
    return this.get(id);
  }
}
