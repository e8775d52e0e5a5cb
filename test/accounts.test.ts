import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, fixedBidder, json, refusesAward } from './support/agents.ts';
import { client, eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { parsePrometheus, sampleValue } from './support/prometheus-text.ts';

const ALICE = 'alice-key-0123456789';
const BOB = 'bob-key-0123456789';
const ADMIN = 'admin-key-0123456789';

/** An agent that bids 5 and fails whatever it is awarded. */
const failer = (name: string, capability: string) => ({
  name,
  capabilities: [capability],
  bid: () => ({ type: 'propose' as const, cost: 5, etaMs: 100 }),
  execute: async () => {
    throw new Error('cannot');
  },
});

type Entry = { kind: string; accountId: string; counterparty: string; amount: number; taskId: string | null };

/** Accounts on, over real HTTP: holds, settlement, releases, limits, subcontracting, and who may see what. */
describe('accounts', () => {
  let m: TestManager;
  let fleet: Fleet;
  let alice: ReturnType<typeof client>;
  let bob: ReturnType<typeof client>;
  let admin: ReturnType<typeof client>;
  let aliceId: string;
  let n = 0;
  const cap = () => `acct.c${++n}`;

  beforeAll(async () => {
    m = await startManager({ ACCOUNTS: 'true', API_KEYS: `${ALICE},${BOB}`, ADMIN_KEYS: ADMIN });
    fleet = new Fleet(m.url);
    alice = client(m.url, { authorization: `Bearer ${ALICE}` });
    bob = client(m.url, { authorization: `Bearer ${BOB}` });
    admin = client(m.url, { authorization: `Bearer ${ADMIN}` });
    aliceId = (await alice('GET', '/v1/accounts/me')).body.id;
    const credited = await admin('POST', `/v1/accounts/${aliceId}/movements`, {
      kind: 'credit',
      amount: 1000,
      memo: 'opening balance',
    });
    expect(credited.status).toBe(200);
    expect(credited.body).toMatchObject({ id: aliceId, kind: 'client', balance: 1000, held: 0 });
  });
  afterAll(async () => {
    await fleet.stopAll();
    await m.stop();
  });

  const balance = async (who = alice) => (await who('GET', '/v1/accounts/me')).body.balance as number;
  const accountOf = async (id: string) => (await admin('GET', `/v1/accounts/${encodeURIComponent(id)}`)).body;
  const submit = async (body: Record<string, unknown>, who = alice) => {
    const r = await who('POST', '/v1/tasks', body);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.id as string;
  };
  const trail = async (id: string) =>
    (
      (await admin('GET', `/v1/tasks/${id}/events`)).body.items as {
        type: string;
        data: Record<string, unknown>;
      }[]
    )
      .map((e) => e.type)
      .filter((t) => t.startsWith('ledger.'));
  const ended = (id: string) => waitEnd({ call: admin }, id, 15_000);

  it('lists every client key with an account, and lets an admin only read others', async () => {
    const all = (await admin('GET', '/v1/accounts')).body.items as { id: string }[];
    expect(all.map((a) => a.id)).toContain(aliceId);
    // Three client keys, and the market's issuance account the credit came from.
    expect(all.map((a) => a.id).sort()).toEqual(expect.arrayContaining(['issuance', aliceId]));
    expect(all).toHaveLength(4);
    const bobId = (await bob('GET', '/v1/accounts/me')).body.id;
    expect(bobId).not.toBe(aliceId);
    expect((await bob('GET', `/v1/accounts/${aliceId}`)).status).toBe(403);
    expect((await bob('GET', `/v1/accounts/${aliceId}/entries`)).status).toBe(403);
    expect((await bob('POST', `/v1/accounts/${bobId}/movements`, { kind: 'credit', amount: 5 })).status).toBe(
      403,
    );
    expect((await bob('GET', '/v1/accounts')).status).toBe(403);
    const mine = (await alice('GET', '/v1/accounts/me/entries')).body.items as Entry[];
    expect(mine).toEqual([
      expect.objectContaining({ kind: 'credit', accountId: aliceId, counterparty: 'issuance', amount: 1000 }),
    ]);
  });

  it('requires a budget in whole units and refuses one the account cannot cover, storing nothing', async () => {
    const c = cap();
    const none = await alice('POST', '/v1/tasks', { capability: c, input: {} });
    expect(none.status).toBe(422);
    expect(none.body.error.details[0].field).toBe('budget');
    const fraction = await alice('POST', '/v1/tasks', { capability: c, input: {}, budget: 2.5 });
    expect(fraction.status).toBe(422);
    expect(fraction.body.error.details[0].field).toBe('budget');
    const broke = await bob('POST', '/v1/tasks', { capability: c, input: {}, budget: 1 });
    expect(broke.status).toBe(402);
    expect(broke.body.error.code).toBe('insufficient_funds');
    const big = await alice('POST', '/v1/tasks', { capability: c, input: {}, budget: 5000 });
    expect(big.status).toBe(402);
    expect(big.body.error).toMatchObject({ code: 'insufficient_funds' });
    expect(big.body.error.message).toContain('5000');
    expect((await admin('GET', `/v1/tasks?capability=${c}`)).body.items).toEqual([]);
    expect(await balance()).toBe(1000);
  });

  it("pays the winner its bid's cost on completion and gives the rest back", async () => {
    const c = cap();
    const worker = await fleet.start({ ...fixedBidder('acct-worker', 12, 50), capabilities: [c] });
    const before = await balance();
    const id = await submit({ capability: c, input: { n: 2 }, budget: 30 });
    const held = (await alice('GET', '/v1/accounts/me')).body;
    // Held at once (the task may already have completed: then it is back, less the cost).
    expect([before - 30, before - 12]).toContain(held.balance);
    const done = await ended(id);
    expect(done).toMatchObject({
      state: 'completed',
      settlement: { payer: aliceId, held: 30, paid: 12, refunded: 18 },
    });
    expect(await balance()).toBe(before - 12);
    expect(await accountOf(`agent:${worker.id}`)).toMatchObject({ kind: 'agent', balance: 12, earned: 12 });
    expect(await trail(id)).toEqual(['ledger.held', 'ledger.paid', 'ledger.released']);
    const mine = (await alice('GET', '/v1/accounts/me/entries?limit=2')).body;
    expect(mine.items.map((e: Entry) => [e.kind, e.amount])).toEqual([
      ['release', 18],
      ['hold', -30],
    ]);
    expect(mine.nextCursor).toBeTruthy();
  });

  it('releases the whole hold when a task fails, is cancelled or runs out of time', async () => {
    const before = await balance();
    const failing = cap();
    await fleet.start(failer('acct-failer', failing));
    const f = await submit({ capability: failing, input: {}, budget: 20, maxAttempts: 1 });
    expect(await ended(f)).toMatchObject({ state: 'failed', settlement: { paid: 0, refunded: 20 } });
    // Nobody bids on this capability: queued, then cancelled.
    const q = await submit({ capability: cap(), input: {}, budget: 40 });
    await eventually(async () => expect((await admin('GET', `/v1/tasks/${q}`)).body.state).toBe('queued'));
    expect(await balance()).toBe(before - 40);
    expect((await alice('POST', `/v1/tasks/${q}/cancel`)).status).toBe(200);
    expect((await admin('GET', `/v1/tasks/${q}`)).body.settlement).toMatchObject({ paid: 0, refunded: 40 });
    const late = await submit({
      capability: cap(),
      input: {},
      budget: 7,
      deadline: new Date(Date.now() + 300).toISOString(),
    });
    expect(await ended(late)).toMatchObject({ state: 'failed', settlement: { refunded: 7 } });
    expect(await balance()).toBe(before);
    expect(await trail(q)).toEqual(['ledger.held', 'ledger.released']);
  });

  it('holds a retried task again, and refuses the retry the account cannot cover', async () => {
    const c = cap();
    await fleet.start(failer('acct-failer-2', c));
    const before = await balance();
    const id = await submit({ capability: c, input: {}, budget: 9, maxAttempts: 1 });
    await ended(id);
    const again = await alice('POST', `/v1/tasks/${id}/retry`);
    expect(again.status).toBe(200);
    expect(again.body.settlement).toMatchObject({ held: 9, paid: null, refunded: null });
    expect(await ended(id)).toMatchObject({ state: 'failed', settlement: { refunded: 9 } });
    expect(await balance()).toBe(before);
    // Drain the account to 5: a retry needing 9 is refused and the task stays failed.
    await admin('POST', `/v1/accounts/${aliceId}/movements`, { kind: 'debit', amount: before - 5 });
    const refused = await alice('POST', `/v1/tasks/${id}/retry`);
    expect(refused.status).toBe(402);
    expect(refused.body.error.code).toBe('insufficient_funds');
    expect((await admin('GET', `/v1/tasks/${id}`)).body.state).toBe('failed');
    await admin('POST', `/v1/accounts/${aliceId}/movements`, { kind: 'credit', amount: before - 5 });
    expect(await balance()).toBe(before);
  });

  it("settles a moved award at the next-best bid's cost", async () => {
    const c = cap();
    const refuser = await fleet.raw('acct-refuser', c, refusesAward(1));
    const second = await fleet.start({ ...fixedBidder('acct-second', 6, 100), capabilities: [c] });
    const before = await balance();
    const id = await submit({ capability: c, input: { n: 1 }, budget: 10 });
    const done = await ended(id);
    expect(done).toMatchObject({ state: 'completed', award: { agentId: second.id, cost: 6 } });
    expect(done.settlement).toMatchObject({ paid: 6, refunded: 4 });
    expect(await balance()).toBe(before - 6);
    expect(await accountOf(`agent:${second.id}`)).toMatchObject({ balance: 6 });
    // The refuser, with its own token, reads its own account: nothing earned.
    const own = await client(m.url, { authorization: `Bearer ${refuser.token}` })('GET', '/v1/accounts/me');
    expect(own.body).toMatchObject({ id: `agent:${refuser.id}`, kind: 'agent', balance: 0 });
  });

  it("pays a subtask out of the holder's award: the holder earns its cost less the subtask's", async () => {
    const whole = cap();
    const part = cap();
    const contractor = await fleet.start({
      name: 'acct-contractor',
      capabilities: [whole],
      bid: () => ({ type: 'propose', cost: 10, etaMs: 3000 }),
      execute: async (input: { n: number }, ctx) => {
        const sub = (await ctx.subcontract(part, { n: input.n }, { budget: 4 })) as { doubled: number };
        return { total: sub.doubled + 1 };
      },
    });
    const sub = await fleet.start({ ...fixedBidder('acct-sub', 3, 50), capabilities: [part] });
    const before = await balance();
    const id = await submit({ capability: whole, input: { n: 5 }, budget: 25 });
    const done = await ended(id);
    expect(done).toMatchObject({ state: 'completed', settlement: { paid: 10, refunded: 15 } });
    const child = (await admin('GET', `/v1/tasks/${done.children[0]}`)).body;
    expect(child.settlement).toMatchObject({
      payer: `agent:${contractor.id}`,
      held: 4,
      paid: 3,
      refunded: 1,
    });
    expect(await balance()).toBe(before - 10);
    expect(await accountOf(`agent:${contractor.id}`)).toMatchObject({ balance: 7, earned: 7 });
    expect(await accountOf(`agent:${sub.id}`)).toMatchObject({ balance: 3, earned: 3 });
  });

  it("recoups what a failed award's subtasks cost from its holder, and gives the client all back", async () => {
    const whole = cap();
    const part = cap();
    const contractor = await fleet.start({
      name: 'acct-failing-contractor',
      capabilities: [whole],
      bid: () => ({ type: 'propose', cost: 10, etaMs: 3000 }),
      execute: async (input: { n: number }, ctx) => {
        await ctx.subcontract(part, { n: input.n }, { budget: 4 });
        throw new Error('gave up after its subtask was done');
      },
    });
    const sub = await fleet.start({ ...fixedBidder('acct-sub-2', 3, 50), capabilities: [part] });
    const before = await balance();
    const id = await submit({ capability: whole, input: { n: 5 }, budget: 25, maxAttempts: 1 });
    const done = await ended(id);
    expect(done).toMatchObject({ state: 'failed', settlement: { paid: 0, refunded: 25 } });
    expect(await balance()).toBe(before);
    // The subtask was done and paid; its cost (3) came back to the escrow from the holder.
    expect(await accountOf(`agent:${sub.id}`)).toMatchObject({ balance: 3 });
    expect(await accountOf(`agent:${contractor.id}`)).toMatchObject({ balance: -3, earned: 0 });
    expect(await trail(id)).toEqual(['ledger.held', 'ledger.recouped', 'ledger.released']);
  });

  it("pays a claim from the queue its task's budget", async () => {
    const c = cap();
    const reg = await m.call('POST', '/v1/agents', { name: 'acct-puller', capabilities: [{ name: c }] });
    const auth = { authorization: `Bearer ${reg.body.token}` };
    const before = await balance();
    const id = await submit({ capability: c, input: {}, budget: 9 });
    await eventually(async () => expect((await admin('GET', `/v1/tasks/${id}`)).body.state).toBe('queued'));
    const claimed = await m.call('POST', '/v1/queue/claim', { capabilities: [c] }, auth);
    expect(claimed.body.tasks).toHaveLength(1);
    const report = { awardId: claimed.body.tasks[0].awardId, type: 'inform-result', output: { ok: true } };
    expect((await m.call('POST', `/v1/tasks/${id}/result`, report, auth)).status).toBe(200);
    expect(await ended(id)).toMatchObject({ state: 'completed', settlement: { paid: 9, refunded: 0 } });
    expect(await balance()).toBe(before - 9);
    expect(await accountOf(`agent:${reg.body.agent.id}`)).toMatchObject({ balance: 9 });
  });

  it('moves an admin credit once however often it is sent with one Idempotency-Key', async () => {
    const before = await balance();
    const key = { 'idempotency-key': 'top-up-7' };
    const body = { kind: 'credit', amount: 25, memo: 'top-up' };
    expect((await admin('POST', `/v1/accounts/${aliceId}/movements`, body, key)).body.balance).toBe(
      before + 25,
    );
    expect((await admin('POST', `/v1/accounts/${aliceId}/movements`, body, key)).body.balance).toBe(
      before + 25,
    );
    const other = await admin('POST', `/v1/accounts/${aliceId}/movements`, { ...body, amount: 26 }, key);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_conflict');
    const overdrawn = await admin('POST', `/v1/accounts/${aliceId}/movements`, {
      kind: 'debit',
      amount: before + 26,
    });
    expect(overdrawn.status).toBe(402);
    expect(await balance()).toBe(before + 25);
    await admin('POST', `/v1/accounts/${aliceId}/movements`, { kind: 'debit', amount: 25 });
  });

  it('refuses a budget over a limit, naming it', async () => {
    const r = await admin('PATCH', `/v1/accounts/${aliceId}`, { maxPerTask: 20, maxPerDay: 100_000 });
    expect(r.body).toMatchObject({ maxPerTask: 20, maxPerDay: 100_000 });
    const over = await alice('POST', '/v1/tasks', { capability: cap(), input: {}, budget: 21 });
    expect(over.status).toBe(402);
    expect(over.body.error).toMatchObject({ code: 'over_limit' });
    expect(over.body.error.message).toContain('maxPerTask');
    const today = (await alice('GET', '/v1/accounts/me')).body.heldToday as number;
    await admin('PATCH', `/v1/accounts/${aliceId}`, { maxPerTask: null, maxPerDay: today + 5 });
    const daily = await alice('POST', '/v1/tasks', { capability: cap(), input: {}, budget: 6 });
    expect(daily.status).toBe(402);
    expect(daily.body.error.message).toContain('maxPerDay');
    await admin('PATCH', `/v1/accounts/${aliceId}`, { maxPerDay: null });
    const bad = await admin('PATCH', `/v1/accounts/${aliceId}`, { maxPerTask: -1 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe('maxPerTask');
  });

  it('keeps the books: every account is the sum of its entries, and all entries sum to zero', async () => {
    const accounts = (await admin('GET', '/v1/accounts?limit=200')).body.items as {
      id: string;
      balance: number;
      earned: number;
    }[];
    let total = 0;
    for (const a of accounts) {
      let sum = 0;
      let cursor: string | null = null;
      do {
        const page: { items: Entry[]; nextCursor: string | null } = (
          await admin(
            'GET',
            `/v1/accounts/${encodeURIComponent(a.id)}/entries?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
          )
        ).body;
        for (const e of page.items) sum += e.amount;
        cursor = page.nextCursor;
      } while (cursor);
      expect(sum, a.id).toBe(a.balance);
      total += a.balance;
    }
    // What is not in an account is in the escrows of live tasks: none are left here but queued ones.
    const live = (await admin('GET', '/v1/tasks?state=queued&limit=200')).body.items as {
      settlement: { held: number };
    }[];
    const held = live.reduce((s, t) => s + t.settlement.held, 0);
    expect(total + held).toBe(0);
    // The money metrics say the same, read from the accounts and the live tasks.
    const samples = parsePrometheus(
      await (await fetch(`${m.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text(),
    );
    const issued = -accounts.find((a) => a.id === 'issuance')!.balance;
    expect(sampleValue(samples, 'cnp_money_units', { kind: 'issued' })).toBe(issued);
    expect(sampleValue(samples, 'cnp_money_units', { kind: 'held' })).toBe(held);
    // Settled: paid to agents all told (a recoup takes back from a balance, not from what was paid).
    const agents = accounts.filter((a) => a.id.startsWith('agent:'));
    expect(sampleValue(samples, 'cnp_money_units', { kind: 'settled' })).toBe(
      agents.reduce((s, a) => s + a.earned, 0),
    );
  });
});

describe('accounts with keys off', () => {
  it("reads an agent's account with its token, and the client's as `anonymous`", async () => {
    const m = await startManager({ ACCOUNTS: 'true' });
    const fleet = new Fleet(m.url);
    try {
      const agent = await fleet.raw('acct-keys-off', 'acct.off', (_req, res) => json(res, {}));
      const mine = await client(m.url, { authorization: `Bearer ${agent.token}` })('GET', '/v1/accounts/me');
      expect(mine.body).toMatchObject({ id: `agent:${agent.id}`, kind: 'agent', balance: 0 });
      // Opened at registration: the view of every account lists it before it has earned anything.
      const all = (await m.call('GET', '/v1/accounts')).body.items as { id: string }[];
      expect(all.map((a) => a.id)).toEqual(expect.arrayContaining(['anonymous', `agent:${agent.id}`]));
      expect((await m.call('GET', '/v1/accounts/me')).body).toMatchObject({
        id: 'anonymous',
        kind: 'client',
      });
      // Keys off, the operator is whoever reaches the manager: it may credit.
      const credit = await m.call('POST', '/v1/accounts/anonymous/movements', { kind: 'credit', amount: 3 });
      expect(credit.body).toMatchObject({ balance: 3 });
      // Accounts off, the routes say so.
      const off = await startManager();
      try {
        const r = await off.call('GET', '/v1/accounts/me');
        expect(r.status).toBe(404);
        expect(r.body.error.code).toBe('accounts_off');
        expect(
          (await off.call('POST', '/v1/tasks', { capability: 'x.y', input: {}, budget: 2.5 })).status,
        ).toBe(202);
      } finally {
        await off.stop();
      }
    } finally {
      await fleet.stopAll();
      await m.stop();
    }
  });
});
