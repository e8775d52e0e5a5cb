import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { TaskEvent } from '../../../src/protocol/task.ts';
import { ApiProblem, authHeaders } from './api-client.ts';

export type StreamStatus =
  | { state: 'connecting' }
  | { state: 'live' }
  | { state: 'retrying'; inMs: number; why: string }
  | { state: 'refused'; problem: ApiProblem };

/**
 * Follows `GET /v1/events` over fetch (an EventSource cannot send the API key), resuming after
 * the last event it saw on every reconnect, with backoff up to 10 s. A 401 or 403 stops it
 * (the page asks for a key); `stop()` ends it.
 */
export function followEvents(onEvent: (e: TaskEvent) => void, onStatus: (s: StreamStatus) => void) {
  const abort = new AbortController();
  let lastId: string | null = null;
  let failures = 0;

  const connectOnce = async () => {
    onStatus({ state: 'connecting' });
    const headers = authHeaders({ accept: 'text/event-stream' });
    if (lastId) headers['last-event-id'] = lastId;
    const res = await fetch('/v1/events', { headers, signal: abort.signal });
    if (!res.ok || !res.body) {
      const body = (await res.json().catch(() => null)) as {
        error?: { code?: string; message?: string };
      } | null;
      throw new ApiProblem(
        res.status,
        body?.error?.code ?? `http_${res.status}`,
        body?.error?.message ?? res.statusText,
      );
    }
    onStatus({ state: 'live' });
    failures = 0;
    const messages = res.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream({ onError: 'terminate' }));
    const reader = messages.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (value.id) lastId = value.id;
      if (value.event === 'events_skipped' || !value.data) continue;
      try {
        onEvent(JSON.parse(value.data) as TaskEvent);
      } catch {
        // Not an event this page understands: skip it, keep following.
      }
    }
  };

  (async () => {
    while (!abort.signal.aborted) {
      try {
        await connectOnce();
        if (abort.signal.aborted) return;
        throw new Error('the stream ended');
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof ApiProblem && (err.status === 401 || err.status === 403)) {
          onStatus({ state: 'refused', problem: err });
          return;
        }
        failures += 1;
        const inMs = Math.min(10_000, 250 * 2 ** Math.min(failures, 6));
        onStatus({ state: 'retrying', inMs, why: err instanceof Error ? err.message : String(err) });
        await new Promise((r) => setTimeout(r, inMs));
      }
    }
  })();

  return { stop: () => abort.abort() };
}
