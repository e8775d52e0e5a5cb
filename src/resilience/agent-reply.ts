/** Reading an agent's reply: its outcome for the metrics, and its body within a byte cap. */
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

export async function readCapped(body: AsyncIterable<Buffer | Uint8Array>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new InvalidAgentReplyError(`agent reply exceeds ${max} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
