import { randomBytes } from 'node:crypto';

/** A W3C trace context (https://www.w3.org/TR/trace-context/): the `traceparent` header. */
export type TraceContext = { traceId: string; spanId: string; flags: string };

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZEROS = /^0+$/;

/**
 * The trace context of a `traceparent` header, or null when it is not one: version 00 only,
 * lower-case hex, neither id all zeros (the specification's invalid values). Anything else a
 * client sends is ignored and the task starts a trace of its own.
 */
export function parseTraceparent(header: string | undefined | null): TraceContext | null {
  const m = header?.trim().match(TRACEPARENT);
  if (!m || ZEROS.test(m[1]!) || ZEROS.test(m[2]!)) return null;
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

export const formatTraceparent = (t: TraceContext): string => `00-${t.traceId}-${t.spanId}-${t.flags}`;

/**
 * Random bytes drawn 4 KiB at a time: a span id per agent call would otherwise be a
 * randomBytes call of its own (2% of the manager's CPU under load, measured).
 */
let pool = Buffer.alloc(0);
let used = 0;
function random(n: number): string {
  if (used + n > pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  const hex = pool.toString('hex', used, used + n);
  used += n;
  return hex;
}

export const newSpanId = (): string => random(8);

/** A new trace, sampled: for a task submitted without a trace of its own. */
export const newTrace = (): TraceContext => ({
  traceId: random(16),
  spanId: newSpanId(),
  flags: '01',
});

/** The context a call made on behalf of `parent` carries: the same trace, a span id of its own. */
export const childOf = (parent: TraceContext): TraceContext => ({ ...parent, spanId: newSpanId() });

/** The traceparent a submission is stored with: the client's when it sent a valid one, else a new trace. */
export const submittedTraceparent = (header: string | undefined): string =>
  formatTraceparent(parseTraceparent(header) ?? newTrace());
