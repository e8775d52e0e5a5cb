import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../../src/protocol/task.ts';
import { applyEvent, describe as describeEvent, emptyFeed, type MarketFeed } from './market-feed.ts';

let seq = 0;
const ev = (
  type: string,
  data: Record<string, unknown>,
  agentId: string | null = null,
  taskId = 't1',
): TaskEvent => ({
  id: String(++seq),
  taskId,
  agentId,
  type,
  data,
  createdAt: new Date(1_700_000_000_000 + seq).toISOString(),
  traceId: null,
});
const names: Record<string, string> = { a: 'alpha', b: 'beta', c: 'gamma' };
const nameOf = (id: string) => names[id] ?? id;
const fold = (events: TaskEvent[], limit?: number): MarketFeed =>
  events.reduce((f, e) => applyEvent(f, e, nameOf, limit), emptyFeed());

describe('applyEvent', () => {
  it('follows a round from cfp to award, rejecting the other proposers', () => {
    const f = fold([
      ev('task.submitted', { state: 'pending', capability: 'text.summarize' }),
      ev('round.opened', { round: 1, invited: ['a', 'b', 'c'] }),
      ev('bid.received', { type: 'propose', cost: 3, etaMs: 40 }, 'a'),
      ev('bid.received', { type: 'propose', cost: 2, etaMs: 90 }, 'b'),
      ev('bid.received', { type: 'refuse' }, 'c'),
      ev('task.awarded', { cost: 2, etaMs: 90, round: 1 }, 'b'),
    ]);
    const card = f.rounds[0]!;
    expect(card).toMatchObject({
      capability: 'text.summarize',
      round: 1,
      phase: 'awarded',
      invited: ['a', 'b', 'c'],
      winner: { agentId: 'b', cost: 2, via: 'round' },
      rejected: ['a'],
    });
    expect(card.bids.map((b) => [b.agentId, b.kind])).toEqual([
      ['a', 'propose'],
      ['b', 'propose'],
      ['c', 'refuse'],
    ]);
    expect(f.lines[0]!.text).toContain('awarded to beta at 2');
    expect(f.counts['bid.received']).toBe(3);
    expect(f.agentEpoch).toBe(1);
  });

  it('replaces a revised bid, counts award moves and starts a new round afresh', () => {
    const f = fold([
      ev('round.opened', { round: 1, invited: ['a', 'b'] }),
      ev('bid.received', { type: 'propose', cost: 5 }, 'a'),
      ev('round.iterated', { iteration: 2 }),
      ev('bid.received', { type: 'propose', cost: 4 }, 'a'),
      ev('task.awarded', { cost: 4 }, 'a'),
      ev('award.moved', { cost: 6 }, 'b'),
    ]);
    let card = f.rounds[0]!;
    expect(card.bids).toEqual([{ agentId: 'a', kind: 'propose', cost: 4, etaMs: null, iteration: 2 }]);
    expect(card).toMatchObject({ iteration: 2, moves: 1, winner: { agentId: 'b' }, rejected: ['a'] });

    const g = [
      ev('task.queued', { reason: 'award_failed' }),
      ev('round.opened', { round: 2, invited: ['c'] }),
    ].reduce((acc, e) => applyEvent(acc, e, nameOf), f);
    card = g.rounds[0]!;
    expect(card).toMatchObject({
      round: 2,
      iteration: 1,
      phase: 'bidding',
      bids: [],
      winner: null,
      reason: null,
    });
  });

  it("fills in the round's answers from the closing event, skipping malformed entries", () => {
    const f = fold([
      ev('round.opened', { round: 1, invited: ['a', 'b', 'c'] }),
      ev('bid.received', { type: 'propose', cost: 9, etaMs: 5 }, 'c'),
      ev(
        'task.awarded',
        {
          cost: 2,
          answers: [
            { agentId: 'a', type: 'propose', cost: 2, etaMs: 10, outcome: 'ranked' },
            { agentId: 'b', type: 'no_reply', cost: null, etaMs: null, outcome: 'no_reply' },
            { agentId: 'c', type: 'propose', cost: 9, etaMs: 5, outcome: 'ranked' },
            { type: 'propose' },
            'garbage',
          ],
        },
        'a',
      ),
    ]);
    const card = f.rounds[0]!;
    expect(card.bids.map((b) => [b.agentId, b.kind, b.cost])).toEqual([
      ['c', 'propose', 9],
      ['a', 'propose', 2],
      ['b', 'silent', null],
    ]);
    expect(card.rejected).toEqual(['c']);
    const queued = applyEvent(f, ev('task.queued', { answers: [{ agentId: 'd', type: 'refuse' }] }), nameOf);
    expect(queued.rounds[0]!.bids.map((b) => b.agentId)).toEqual(['c', 'a', 'b', 'd']);
  });

  it('shows queue claims, ends and failure reasons', () => {
    const f = fold([
      ev('task.queued', { reason: 'no_bids' }),
      ev('task.claimed', {}, 'c'),
      ev('task.completed', {}, 'c'),
      ev('task.failed', { reason: 'deadline' }, null, 't2'),
    ]);
    expect(f.rounds.map((r) => [r.taskId, r.phase])).toEqual([
      ['t2', 'failed'],
      ['t1', 'completed'],
    ]);
    expect(f.rounds[1]!.winner).toMatchObject({ agentId: 'c', via: 'queue' });
    expect(f.rounds[0]!.reason).toBe('deadline');
  });

  it('keeps the newest cards and lines within the limit and tolerates hostile data', () => {
    const events = Array.from({ length: 10 }, (_, i) =>
      ev('task.submitted', { capability: 7 }, null, `t${i}`),
    );
    events.push(ev('bid.received', { type: 'propose', cost: 'lots', etaMs: Number.NaN }, 'a', 't9'));
    events.push(ev('round.opened', { round: 'x', invited: 'everyone' }, null, 't9'));
    const f = fold(events, 3);
    expect(f.rounds.map((r) => r.taskId)).toEqual(['t9', 't8', 't7']);
    expect(f.rounds[0]).toMatchObject({ capability: null, invited: [], round: 1 });
    expect(f.lines.length).toBe(12);
  });

  it('flags only agent-changing events', () => {
    expect(fold([ev('round.opened', { round: 1, invited: [] })]).agentEpoch).toBe(0);
    expect(
      fold([ev('agent.circuit_opened', {}, 'a', null as never), ev('task.completed', {})]).agentEpoch,
    ).toBe(2);
  });
});

describe('describe', () => {
  it('names agents and says what happened', () => {
    expect(describeEvent(ev('agent.circuit_opened', {}, 'a'), nameOf)).toBe('circuit OPEN for alpha');
    expect(describeEvent(ev('bid.received', { type: 'refuse' }, 'b'), nameOf)).toMatch(/^beta refused task/);
    expect(describeEvent(ev('something.new', {}, 'c'), nameOf)).toBe('something new gamma');
  });
});
