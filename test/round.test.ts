import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentStatDeltas, agents, awards, bids, tasks } from '../src/db/schema.ts';
import { rollUpAgentStats } from '../src/registry/agent-stats.ts';
import { deferred } from '../src/sdk/index.ts';
import { Fleet, fixedBidder, json, refusesAward } from './support/agents.ts';
import { eventually, sleep, startManager, submitTask, type TestManager, waitEnd } from './support/harness.ts';

const FAST = {
  DUE_GRACE_FACTOR: '1',
  DUE_GRACE_MS: '1500',
  REAUCTION_BASE_MS: '50',
  REAUCTION_CAP_MS: '200',
  AWARD_TIMEOUT_MS: '500',
  AWARD_RETRIES: '1',
  RETRY_BASE_MS: '10',
  RETRY_MAX_MS: '20',
};

let m: TestManager;
let fleet: Fleet;
let capN = 0;
/** Each test its own capability, so agents of one test never bid in another's rounds. */
const freshCap = () => `cap.t${++capN}`;

beforeAll(async () => {
  m = await startManager(FAST);
});
afterAll(() => m.stop());
afterEach(async () => {
  await fleet?.stopAll();
});

const submit = (body: Record<string, unknown>) =>
  submitTask(m, { input: { n: 1 }, bidWindowMs: 1000, ...body });
const ended = (id: string) => waitEnd(m, id, 20000);
const eventTypes = async (id: string) =>
  (await m.call('GET', `/v1/tasks/${id}/events`)).body.items.map((e: { type: string }) => e.type) as string[];

describe('ranking', () => {
  it('awards the lowest weighted score, and the task weights change the winner', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    const cheapSlow = await fleet.start({ ...fixedBidder('cheap-slow', 1, 2000), capabilities: [cap] });
    const fastDear = await fleet.start({ ...fixedBidder('fast-dear', 8, 100), capabilities: [cap] });
    const byCost = await ended(
      await submit({ capability: cap, weights: { cost: 10, time: 1, reputation: 0 } }),
    );
    const byTime = await ended(
      await submit({ capability: cap, weights: { cost: 1, time: 10, reputation: 0 } }),
    );
    expect(byCost.award.agentId).toBe(cheapSlow.id);
    expect(byTime.award.agentId).toBe(fastDear.id);
  });

  it('breaks ties deterministically and never ranks bids over budget', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    const a = await fleet.start({ ...fixedBidder('tie-a', 5, 100), capabilities: [cap] });
    const b = await fleet.start({ ...fixedBidder('tie-b', 5, 100), capabilities: [cap] });
    const dear = await fleet.start({
      ...fixedBidder('over-budget', 0.5, 50),
      capabilities: [cap],
      bid: () => ({ type: 'propose', cost: 50, etaMs: 50 }),
    });
    const winners = new Set<string>();
    for (let i = 0; i < 3; i++)
      winners.add((await ended(await submit({ capability: cap, budget: 10 }))).award.agentId);
    // Same cost, eta and reputation at first; afterwards the winner's record wins: always one agent.
    expect(winners.size).toBe(1);
    expect([a.id, b.id]).toContain([...winners][0]);
    const id = await submit({ capability: cap, budget: 10 });
    await ended(id);
    const bids = (await m.call('GET', `/v1/tasks/${id}/bids`)).body.items;
    expect(bids.find((x: { agentId: string }) => x.agentId === dear.id).outcome).toBe('over_budget');
  });
});

