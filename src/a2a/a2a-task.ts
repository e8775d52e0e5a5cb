import type { Task, TaskState, TaskSubmission } from '../protocol/task.ts';

/** A2A v1.0 task states, in their JSON (proto enum) names. */
const STATE: Record<TaskState, string> = {
  waiting: 'TASK_STATE_SUBMITTED',
  pending: 'TASK_STATE_SUBMITTED',
  bidding: 'TASK_STATE_SUBMITTED',
  queued: 'TASK_STATE_SUBMITTED',
  awarded: 'TASK_STATE_WORKING',
  completed: 'TASK_STATE_COMPLETED',
  failed: 'TASK_STATE_FAILED',
  cancelled: 'TASK_STATE_CANCELED',
};

export const a2aState = (s: TaskState): string => STATE[s];

/**
 * A contract-net task as an A2A Task: its id is the task's (and so is its context), its output
 * the one artifact (a data part), its contract-net details in `metadata`.
 */
export function toA2ATask(t: Task) {
  return {
    id: t.id,
    contextId: t.id,
    status: {
      state: a2aState(t.state),
      timestamp: t.updatedAt,
      ...(t.error ? { message: agentMessage(t.id, `${t.error.code}: ${t.error.message}`) } : {}),
    },
    artifacts:
      t.state === 'completed'
        ? [
            {
              artifactId: `${t.id}-output`,
              name: 'output',
              parts: [{ data: t.output, mediaType: 'application/json' }],
            },
          ]
        : [],
    history: [],
    metadata: {
      capability: t.capability,
      contractNetState: t.state,
      round: t.round,
      ...(t.award ? { award: t.award } : {}),
      ...(t.traceId ? { traceId: t.traceId } : {}),
    },
  };
}

const agentMessage = (taskId: string, text: string) => ({
  messageId: `${taskId}-status`,
  contextId: taskId,
  taskId,
  role: 'ROLE_AGENT',
  parts: [{ text }],
});

type Part = { text?: unknown; data?: unknown };
export type A2AMessage = { messageId?: unknown; parts?: unknown; metadata?: unknown };

/**
 * The submission a `SendMessage` stands for, or what is missing. The capability is
 * `message.metadata.capability` (or the request's `metadata.capability`); the input is the
 * first data part, or the text parts as `{"text": ...}`. A data part that is a whole submission
 * (`{"capability", "input", ...}`) is taken as it is. Other metadata fields of a submission
 * (budget, deadline, priority, bidWindowMs, maxAttempts, weights) may ride along in metadata.
 */
export function submissionFromMessage(
  message: A2AMessage | undefined,
  requestMetadata: unknown,
  /** Where a message naming no capability goes (A2A_DEFAULT_CAPABILITY, or the only one on offer). */
  fallback: { name?: string; offered: string[] } = { offered: [] },
): { ok: true; submission: Record<string, unknown> } | { ok: false; message: string } {
  if (!message || typeof message !== 'object') return { ok: false, message: 'params.message is required' };
  const parts = Array.isArray(message.parts) ? (message.parts as Part[]) : [];
  if (!parts.length) return { ok: false, message: 'params.message.parts must hold a data or a text part' };
  const meta = {
    ...(isRecord(requestMetadata) ? requestMetadata : {}),
    ...(isRecord(message.metadata) ? message.metadata : {}),
  };
  const data = parts.find((p) => isRecord(p) && 'data' in p)?.data;
  if (isRecord(data) && typeof data.capability === 'string' && 'input' in data)
    return { ok: true, submission: data };
  const capability = meta.capability ?? fallback.name;
  if (typeof capability !== 'string')
    return {
      ok: false,
      message: `name the capability in params.message.metadata.capability; on offer now: ${
        fallback.offered.length ? fallback.offered.slice(0, 50).join(', ') : 'none'
      }`,
    };
  const texts = parts.filter((p) => isRecord(p) && typeof p.text === 'string').map((p) => p.text as string);
  const input = data !== undefined ? data : { text: texts.join('\n') };
  const extra: Record<string, unknown> = {};
  for (const k of ['budget', 'deadline', 'priority', 'bidWindowMs', 'maxAttempts', 'weights'] as const)
    if (k in meta) extra[k] = meta[k];
  return { ok: true, submission: { capability, input, ...extra } satisfies Partial<TaskSubmission> };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
