import { childOf, newTrace, type TraceContext } from './trace-context.ts';

export type SpanAttributes = Record<string, string | number | boolean>;

/**
 * Spans around the market's work: rounds, agent calls, database transactions. The domain asks
 * for a span and gets the trace context its calls carry (`traceparent`); whether anything is
 * recorded and exported is the implementation's business (otel-tracing.ts, or none).
 */
export interface Tracing {
  readonly enabled: boolean;
  /**
   * Runs `fn` in a span named `name` under `parent` (a remote or stored context; null: the
   * span active here, if any), handing it the context of the new span.
   */
  span<T>(
    name: string,
    parent: TraceContext | null,
    attributes: SpanAttributes,
    fn: (ctx: TraceContext) => Promise<T>,
  ): Promise<T>;
  /** Exports what is buffered and stops (shutdown). */
  close(): Promise<void>;
}

/** Off (the default): nothing is recorded, but calls still carry the task's trace onwards. */
export const noTracing: Tracing = {
  enabled: false,
  span: (_name, parent, _attributes, fn) => fn(parent ? childOf(parent) : newTrace()),
  close: async () => {},
};