describe('closing the round', () => {
  it('closes as soon as every invited agent answered, without waiting out the window', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    await fleet.start({ ...fixedBidder('quick-1', 2, 100), capabilities: [cap] });
    await fleet.start({
      ...fixedBidder('quick-2', 3, 100),
      capabilities: [cap],
      bid: () => ({ type: 'refuse', reason: 'busy' }),
    });
    const started = Date.now();
    const done = await ended(await submit({ capability: cap, bidWindowMs: 30_000 }));
    expect(done.state).toBe('completed');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('closes at replyBy when an agent hangs, and awards the agents that answered', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    const ok = await fleet.start({ ...fixedBidder('answers', 2, 100), capabilities: [cap] });
    const hang = await fleet.raw('hangs', cap, () => {}); // never answers
    const started = Date.now();
    const id = await submit({ capability: cap, bidWindowMs: 800 });
    const done = await ended(id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
    expect(done.award.agentId).toBe(ok.id);
    const bids = (await m.call('GET', `/v1/tasks/${id}/bids`)).body.items;
    expect(bids.find((b: { agentId: string }) => b.agentId === hang.id).outcome).toBe('no_reply');
  });

  it('takes deferred bids before replyBy and answers late ones with 409 bid_too_late', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    const later = await fleet.start({
      ...fixedBidder('defers', 1, 100),
      capabilities: [cap],
      bid: () => deferred(async () => ({ type: 'propose', cost: 1, etaMs: 100 })),
    });
    const done = await ended(await submit({ capability: cap, bidWindowMs: 5000 }));
    expect(done.award.agentId).toBe(later.id);

    const late = await fleet.raw('late-bidder', cap, (_req, res) => json(res, { type: 'deferred' }));
    const id = await submit({ capability: cap, bidWindowMs: 300 });
    await eventually(
      async () => (await m.call('GET', `/v1/tasks/${id}`)).body.round >= 1 && late.count('/cfp') > 0,
    );
    // Once its first round has closed (awarded to the deferring agent above, or queued), a bid
    // for it is late.
    const round = 1;
    await eventually(async () =>
      (await eventTypes(id)).some((t) => t === 'task.awarded' || t === 'task.queued'),
    );
    const res = await m.call(
      'POST',
      `/v1/tasks/${id}/bids`,
      { round, type: 'propose', cost: 1, etaMs: 10 },
      {
        authorization: `Bearer ${late.token}`,
      },
    );
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('bid_too_late');
    const bids = (await m.call('GET', `/v1/tasks/${id}/bids`)).body.items;
    expect(
      bids.find((b: { agentId: string; round: number }) => b.agentId === late.id && b.round === round)
        .outcome,
    ).toBe('late');
  });

  it('refuses a deferred bid from an agent that was not invited', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    await fleet.raw('slow-invitee', cap, () => {});
    const outsider = await fleet.raw('outsider', freshCap(), () => {});
    const id = await submit({ capability: cap, bidWindowMs: 3000 });
    await eventually(async () => (await m.call('GET', `/v1/tasks/${id}`)).body.state === 'bidding');
    const res = await m.call(
      'POST',
      `/v1/tasks/${id}/bids`,
      { round: 1, type: 'propose', cost: 1, etaMs: 10 },
      {
        authorization: `Bearer ${outsider.token}`,
      },
    );
    expect(res.status).toBe(403);
    await m.call('POST', `/v1/tasks/${id}/cancel`);
  });

  it('queues a task no agent can take, with reason no_eligible_agents', async () => {
    const id = await submit({ capability: freshCap() });
    const task = await eventually(async () => {
      const t = (await m.call('GET', `/v1/tasks/${id}`)).body;
      return t.state === 'queued' ? t : null;
    });
    expect(task.state).toBe('queued');
    const ev = (await m.call('GET', `/v1/tasks/${id}/events`)).body.items.find(
      (e: { type: string }) => e.type === 'task.queued',
    );
    expect(ev.data.reason).toBe('no_eligible_agents');
    await m.call('POST', `/v1/tasks/${id}/cancel`);
  });
});

