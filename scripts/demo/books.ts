import type { Account, LedgerEntry, Task } from '../../src/protocol/index.ts';

type Get = <T>(path: string) => Promise<T>;
type Page<T> = { items: T[]; nextCursor: string | null };

async function all<T>(get: Get, path: string): Promise<T[]> {
  const out: T[] = [];
  for (let cursor: string | null = null; ; ) {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await get(
      `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    out.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) return out;
  }
}

/** What the demo's books say once every task has ended, and what does not add up (empty: nothing). */
export type Books = {
  accounts: Account[];
  /** The demo client's account (keys off: `anonymous`). */
  client: Account | undefined;
  problems: string[];
};

/**
 * Reconciles the market's books through its API: every account's balance is the sum of its
 * statement, every unit is in an account (no escrow holds anything once every task has ended),
 * and each agent holds what its completed awards paid less what its own subtasks cost.
 */
export async function reconcileBooks(get: Get): Promise<Books> {
  const accounts = await all<Account>(get, '/v1/accounts');
  const tasks = await all<Task>(get, '/v1/tasks');
  const problems: string[] = [];
  for (const a of accounts) {
    const entries = await all<LedgerEntry>(get, `/v1/accounts/${encodeURIComponent(a.id)}/entries`);
    const sum = entries.reduce((s, e) => s + e.amount, 0);
    if (sum !== a.balance) problems.push(`${a.id}: balance ${a.balance}, but its entries sum to ${sum}`);
    if (a.held !== 0) problems.push(`${a.id}: ${a.held} still held with every task ended`);
  }
  const total = accounts.reduce((s, a) => s + a.balance, 0);
  if (total !== 0) problems.push(`the accounts sum to ${total}, not 0: an escrow still holds money`);
  const owed = new Map<string, number>();
  const add = (id: string, n: number) => owed.set(id, (owed.get(id) ?? 0) + n);
  for (const t of tasks) {
    if (t.state !== 'completed' || !t.settlement) continue;
    if (t.award) add(`agent:${t.award.agentId}`, t.settlement.paid ?? 0);
    // A subtask is paid for by the holder of its parent's award.
    if (t.parentId) add(t.settlement.payer, -(t.settlement.paid ?? 0));
  }
  for (const a of accounts.filter((x) => x.kind === 'agent'))
    if ((owed.get(a.id) ?? 0) !== a.balance)
      problems.push(
        `${a.id}: balance ${a.balance}, but its awards paid ${owed.get(a.id) ?? 0} net of its subtasks`,
      );
  return { accounts, client: accounts.find((a) => a.kind === 'client'), problems };
}
