import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTraceparent } from '../src/observability/trace-context.ts';
import { Fleet, json } from './support/agents.ts';
import { eventually, startManager, type TestManager, waitEnd } from './support/harness.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

type OtlpSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string };

/** A stand-in OpenTelemetry collector: keeps the spans posted to /v1/traces (OTLP/HTTP JSON). */
async function collector() {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as {
          resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('traces', () => {
  let m: TestManager | undefined;
  let fleet: Fleet | undefined;
  afterEach(async () => {
    await fleet?.stopAll();
    await m?.stop();
  });

  /** An agent that proposes and agrees; it keeps every request, headers included. */
  const agreeing = (f: Fleet, name: string, capability: string) =>
    f.raw(name, capability, (req, res) =>
      req.path === '/cfp'
        ? json(res, { type: 'propose', cost: 1, etaMs: 50 })
        : req.path === '/award'
          ? json(res, { type: 'inform-result', output: { traced: true } })
          : json(res, {}),
    );

  it("carries the client's trace into every agent call of the task, its view and its events", async () => {
    m = await startManager();
    fleet = new Fleet(m.url);
    const agent = await agreeing(fleet, 'traced-agent', 'trace.work');
    const t = await m.call(
      'POST',
      '/v1/tasks',
      { capability: 'trace.work', input: {} },
      { traceparent: CLIENT },
    );
    expect(t.body.traceId).toBe(TRACE_ID);
    const done = await waitEnd(m, t.body.id, 10000);
    expect(done).toMatchObject({ state: 'completed', traceId: TRACE_ID });
    const calls = agent.requests.filter((r) => r.path === '/cfp' || r.path === '/award');
    expect(calls.map((r) => r.path)).toEqual(['/cfp', '/award']);
    const contexts = calls.map((r) => parseTraceparent(r.headers.traceparent as string));
    for (const c of contexts) expect(c?.traceId).toBe(TRACE_ID);
    // Each call is a span of its own, not the client's.
    expect(new Set(contexts.map((c) => c?.spanId)).size).toBe(2);
    expect(contexts.map((c) => c?.spanId)).not.toContain('00f067aa0ba902b7');
    const events = (await m.call('GET', `/v1/tasks/${t.body.id}/events`)).body.items;
    expect(events.length).toBeGreaterThan(2);
    for (const e of events) expect(e.traceId).toBe(TRACE_ID);
    const global = (await m.call('GET', '/v1/events?capability=trace.work')).body.items;
    expect(
      global
        .filter((e: { taskId: string }) => e.taskId === t.body.id)
        .every((e: { traceId: string }) => e.traceId === TRACE_ID),
    ).toBe(true);

    // Without a (valid) traceparent a task starts a trace of its own.
    for (const traceparent of [undefined, 'garbage', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`]) {
      const own = await m.call(
        'POST',
        '/v1/tasks',
        { capability: 'trace.none', input: {} },
        traceparent ? { traceparent } : {},
      );
      expect(own.body.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(own.body.traceId).not.toBe(TRACE_ID);
    }
  });

  it('exports spans of rounds, agent calls and database statements over OTLP when configured', async () => {
    const otlp = await collector();
    try {
      m = await startManager({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, SPAN_EXPORT_DELAY_MS: '50' });
      fleet = new Fleet(m.url);
      const agent = await agreeing(fleet, 'exported-agent', 'trace.export');
      const t = await m.call(
        'POST',
        '/v1/tasks',
        { capability: 'trace.export', input: {} },
        { traceparent: CLIENT },
      );
      expect((await waitEnd(m, t.body.id, 10000)).state).toBe('completed');
      const mine = await eventually(() => {
        const s = otlp.spans.filter((x) => x.traceId === TRACE_ID);
        return ['cnp.round', 'cnp.agent.cfp', 'cnp.award', 'cnp.agent.award', 'db.query'].every((n) =>
          s.some((x) => x.name === n),
        )
          ? s
          : null;
      });
      const byName = (n: string) => mine.filter((x) => x.name === n);
      const round = byName('cnp.round')[0]!;
      // The round hangs under the client's span; the calls under the round (the award's under its span).
      expect(round.parentSpanId).toBe('00f067aa0ba902b7');
      expect(byName('cnp.agent.cfp')[0]!.parentSpanId).toBe(round.spanId);
      expect(byName('cnp.award')[0]!.parentSpanId).toBe(round.spanId);
      expect(byName('cnp.agent.award')[0]!.parentSpanId).toBe(byName('cnp.award')[0]!.spanId);
      // What the agent received is the span the manager recorded for that call.
      const cfpHeader = parseTraceparent(
        agent.requests.find((r) => r.path === '/cfp')!.headers.traceparent as string,
      );
      expect(cfpHeader?.spanId).toBe(byName('cnp.agent.cfp')[0]!.spanId);
      // Statements the round ran are in its trace.
      expect(byName('db.query').some((q) => q.parentSpanId === round.spanId)).toBe(true);
    } finally {
      await m?.stop();
      m = undefined;
      await otlp.close();
    }
  });
});