describe('awards', () => {
  it('moves the award to the next-best bid when the winner refuses it', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    const refuser = await fleet.raw('refuses-award', cap, refusesAward(1));
    const second = await fleet.start({ ...fixedBidder('second-best', 5, 100), capabilities: [cap] });
    const id = await submit({ capability: cap });
    const done = await ended(id);
    expect(done.state).toBe('completed');
    expect(done.award.agentId).toBe(second.id);
    // The second agent agrees and reports, or (work done within the award call) answers the
    // award with its result: award.agreed is there or not, the rest of the trail is the same.
    expect((await eventTypes(id)).filter((t) => t !== 'award.agreed')).toEqual([
      'task.submitted',
      'round.opened',
      'task.awarded',
      'award.moved',
      'task.completed',
    ]);
    const bids = (await m.call('GET', `/v1/tasks/${id}/bids`)).body.items;
    expect(bids.find((b: { agentId: string }) => b.agentId === refuser.id).outcome).toBe('award_refused');
  });

  it('queues the task when every award fails', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    for (const name of ['fails-award-1', 'fails-award-2']) {
      await fleet.raw(name, cap, (req, res) =>
        req.path === '/cfp'
          ? json(res, { type: 'propose', cost: 1, etaMs: 100 })
          : json(res, { error: 'nope' }, 400),
      );
    }
    const id = await submit({ capability: cap });
    await eventually(async () => (await eventTypes(id)).includes('task.queued'));
    const ev = (await m.call('GET', `/v1/tasks/${id}/events`)).body.items.find(
      (e: { type: string }) => e.type === 'task.queued',
    );
    expect(ev.data.reason).toBe('awards_failed');
    await m.call('POST', `/v1/tasks/${id}/cancel`);
  });

  it('completes at once when the award is answered with inform-result', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    await fleet.start({ ...fixedBidder('inline', 1, 100), capabilities: [cap], inlineResultMs: 1000 });
    const id = await submit({ capability: cap, input: { n: 5 } });
    const done = await ended(id);
    expect(done.output).toEqual({ doubled: 10, by: 'inline' });
    expect(await eventTypes(id)).toEqual([
      'task.submitted',
      'round.opened',
      'task.awarded',
      'task.completed',
    ]);
  });
});

