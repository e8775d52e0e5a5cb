import { describe, expect, it } from 'vitest';
import { childOf, formatTraceparent, newTrace, parseTraceparent } from './trace-context.ts';

describe('traceparent', () => {
  it('parses the specification example and formats it back', () => {
    const h = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const t = parseTraceparent(h);
    expect(t).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: '01',
    });
    expect(formatTraceparent(t!)).toBe(h);
  });
  it('refuses what is not a version-00 traceparent', () => {
    for (const bad of [
      undefined,
      '',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1\u0000',
    ])
      expect(parseTraceparent(bad), String(bad)).toBeNull();
  });
  it('starts new traces and child spans in the same trace', () => {
    const t = newTrace();
    expect(parseTraceparent(formatTraceparent(t))).toEqual(t);
    const c = childOf(t);
    expect(c.traceId).toBe(t.traceId);
    expect(c.spanId).not.toBe(t.spanId);
  });
});
