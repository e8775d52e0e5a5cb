import {
  type Context,
  context,
  ROOT_CONTEXT,
  type SpanContext,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TraceContext } from './trace-context.ts';
import type { Tracing } from './tracing.ts';

export type OtelOptions = {
  /** The collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to `<url>/v1/traces`. */
  endpoint: string;
  serviceName: string;
  /** How long spans gather before one export (SPAN_EXPORT_DELAY_MS in src/tuning.ts). */
  scheduleDelayMs: number;
  managerId: string;
};

let contextManagerSet = false;

const toSpanContext = (t: TraceContext): SpanContext => ({
  traceId: t.traceId,
  spanId: t.spanId,
  traceFlags: t.flags === '00' ? TraceFlags.NONE : TraceFlags.SAMPLED,
  isRemote: true,
});

/**
 * OpenTelemetry tracing exported over OTLP/HTTP (the official SDK and exporter). This manager's
 * provider is its own (not the global one: several managers may share a process in tests);
 * the context manager is the process's, so spans started inside a span (database
 * transactions) find their parent.
 */
export function createOtelTracing(opts: OtelOptions): Tracing {
  if (!contextManagerSet) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': opts.serviceName,
      'service.instance.id': opts.managerId,
    }),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` }),
        {
          scheduledDelayMillis: opts.scheduleDelayMs,
        },
      ),
    ],
  });
  const tracer = provider.getTracer('contract-net');
  return {
    enabled: true,
    async span(name, parent, attributes, fn) {
      const parentCtx: Context = parent
        ? trace.setSpanContext(ROOT_CONTEXT, toSpanContext(parent))
        : context.active();
      const span = tracer.startSpan(name, { attributes }, parentCtx);
      const sc = span.spanContext();
      const own: TraceContext = {
        traceId: sc.traceId,
        spanId: sc.spanId,
        flags: sc.traceFlags & TraceFlags.SAMPLED ? '01' : '00',
      };
      try {
        return await context.with(trace.setSpan(parentCtx, span), () => fn(own));
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
        throw err;
      } finally {
        span.end();
      }
    },
    async close() {
      await provider.shutdown();
    },
  };
}