describe('results', () => {
  it('keeps a repeated result idempotent and answers a result after re-award with 409 stale_award', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    // Agrees, then never reports: its award expires and the task is auctioned again without it.
    const silent = await fleet.raw('silent', cap, (req, res) =>
      json(
        res,
        req.path === '/cfp'
          ? { type: 'propose', cost: 1, etaMs: 50 }
          : req.path === '/award'
            ? { type: 'agree' }
            : {},
      ),
    );
    const worker = await fleet.start({ ...fixedBidder('reliable', 9, 100), capabilities: [cap] });
    const id = await submit({ capability: cap, input: { n: 4 } });
    const done = await ended(id);
    expect(done.state).toBe('completed');
    expect(done.award.agentId).toBe(worker.id);
    expect(done.attempts).toBe(2);
    const events = await eventTypes(id);
    expect(events).toContain('task.queued');
    const firstAward = silent.requests.find((r) => r.path === '/award')!.body.awardId;
    const late = await m.call(
      'POST',
      `/v1/tasks/${id}/result`,
      { awardId: firstAward, type: 'inform-result', output: 'late!' },
      {
        authorization: `Bearer ${silent.token}`,
      },
    );
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('stale_award');
    expect((await m.call('GET', `/v1/tasks/${id}`)).body.output).toEqual({ doubled: 8, by: 'reliable' });
    // The silent agent got cancel for its expired award.
    await eventually(() => silent.count('/cancel') > 0);
    // The winner's result again: 200, nothing changes.
    const again = await m.call(
      'POST',
      `/v1/tasks/${id}/result`,
      { awardId: done.award.id, type: 'inform-result', output: { doubled: 8, by: 'reliable' } },
      {
        authorization: `Bearer ${worker.manager.token}`,
      },
    );
    expect(again.status).toBe(200);
    expect(again.body.output).toEqual({ doubled: 8, by: 'reliable' });
    // Another agent's token on the winner's award: 403.
    const other = await m.call(
      'POST',
      `/v1/tasks/${id}/result`,
      { awardId: done.award.id, type: 'inform-result', output: 1 },
      {
        authorization: `Bearer ${silent.token}`,
      },
    );
    expect(other.status).toBe(403);
  });

  it('re-auctions a failed task without the agent that failed it', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    const flaky = await fleet.start({
      ...fixedBidder('fails', 1, 100),
      capabilities: [cap],
      execute: () => {
        throw new Error('disk full');
      },
    });
    const good = await fleet.start({ ...fixedBidder('works', 5, 100), capabilities: [cap] });
    const id = await submit({ capability: cap, input: { n: 1 } });
    const done = await ended(id);
    expect(done.state).toBe('completed');
    expect(done.award.agentId).toBe(good.id);
    const bids = (await m.call('GET', `/v1/tasks/${id}/bids`)).body.items;
    const round2 = bids.filter((b: { round: number }) => b.round === 2);
    expect(round2.map((b: { agentId: string }) => b.agentId)).not.toContain(flaky.id);
    const agent = (await m.call('GET', `/v1/agents/${flaky.id}`)).body;
    expect(agent.stats.failures).toBe(1);
    expect(agent.stats.reputation).toBeLessThan(0.5);
  });

  it('gives a failed task back to the agent that failed it when no other can take it', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    let calls = 0;
    const only = await fleet.start({
      ...fixedBidder('only-one', 1, 100),
      capabilities: [cap],
      execute: (input: { n: number }) => {
        if (++calls === 1) throw new Error('transient');
        return { doubled: input.n * 2 };
      },
    });
    const id = await submit({ capability: cap, input: { n: 3 }, maxAttempts: 3 });
    const done = await ended(id);
    expect(done.state).toBe('completed');
    expect(done.award.agentId).toBe(only.id);
    expect(done.attempts).toBe(2);
  });

  it('fails the task with attempts_exhausted after maxAttempts', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    for (const name of ['broken-1', 'broken-2', 'broken-3']) {
      await fleet.start({
        ...fixedBidder(name, 1, 100),
        capabilities: [cap],
        execute: () => {
          throw new Error(`${name} cannot`);
        },
      });
    }
    const id = await submit({ capability: cap, maxAttempts: 2 });
    const done = await ended(id);
    expect(done.state).toBe('failed');
    expect(done.error.code).toBe('attempts_exhausted');
    expect(done.attempts).toBe(2);
    const dead = await m.call('GET', `/v1/tasks?state=failed&capability=${cap}`);
    expect(dead.body.items.map((t: { id: string }) => t.id)).toEqual([id]);
  });
});

