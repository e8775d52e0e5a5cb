import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../src/protocol/signature.ts';
import { Fleet, fixedBidder, json, RawAgent } from './support/agents.ts';
import { eventually, startManager, sweeps, type TestManager } from './support/harness.ts';

const SECRET = 'a-manager-secret-of-at-least-32-characters';

describe('task callbacks', () => {
  let m: TestManager | undefined;
  let fleet: Fleet | undefined;
  let hook: RawAgent | undefined;
  afterEach(async () => {
    await fleet?.stopAll();
    await hook?.close();
    await m?.stop();
  });

  it('posts the finished Task to callbackUrl, signed with the secret returned at submission, retrying until it is taken', async () => {
    m = await startManager({ MANAGER_SECRET: SECRET, OUTBOUND_LOOPBACK: 'allow' });
    fleet = new Fleet(m.url);
    await fleet.start({ ...fixedBidder('cb-worker', 1, 100), capabilities: ['cb.work'] });
    let calls = 0;
    hook = await RawAgent.start((_req, res) => {
      calls++;
      json(res, {}, calls === 1 ? 500 : 200); // the first delivery fails
    });
    const t = await m.call('POST', '/v1/tasks', {
      capability: 'cb.work',
      input: { n: 3 },
      callbackUrl: `${hook.url}/done`,
    });
    await eventually(() => hook!.requests.length >= 2, 15_000, 'a second delivery');
    const last = hook.requests.at(-1)!;
    // One ending, one delivery id, the same on the retry: the client can deduplicate.
    const ids = hook.requests.map((r) => r.headers['x-cnp-delivery']);
    expect(ids[0]).toMatch(new RegExp(`^${t.body.id}\\.\\d+$`));
    expect(new Set(ids).size).toBe(1);
    expect(last.path).toBe('/done');
    expect(last.body).toMatchObject({
      id: t.body.id,
      state: 'completed',
      output: { doubled: 6, by: 'cb-worker' },
    });
    // Signed with the task's own callback secret, never with the manager secret itself.
    expect(t.body.callbackSecret).toMatch(/^cbs_/);
    const signature = last.headers['x-cnp-signature'] as string;
    expect(verifySignature(t.body.callbackSecret, JSON.stringify(last.body), signature)).toMatchObject({
      ok: true,
    });
    expect(verifySignature(SECRET, JSON.stringify(last.body), signature).ok).toBe(false);
    // Shown only at submission: a read of the task does not carry it.
    expect((await m.call('GET', `/v1/tasks/${t.body.id}`)).body.callbackSecret).toBeUndefined();
    const other = await m.call('POST', '/v1/tasks', {
      capability: 'cb.unserved',
      input: 1,
      callbackUrl: hook.url,
    });
    expect(other.body.callbackSecret).not.toBe(t.body.callbackSecret);
    const events = await eventually(async () => {
      const items = (await m!.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items;
      return items.some((e: { type: string }) => e.type === 'task.callback_delivered') ? items : null;
    });
    expect(events.at(-1).data.attempts).toBe(2);
    // Delivered once: no further calls.
    const n = hook.requests.length;
    await sweeps(m, 3);
    expect(hook.requests.length).toBe(n);
  });

  it('signs with the API key that submitted the task, and calls back on cancel too', async () => {
    m = await startManager({ API_KEYS: 'client-key-one,client-key-two', OUTBOUND_LOOPBACK: 'allow' });
    hook = await RawAgent.start((_req, res) => json(res, {}));
    const auth = { authorization: 'Bearer client-key-two' };
    const t = await m.call(
      'POST',
      '/v1/tasks',
      { capability: 'cb.none', input: 1, callbackUrl: hook.url },
      auth,
    );
    await m.call('POST', `/v1/tasks/${t.body.id}/cancel`, undefined, auth);
    await eventually(() => hook!.requests.length >= 1);
    const req = hook.requests[0]!;
    expect(req.body.state).toBe('cancelled');
    expect(t.body.callbackSecret).toBeUndefined(); // with keys, the API key signs
    expect(
      verifySignature('client-key-two', JSON.stringify(req.body), req.headers['x-cnp-signature'] as string),
    ).toMatchObject({ ok: true });
    expect(
      verifySignature('client-key-one', JSON.stringify(req.body), req.headers['x-cnp-signature'] as string)
        .ok,
    ).toBe(false);
  });
});
