import type { Account } from '../../../src/protocol/accounts.ts';

/** Balances (ACCOUNTS=true): clients' money available and held, agents' earnings. */
export function AccountsPanel({ accounts, nameOf }: { accounts: Account[]; nameOf: (id: string) => string }) {
  const shown = accounts.filter((a) => a.kind !== 'system');
  return (
    <section class="panel accounts" aria-labelledby="accounts-title">
      <h2 id="accounts-title">Accounts</h2>
      <table>
        <thead>
          <tr>
            <th>Account</th>
            <th class="num">Balance</th>
            <th class="num">Held</th>
            <th class="num">Earned</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((a) => (
            <tr key={a.id} data-account={a.id}>
              <td>
                {a.kind === 'agent' ? nameOf(a.id.slice('agent:'.length)) : <span class="mono">{a.id}</span>}
                <small class="muted"> {a.kind}</small>
              </td>
              <td class="num" data-testid="account-balance">
                {a.balance}
              </td>
              <td class="num">{a.held}</td>
              <td class="num">{a.earned}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