describe('cancel and deadline', () => {
  it('cancels mid-round: nothing is awarded', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    // A slow agent: its proposal is sent once the task has been cancelled.
    let cancelled!: () => void;
    const afterCancel = new Promise<void>((r) => {
      cancelled = r;
    });
    let slowAnswered = false;
    const slow = await fleet.raw('slow-bidder', cap, async (_req, res) => {
      await afterCancel;
      json(res, { type: 'propose', cost: 1, etaMs: 100 });
      slowAnswered = true;
    });
    const quick = await fleet.raw('quick-bidder', cap, (req, res) =>
      json(res, req.path === '/cfp' ? { type: 'propose', cost: 2, etaMs: 100 } : {}),
    );
    const refuser = await fleet.raw('refusing-bidder', cap, (req, res) =>
      json(res, req.path === '/cfp' ? { type: 'refuse', reason: 'no' } : {}),
    );
    const id = await submit({ capability: cap, bidWindowMs: 3000 });
    await eventually(() => slow.count('/cfp') > 0 && quick.count('/cfp') > 0 && refuser.count('/cfp') > 0);
    expect((await m.call('POST', `/v1/tasks/${id}/cancel`)).status).toBe(200);
    cancelled();
    // Every bidder that may still stand by a proposal is told; the one that refused is not.
    await eventually(() => quick.count('/reject') > 0 && slow.count('/reject') > 0);
    for (const agent of [quick, slow])
      expect(agent.requests.find((r) => r.path === '/reject')!.body).toMatchObject({
        type: 'reject-proposal',
        conversationId: id,
        reason: 'cancelled',
      });
    // The slow bidder's answer arrives after the cancel, and the round ends: still no award.
    await eventually(() => slowAnswered && m.manager.rounds.inFlight === 0, 10_000, 'the round over');
    const t = (await m.call('GET', `/v1/tasks/${id}`)).body;
    expect(t.state).toBe('cancelled');
    expect(slow.count('/award') + quick.count('/award')).toBe(0);
    expect(refuser.count('/reject')).toBe(0);
  });

  it('cancels after the award and sends cancel to the holder, whose work is aborted', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    let aborted = false;
    const holder = await fleet.start({
      ...fixedBidder('long-worker', 1, 10_000),
      capabilities: [cap],
      execute: (_input, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    });
    const id = await submit({ capability: cap });
    await eventually(async () => (await eventTypes(id)).includes('award.agreed'));
    const res = await m.call('POST', `/v1/tasks/${id}/cancel`);
    expect(res.body.state).toBe('cancelled');
    await eventually(() => aborted, 5000, 'the holder to abort its work');
    expect(holder.load().running).toBe(0);
  });

  it('fails a task past its deadline with deadline_exceeded', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    await fleet.start({
      ...fixedBidder('too-slow', 1, 100),
      capabilities: [cap],
      execute: (_i, { signal }) => new Promise((r) => signal.addEventListener('abort', () => r('x'))),
    });
    const id = await submit({ capability: cap, deadline: new Date(Date.now() + 1500).toISOString() });
    const done = await ended(id);
    expect(done.state).toBe('failed');
    expect(done.error.code).toBe('deadline_exceeded');
  });
});

describe('misbehaving agents', () => {
  it.each([
    [
      'garbage',
      (_req: any, res: any) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"type": "propo');
      },
    ],
    ['an invalid message', (_req: any, res: any) => json(res, { type: 'propose', cost: -5, etaMs: 'soon' })],
    ['a 500', (_req: any, res: any) => json(res, { error: 'boom' }, 500)],
    ['a reset connection', (_req: any, _res: any, socket: any) => socket.destroy()],
    ['nothing at all', () => {}],
  ])('survives an agent answering %s; a good agent still gets the task', async (_name, handler) => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    const bad = await fleet.raw(`bad-${capN}`, cap, handler);
    const good = await fleet.start({ ...fixedBidder(`good-${capN}`, 50, 5000), capabilities: [cap] });
    const id = await submit({ capability: cap, bidWindowMs: 700 });
    const done = await ended(id);
    expect(done.state).toBe('completed');
    expect(done.award.agentId).toBe(good.id);
    const bids = (await m.call('GET', `/v1/tasks/${id}/bids`)).body.items;
    const badBid = bids.find((b: { agentId: string }) => b.agentId === bad.id);
    expect(['no_reply', 'invalid']).toContain(badBid.outcome);
    // What it sent is not copied into what the task's client reads.
    expect(JSON.stringify(badBid)).not.toMatch(/soon|boom|propo"/);
    expect((await m.call('GET', '/healthz')).status).toBe(200);
  });
});

