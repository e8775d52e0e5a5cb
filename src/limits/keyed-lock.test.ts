import { describe, expect, it } from 'vitest';
import { KeyedLock } from './keyed-lock.ts';

describe('KeyedLock', () => {
  it('runs one key one at a time, in order, and forgets idle keys', async () => {
    const lock = new KeyedLock();
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = lock.run('a', async () => {
      seen.push('a1 start');
      await gate;
      seen.push('a1 end');
    });
    const second = lock.run('a', async () => {
      seen.push('a2');
    });
    const other = lock.run('b', async () => {
      seen.push('b');
    });
    await other;
    expect(seen).toEqual(['a1 start', 'b']);
    release();
    await Promise.all([first, second]);
    expect(seen).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
    await Promise.resolve();
    await Promise.resolve();
    expect(lock.size).toBe(0);
  });

  it('goes on after a failure', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('a', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(lock.run('a', async () => 1)).resolves.toBe(1);
  });
});
