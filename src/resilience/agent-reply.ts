/** Reading an agent's reply: its outcome for the metrics, and its body within a byte cap. */
import type { Readable } from 'node:stream';
import { TaskCancelledError as TaskTimeoutError } from 'cockatiel';
import type { AgentCallOutcome } from '../observability/market-metrics.ts';
import { AgentHttpError, AgentTimeoutError, InvalidAgentReplyError } from './agent-errors.ts';
import { OutboundRefusedError } from './outbound-guard.ts';

/** A call's outcome for the metrics: a status that was logged, or the kind of error. */
export function callOutcome(logged: string, err: unknown): AgentCallOutcome {
  if (err === undefined) return Number(logged) < 300 ? 'ok' : 'http_error';
  if (err instanceof AgentHttpError) return 'http_error';
  if (err instanceof AgentTimeoutError || err instanceof TaskTimeoutError) return 'timeout';
  if (err instanceof InvalidAgentReplyError) return 'invalid_reply';
  if (err instanceof OutboundRefusedError) return 'refused';
  return 'error';
}

/**
 * A reply's body as text, the stream destroyed once it passes `max` bytes. Read by its events,
 * not `for await` (an async iterator per reply cost more than the rest of reading it).
 */
export function readCapped(body: Readable, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        body.destroy();
        reject(new InvalidAgentReplyError(`agent reply exceeds ${max} bytes`));
      } else chunks.push(chunk);
    });
    body.once('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    body.once('error', reject);
  });
}