describe('load', () => {
  it('completes 200 tasks submitted at once to 5 agents, each with exactly one accepted award', async () => {
    fleet = new Fleet(m.url);
    const cap = freshCap();
    for (let i = 0; i < 5; i++) {
      await fleet.start({
        ...fixedBidder(`load-${i}`, 1 + i, 50 + 10 * i),
        capabilities: [cap],
        maxConcurrency: 16,
        // Up to 16 tasks at once on a shared 2-core machine: promise a realistic time.
        bid: (_cfp, ctx) => ({ type: 'propose', cost: 1 + i + ctx.running, etaMs: 3000 + 10 * i }),
        execute: async (input: { n: number }) => {
          await sleep(5);
          return { doubled: input.n * 2 };
        },
      });
    }
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, n) => submit({ capability: cap, input: { n }, bidWindowMs: 2000 })),
    );
    const ends = await Promise.all(ids.map((id) => ended(id)));
    expect(ends.filter((t) => t.state !== 'completed')).toEqual([]);
    const db = m.manager.database.db;
    for (const [i, id] of ids.entries()) {
      const rows = await db.select().from(awards).where(eq(awards.taskId, id));
      const completed = rows.filter((a) => a.status === 'completed');
      expect(completed).toHaveLength(1);
      const [task] = await db.select().from(tasks).where(eq(tasks.id, id));
      expect(task!.awardId).toBe(completed[0]!.id);
      expect(task!.output).toEqual({ doubled: i * 2 });
      expect(completed[0]!.output).toEqual({ doubled: i * 2 });
    }
    // Counters come from a ledger folded in by the sweeper: exact before and after folding.
    const facts = async (agentId: string) => {
      const b = await db.select().from(bids).where(eq(bids.agentId, agentId));
      const a = await db.select().from(awards).where(eq(awards.agentId, agentId));
      return {
        cfps: b.length,
        proposals: b.filter((x) => x.type === 'propose').length,
        awards: a.length,
        completions: a.filter((x) => x.status === 'completed').length,
      };
    };
    const shown = async (agentId: string) => (await m.call('GET', `/v1/agents/${agentId}`)).body.stats;
    for (const agent of fleet.agents) {
      const id = agent.id;
      expect(await shown(id)).toMatchObject(await facts(id));
    }
    while ((await rollUpAgentStats(db)) > 0) {}
    expect(await db.select().from(agentStatDeltas)).toEqual([]);
    for (const agent of fleet.agents) {
      const id = agent.id;
      const [row] = await db.select().from(agents).where(eq(agents.id, id));
      expect(row).toMatchObject(await facts(id));
    }
  });
});

describe('rounds that keep losing their manager', () => {
  let mm: TestManager;
  let agents: Fleet;
  beforeAll(async () => {
    mm = await startManager({ MAX_ROUND_TAKEOVERS: '2', ROUND_LEASE_MS: '100' });
  });
  afterAll(async () => {
    await agents?.stopAll();
    await mm.stop();
  });

  it('fails the task with round_takeovers_exhausted instead of taking it over for ever', async () => {
    agents = new Fleet(mm.url);
    // Never answers its cfp: each round stays open until its lease is taken from it.
    await agents.raw('mute', 'takeover.work', () => {});
    const t = await mm.call('POST', '/v1/tasks', {
      capability: 'takeover.work',
      input: 1,
      bidWindowMs: 60_000,
    });
    const id = t.body.id as string;
    // Its owner "dies" again and again: the lease is made to run out under it.
    const ended = await eventually(
      async () => {
        await mm.manager.database.query(
          `update tasks set round_owner = 'a-dead-manager', round_lease_until = now() - interval '1 second'
           where id = $1 and state = 'bidding'`,
          [id],
        );
        const task = (await mm.call('GET', `/v1/tasks/${id}`)).body;
        return task.state === 'failed' ? task : null;
      },
      15_000,
      'the task to be given up',
    );
    expect(ended.error.code).toBe('round_takeovers_exhausted');
    // At most the first round and two takeovers. Fewer when this test's "death" lands between a
    // sweeper's claim of the lease and its reopening (seen under CI load): the claim counted.
    expect(ended.round).toBeGreaterThanOrEqual(1);
    expect(ended.round).toBeLessThanOrEqual(3);
    // The rounds taken over do not stay pending: their invitations ended as no_reply.
    const bidsOf = (await mm.call('GET', `/v1/tasks/${id}/bids`)).body.items as {
      round: number;
      outcome: string;
    }[];
    const taken = bidsOf.filter((b) => b.round < ended.round);
    expect(taken.length).toBe(ended.round - 1);
    expect(taken.every((b) => b.outcome === 'no_reply')).toBe(true);
  });
});
