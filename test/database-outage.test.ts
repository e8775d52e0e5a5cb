import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_CHANNEL } from '../src/events/event-log.ts';
import { Fleet, fixedBidder } from './support/agents.ts';
import { eventually, sleep, startManager, type TestManager, waitEnd } from './support/harness.ts';
import { onPostgres } from './support/test-database.ts';

const PROBE_TASK = '01a00000-0000-7000-8000-00000000abcd';

/**
 * The database drops every connection mid-run (a server restart or a failover does this):
 * the manager reconnects, and every task it accepted still ends, once.
 */
describe.skipIf(!onPostgres())('a database that drops every connection mid-run', () => {
  let m: TestManager;
  let fleet: Fleet;
  let admin: postgres.Sql;
  beforeAll(async () => {
    m = await startManager({ ROUND_LEASE_MS: '1000' });
    admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    fleet = new Fleet(m.url);
    for (const name of ['outage-a', 'outage-b'])
      await fleet.start({
        ...fixedBidder(name, 1, 50),
        capabilities: ['outage.work'],
        execute: async (input: { n: number }) => {
          await sleep(30);
          return { n: input.n };
        },
      });
  });
  afterAll(async () => {
    // Each step says so if it is slow: a stop that hangs after the outage must be readable in CI.
    const slow = async (step: string, work: Promise<unknown> | undefined) => {
      const t = Date.now();
      await work;
      if (Date.now() - t > 5000) console.warn(`teardown: ${step} took ${Date.now() - t} ms`);
    };
    await slow('the agents stopping', fleet?.stopAll());
    await slow('the admin connection ending', admin?.end({ timeout: 5 }));
    await slow('the manager stopping', m?.stop());
  }, 90_000);

  const database = () => new URL(m.env.DATABASE_URL!).pathname.slice(1);
  const dropConnections = () =>
    admin`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
          where datname = ${database()} and pid <> pg_backend_pid()`;

  it('reconnects, ends every accepted task exactly once, and answers 503 rather than 500 meanwhile, even while it flaps', async () => {
    const accepted: string[] = [];
    const statuses: number[] = [];
    const refusals: string[] = [];
    let stop = false;
    const clients = Array.from({ length: 4 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        const r = await m.call('POST', '/v1/tasks', {
          capability: 'outage.work',
          input: { n: c * 1000 + i },
        });
        statuses.push(r.status);
        if (r.status !== 202) refusals.push(`${r.status} ${JSON.stringify(r.body)}`);
        if (r.status === 202) accepted.push(r.body.id);
        else await sleep(50);
      }
    });
    await eventually(() => accepted.length >= 10, 20_000, 'ten accepted tasks');
    const [killed] = await dropConnections();
    expect(killed!.n).toBeGreaterThan(0);
    await sleep(300);
    await dropConnections(); // and again, while it reconnects
    // Then a flapping database: every connection cut every 100 ms for 3 s, whatever it was doing.
    const flapUntil = Date.now() + 3000;
    while (Date.now() < flapUntil) {
      await dropConnections();
      await sleep(100);
    }
    const afterFlap = accepted.length;
    await eventually(() => accepted.length >= afterFlap + 20, 30_000, 'twenty more accepted tasks');
    stop = true;
    await Promise.all(clients);

    // Refused meanwhile, if at all, as unavailable: never a 500.
    expect(refusals.filter((r) => !/^(503|429) /.test(r))).toEqual([]);
    const ended = await eventually(
      async () => {
        const views = await Promise.all(
          accepted.map(async (id) => (await m.call('GET', `/v1/tasks/${id}`)).body),
        );
        return views.every((v) => ['completed', 'failed', 'cancelled'].includes(v.state)) ? views : null;
      },
      45_000,
      'every accepted task to end',
    );
    // Faults may fail a task (with its reason); they must not fail most of them.
    const notCompleted = ended
      .filter((v) => v.state !== 'completed')
      .map((v) => `${v.state}:${v.error?.code}`);
    expect(notCompleted.length, notCompleted.join(', ')).toBeLessThan(accepted.length * 0.1);
    const twice = await m.manager.database.query(
      `select task_id from awards where status = 'completed' group by task_id having count(*) > 1`,
      [],
    );
    expect(twice).toEqual([]);
    // Its LISTEN connection came back too: other managers' notices still reach it.
    const heard = new Promise((resolve) => m.manager.hub.onTask(PROBE_TASK, resolve));
    await eventually(
      async () => {
        await m.manager.database.query(`select pg_notify($1, $2)`, [
          EVENTS_CHANNEL,
          JSON.stringify({
            origin: 'another-manager',
            notices: [{ id: 1, taskId: PROBE_TASK, agentId: null, type: 'probe' }],
          }),
        ]);
        return Promise.race([heard.then(() => true), sleep(200).then(() => false)]);
      },
      10_000,
      'a notice after the reconnect',
    );
    // Still a working market afterwards.
    const after = await m.call('POST', '/v1/tasks', { capability: 'outage.work', input: { n: -1 } });
    expect((await waitEnd(m, after.body.id, 10000)).state).toBe('completed');
  }, 120_000);
});
