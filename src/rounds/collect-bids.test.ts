import { afterEach, describe, expect, it, vi } from 'vitest';
import { DbClock } from '../db/db-clock.ts';
import { EventHub } from '../events/event-hub.ts';
import type { Cfp, CfpReply } from '../protocol/messages.ts';
import { collectBids } from './collect-bids.ts';
import type { Invitee } from './round-types.ts';

const invitee = (id: string): Invitee => ({
  id,
  endpoint: `http://127.0.0.1/${id}`,
  kid: null,
  reputation: 1,
  bidId: id,
});

const cfpDue = (replyBy: number) =>
  ({
    type: 'cfp',
    conversationId: 'task-1',
    round: 1,
    replyBy: new Date(replyBy).toISOString(),
  }) as unknown as Cfp;

describe('collectBids', () => {
  afterEach(() => vi.useRealTimers());

  it('gives every cfp of a round one deadline, which ends the calls still out at replyBy', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const signals: AbortSignal[] = [];
    const send = (i: Invitee, _cfp: Cfp, _replyBy: number, deadline: AbortSignal) => {
      signals.push(deadline);
      if (i.id === 'quick') return Promise.resolve<CfpReply>({ type: 'refuse', reason: 'busy' });
      // A hanging agent: its call ends only when the deadline aborts it.
      return new Promise<CfpReply>((_, reject) =>
        deadline.addEventListener('abort', () => reject(new Error('timed out'))),
      );
    };
    const done = collectBids(
      send,
      new EventHub('m'),
      cfpDue(1_000_500),
      [invitee('quick'), invitee('slow'), invitee('slower')],
      new DbClock(),
    );
    await vi.advanceTimersByTimeAsync(499);
    expect(signals).toHaveLength(3);
    expect(new Set(signals).size).toBe(1);
    expect(signals[0]!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const answers = await done;
    expect(signals[0]!.aborted).toBe(true);
    expect(answers.get('quick')).toMatchObject({ type: 'refuse' });
    // Answers still out at replyBy arrive once their calls end; the round does not wait for them.
    await vi.advanceTimersByTimeAsync(0);
    expect(answers.get('slow')).toMatchObject({ type: 'no_reply', reason: 'timed out' });
  });

  it('sets no deadline off when every invitee answered in time', async () => {
    vi.useFakeTimers({ now: 2_000_000 });
    let deadline: AbortSignal | undefined;
    const send = (_i: Invitee, _cfp: Cfp, _replyBy: number, d: AbortSignal) => {
      deadline = d;
      return Promise.resolve<CfpReply>({ type: 'refuse', reason: 'busy' });
    };
    const answers = await collectBids(
      send,
      new EventHub('m'),
      cfpDue(2_000_500),
      [invitee('a')],
      new DbClock(),
    );
    expect(answers.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(deadline!.aborted).toBe(false);
  });
});
