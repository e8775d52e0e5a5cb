import { describe, expect, it } from 'vitest';
import type { EventNotice } from './event-log.ts';
import { type NoticeBatch, payloadsOf } from './event-publisher.ts';

const notice = (id: number): EventNotice => ({
  id,
  taskId: '01a200f5-290c-77ec-a598-6c96034dc121',
  agentId: null,
  type: 'task.completed',
  capability: 'x'.repeat(100),
  state: 'completed',
});

describe('payloadsOf', () => {
  it('packs notices into as few payloads as fit under the NOTIFY cap, in order, none lost', () => {
    const notices = Array.from({ length: 200 }, (_, i) => notice(i));
    const payloads = payloadsOf('manager-1', notices);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8000);
    const batches = payloads.map((p) => JSON.parse(p) as NoticeBatch);
    expect(batches.every((b) => b.origin === 'manager-1')).toBe(true);
    expect(batches.flatMap((b) => b.notices)).toEqual(notices);
  });

  it('sends one payload for a small batch', () => {
    expect(payloadsOf('m', [notice(1), notice(2)])).toHaveLength(1);
  });
});
