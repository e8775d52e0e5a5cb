import { describe, expect, it } from 'vitest';
import { isEnded } from '../protocol/states.ts';
import { nextState, stateAfter, statesAllowing, TASK_ACTIONS } from './state-machine.ts';

describe('task state machine', () => {
  it('follows the happy path pending -> bidding -> awarded -> completed', () => {
    expect(nextState('pending', 'announce')).toBe('bidding');
    expect(nextState('bidding', 'award')).toBe('awarded');
    expect(nextState('awarded', 'complete')).toBe('completed');
  });

  it('queues from bidding and awarded, and leaves the queue by auction or claim', () => {
    expect(nextState('bidding', 'enqueue')).toBe('queued');
    expect(nextState('awarded', 'enqueue')).toBe('queued');
    expect(nextState('queued', 'announce')).toBe('bidding');
    expect(nextState('queued', 'claim')).toBe('awarded');
  });

  it('moves an award to the next-best bid, and re-auctions a failed award only through the queue', () => {
    expect(nextState('awarded', 'award')).toBe('awarded');
    expect(nextState('awarded', 'announce')).toBeNull();
    expect(nextState('awarded', 'enqueue')).toBe('queued');
  });

  it('lets a survivor take over a round whose owner died', () => {
    expect(nextState('bidding', 'announce')).toBe('bidding');
  });

  it('never completes a task that is not awarded', () => {
    expect(statesAllowing('complete')).toEqual(['awarded']);
  });

  it('cancels any non-terminal task and nothing else', () => {
    expect(statesAllowing('cancel')).toEqual(['waiting', 'pending', 'bidding', 'awarded', 'queued']);
  });

  it('fails only unfinished tasks and revives only failed ones', () => {
    expect(statesAllowing('fail')).toEqual(['waiting', 'pending', 'bidding', 'awarded', 'queued']);
    expect(statesAllowing('retry')).toEqual(['failed']);
    expect(nextState('failed', 'retry')).toBe('pending');
  });

  it('releases a waiting task only to pending, and only from waiting', () => {
    expect(nextState('waiting', 'release')).toBe('pending');
    expect(statesAllowing('release')).toEqual(['waiting']);
    expect(nextState('waiting', 'announce')).toBeNull();
    expect(nextState('waiting', 'claim')).toBeNull();
    expect(nextState('waiting', 'fail')).toBe('failed');
  });

  it('treats completed and cancelled as final', () => {
    for (const action of TASK_ACTIONS) {
      expect(nextState('completed', action)).toBeNull();
      expect(nextState('cancelled', action)).toBeNull();
    }
    expect(isEnded('completed') && isEnded('failed') && isEnded('cancelled')).toBe(true);
    expect(isEnded('queued')).toBe(false);
  });

  it('does not claim a task that is being auctioned', () => {
    expect(nextState('bidding', 'claim')).toBeNull();
    expect(nextState('pending', 'claim')).toBeNull();
  });

  it('has one target per action, which the persisted transitions write', () => {
    expect(TASK_ACTIONS.map((a) => [a, stateAfter(a)])).toEqual([
      ['release', 'pending'],
      ['announce', 'bidding'],
      ['award', 'awarded'],
      ['claim', 'awarded'],
      ['complete', 'completed'],
      ['enqueue', 'queued'],
      ['fail', 'failed'],
      ['cancel', 'cancelled'],
      ['retry', 'pending'],
    ]);
  });
});
