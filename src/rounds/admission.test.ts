import { describe, expect, it } from 'vitest';
import { Admission, ANONYMOUS } from './admission.ts';

/** A round that holds its slot until `release` is called. */
function holdingRound(slots: Admission, client: string, log: string[], name: string) {
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  const done = slots.execute(client, async () => {
    log.push(name);
    await held;
  });
  return { release, done };
}

describe('Admission', () => {
  const fixed = (max: number) => new Admission({ min: 1, max, targetLagMs: 0 });

  it('lets one client key hold at most its share, leaving the rest to others', async () => {
    const slots = fixed(4);
    const log: string[] = [];
    const a = [1, 2, 3, 4].map((i) => holdingRound(slots, 'a', log, `a${i}`));
    await Promise.resolve();
    expect(log).toEqual(['a1', 'a2']);
    expect(slots.status()).toEqual({ limit: 4, running: 2, waiting: 2 });
    const b = holdingRound(slots, 'b', log, 'b1');
    await Promise.resolve();
    expect(log).toEqual(['a1', 'a2', 'b1']);
    for (const r of [...a, b]) r.release();
    await Promise.all([...a, b].map((r) => r.done));
    expect(log).toEqual(['a1', 'a2', 'b1', 'a3', 'a4']);
    slots.close();
  });

  it('serves waiting clients in turn, each in its own order', async () => {
    const slots = fixed(2);
    const log: string[] = [];
    const first = holdingRound(slots, ANONYMOUS, log, 'x1');
    const second = holdingRound(slots, ANONYMOUS, log, 'x2');
    const waiting = [
      holdingRound(slots, 'a', log, 'a1'),
      holdingRound(slots, 'a', log, 'a2'),
      holdingRound(slots, 'a', log, 'a3'),
      holdingRound(slots, 'b', log, 'b1'),
    ];
    await Promise.resolve();
    expect(log).toEqual(['x1', 'x2']);
    first.release();
    await first.done;
    await Promise.resolve();
    second.release();
    await second.done;
    await Promise.resolve();
    // a's share of 2 slots is 1: b is let in beside it, not a2.
    expect(log).toEqual(['x1', 'x2', 'a1', 'b1']);
    for (const w of waiting) w.release();
    await Promise.all(waiting.map((w) => w.done));
    expect(log).toEqual(['x1', 'x2', 'a1', 'b1', 'a2', 'a3']);
    slots.close();
  });

  it('gives the anonymous client (keys off) every slot', async () => {
    const slots = fixed(3);
    const log: string[] = [];
    const rounds = [1, 2, 3].map((i) => holdingRound(slots, ANONYMOUS, log, `x${i}`));
    await Promise.resolve();
    expect(log).toEqual(['x1', 'x2', 'x3']);
    for (const r of rounds) r.release();
    await Promise.all(rounds.map((r) => r.done));
    slots.close();
  });

  it('takes a slot back when a round releases it early, and only once', async () => {
    const slots = fixed(1);
    const log: string[] = [];
    let releaseFirst!: () => void;
    let finishFirst!: () => void;
    const finished = new Promise<void>((r) => {
      finishFirst = r;
    });
    const first = slots.execute(ANONYMOUS, async (release) => {
      log.push('first');
      releaseFirst = release;
      await finished;
    });
    const second = holdingRound(slots, ANONYMOUS, log, 'second');
    await Promise.resolve();
    expect(log).toEqual(['first']);
    releaseFirst();
    releaseFirst();
    await Promise.resolve();
    expect(log).toEqual(['first', 'second']);
    expect(slots.status().running).toBe(1);
    finishFirst();
    await first;
    expect(slots.status().running).toBe(1);
    second.release();
    await second.done;
    expect(slots.status().running).toBe(0);
    slots.close();
  });
});
