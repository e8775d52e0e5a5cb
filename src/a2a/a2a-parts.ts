import type { Message, Part, SendMessageRequest, Task } from '@a2a-js/sdk';
import { Role, TaskState } from '@a2a-js/sdk';
import { cleanText } from '../protocol/common.ts';

/** How an award's work is sent to an A2A agent and how its answer is read back (pure). */

export const dataPart = (value: unknown): Part => ({
  content: { $case: 'data', value },
  metadata: undefined,
  filename: '',
  mediaType: 'application/json',
});
export const textPart = (value: string): Part => ({
  content: { $case: 'text', value },
  metadata: undefined,
  filename: '',
  mediaType: 'text/plain',
});

/** The text a task's input carries, for agents that read only text parts: a string, or its `text`. */
function textOf(input: unknown): string | undefined {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const t = (input as { text?: unknown }).text;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

/**
 * The SendMessage that hands an award to an A2A agent: the input as a data part (and as a text
 * part when it has text), the capability and the contract-net ids in metadata. The award id is
 * the message id, so a retried send is the same message to the agent.
 */
export function awardMessage(award: {
  awardId: string;
  taskId: string;
  capability: string;
  input: unknown;
  dependencies?: Record<string, unknown>;
}): SendMessageRequest {
  const text = textOf(award.input);
  return {
    tenant: '',
    message: {
      messageId: award.awardId,
      contextId: '',
      taskId: '',
      role: Role.ROLE_USER,
      parts: [dataPart(award.input), ...(text !== undefined ? [textPart(text)] : [])],
      metadata: {
        capability: award.capability,
        contractNet: { taskId: award.taskId, awardId: award.awardId },
        ...(award.dependencies ? { dependencies: award.dependencies } : {}),
      },
      extensions: [],
      referenceTaskIds: [],
    },
    // Answered at once with the task; the manager follows it (GetTask or SubscribeToTask).
    configuration: {
      acceptedOutputModes: [],
      taskPushNotificationConfig: undefined,
      returnImmediately: true,
    },
    metadata: undefined,
  };
}

/** A part as JSON: `{text}`, `{data}`, `{url, mediaType}`, or `{mediaType, bytes}` for raw content. */
function partJson(p: Part): Record<string, unknown> {
  const c = p.content;
  if (!c) return {};
  if (c.$case === 'text') return { text: c.value };
  if (c.$case === 'data') return { data: c.value };
  if (c.$case === 'url') return { url: c.value, mediaType: p.mediaType, filename: p.filename };
  return { mediaType: p.mediaType, filename: p.filename, bytes: c.value.length };
}

/**
 * The output A2A parts stand for: one data part alone is its value; text parts alone are
 * `{"text": ...}` (joined by newlines); anything else is `{"parts": [...]}`.
 */
export function outputOfParts(parts: readonly Part[]): unknown {
  const cases = parts.map((p) => p.content?.$case);
  if (parts.length === 1 && cases[0] === 'data')
    return (parts[0]!.content as { value: unknown }).value ?? null;
  if (parts.length && cases.every((c) => c === 'text'))
    return { text: parts.map((p) => (p.content as { value: string }).value).join('\n') };
  return { parts: parts.map(partJson) };
}

/** A task's output: the parts of all its artifacts, read as `outputOfParts`. */
export const outputOfTask = (task: Task): unknown => outputOfParts(task.artifacts.flatMap((a) => a.parts));

/** A Message reply (no task): its parts are the output. */
export const outputOfMessage = (m: Message): unknown => outputOfParts(m.parts);

/** Whether SendMessage answered a Task (else a Message). */
export const isTask = (r: Task | Message): r is Task => 'status' in r && 'artifacts' in r;

/** The A2A state's name as the specification writes it (`TASK_STATE_FAILED`). */
export const stateName = (s: TaskState | undefined): string =>
  TaskState[s ?? TaskState.TASK_STATE_UNSPECIFIED];

/** Where a remote task stands for the award that follows it. */
export type RemoteOutcome =
  | { kind: 'running' }
  | { kind: 'completed'; output: unknown }
  | { kind: 'failed'; reason: string };

/**
 * Completed is the output; failed, rejected and canceled are the agent's failure with its
 * reason; input-required and auth-required end the award too (nobody here can answer them),
 * naming the state; submitted and working go on.
 */
export function outcomeOf(task: Task): RemoteOutcome {
  const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
  switch (state) {
    case TaskState.TASK_STATE_COMPLETED:
      return { kind: 'completed', output: outputOfTask(task) };
    case TaskState.TASK_STATE_SUBMITTED:
    case TaskState.TASK_STATE_WORKING:
    case TaskState.TASK_STATE_UNSPECIFIED:
      return { kind: 'running' };
    default: {
      const said = task.status?.message?.parts
        .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
        .filter(Boolean)
        .join(' ');
      const why =
        state === TaskState.TASK_STATE_INPUT_REQUIRED || state === TaskState.TASK_STATE_AUTH_REQUIRED
          ? `the A2A agent stopped in ${stateName(state)}, which the market cannot answer`
          : `the A2A agent ended its task ${stateName(state)}`;
      return { kind: 'failed', reason: cleanText(said ? `${why}: ${said}` : why).slice(0, 2000) };
    }
  }
}
