import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { a2aState, submissionFromMessage, toA2ATask } from '../../a2a/a2a-task.ts';
import { A2A_PATH } from '../../a2a/manager-card.ts';
import { AppError } from '../../errors/app-error.ts';
import { isEnded, TASK_STATES } from '../../protocol/states.ts';
import type { Task, TaskState } from '../../protocol/task.ts';
import { TaskSubmission } from '../../protocol/task.ts';
import { type ClientScope, clientScope } from '../auth.ts';
import type { AppEnv, RouteDeps } from '../deps.ts';
import { callerGone } from '../node-request.ts';
import { KEEP_ALIVE_MS, Waker } from '../waker.ts';

type RpcId = string | number | null;
type Rpc = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };

/** JSON-RPC and A2A error codes (A2A specification, JSON-RPC binding). */
const RPC = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  taskNotFound: -32001,
  taskNotCancelable: -32002,
  pushNotificationNotSupported: -32003,
  unsupportedOperation: -32004,
  extendedCardNotConfigured: -32007,
} as const;

/** The push-notification methods: this manager's card declares no push notifications. */
const PUSH_METHODS = new Set([
  'CreateTaskPushNotificationConfig',
  'GetTaskPushNotificationConfig',
  'ListTaskPushNotificationConfigs',
  'DeleteTaskPushNotificationConfig',
]);

/** ListTasks' totalSize counts at most this many tasks. */
const MAX_COUNTED = 10_000;

/** Methods answered as a stream of server-sent events, errors included. */
const STREAMING_METHODS = new Set(['SendStreamingMessage', 'SubscribeToTask']);

/** The contract-net states an A2A state stands for (null: not a state). */
function statesOf(status: unknown): TaskState[] | null {
  const states = (Object.keys(A2A_STATES) as TaskState[]).filter((s) => A2A_STATES[s] === status);
  return states.length ? states : null;
}
const A2A_STATES = Object.fromEntries(TASK_STATES.map((s) => [s, a2aState(s)])) as Record<TaskState, string>;

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** A task id as the manager mints them: a UUID in its canonical form (the database parses nothing else). */
const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The longest messageId taken as an idempotency key (as the Idempotency-Key header). */
const MAX_MESSAGE_ID = 255;

/** How long a blocking SendMessage waits for its task to end before answering with it as it is. */
const BLOCKING_WAIT_MS = 30_000;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The A2A (v1.0) JSON-RPC binding over the manager's own API: SendMessage submits a task (and
 * by default waits for it to end), GetTask and CancelTask are the task's read and cancel,
 * SendStreamingMessage and SubscribeToTask follow it as server-sent events. Same keys, same
 * ownership and the same limits as /v1/tasks.
 */
/** The JSON-RPC error an exception stands for; null: not one to answer in JSON-RPC (auth, limits keep their HTTP status). */
function rpcErrorOf(err: unknown): { code: number; message: string; data?: unknown } | null {
  if (err instanceof RpcError)
    return { code: err.code, message: err.message, ...(err.data ? { data: err.data } : {}) };
  if (err instanceof AppError && err.status === 404)
    return { code: RPC.taskNotFound, message: 'Task not found' };
  // The same messageId with other content: the message is not the one that made the task.
  if (err instanceof AppError && err.status === 409) return { code: RPC.invalidParams, message: err.message };
  if (err instanceof AppError && err.status === 422)
    return { code: RPC.invalidParams, message: err.message, data: err.details };
  return null;
}

export function registerA2ARoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps) {
  app.post(A2A_PATH, async (c) => {
    const scope = clientScope(c, deps.config);
    let req: Rpc;
    try {
      req = (await c.req.json()) as Rpc;
    } catch {
      return c.json({
        jsonrpc: '2.0',
        id: null,
        error: { code: RPC.parse, message: 'Invalid JSON payload' },
      });
    }
    const id: RpcId =
      isRecord(req) && (typeof req.id === 'string' || typeof req.id === 'number') ? req.id : null;
    try {
      if (!isRecord(req) || req.jsonrpc !== '2.0' || typeof req.method !== 'string')
        throw new RpcError(RPC.invalidRequest, 'not a JSON-RPC 2.0 request (jsonrpc "2.0" and a method)');
      if ('id' in req && req.id !== null && typeof req.id !== 'string' && typeof req.id !== 'number')
        throw new RpcError(RPC.invalidRequest, 'a JSON-RPC id is a string, a number or null');
      const params = isRecord(req.params) ? req.params : {};
      if (PUSH_METHODS.has(req.method))
        throw new RpcError(
          RPC.pushNotificationNotSupported,
          'push notifications are not supported (see the agent card)',
        );
      if (req.method === 'GetExtendedAgentCard')
        throw new RpcError(RPC.extendedCardNotConfigured, 'this manager has no extended agent card');
      switch (req.method) {
        case 'SendMessage': {
          const blocking = !(
            isRecord(params.configuration) && params.configuration.returnImmediately === true
          );
          // A blocking send is a long-poll: it takes its slot before anything is stored.
          const release = blocking ? deps.held.polls.take(c, scope.principal) : () => {};
          try {
            const task = await submit(c, scope, params);
            const view =
              blocking && !isEnded(task.state)
                ? await deps.market.getTask(task.id, BLOCKING_WAIT_MS, callerGone(c))
                : task;
            return c.json({ jsonrpc: '2.0', id, result: { task: toA2ATask(view) } });
          } finally {
            release();
          }
        }
        case 'GetTask':
          return c.json({ jsonrpc: '2.0', id, result: toA2ATask(await read(scope, params)) });
        case 'CancelTask': {
          const task = await read(scope, params);
          const cancelled = await deps.market.cancel(task.id).catch((err: unknown) => {
            if (err instanceof AppError && err.status === 409)
              throw new RpcError(
                RPC.taskNotCancelable,
                `task ${task.id} is ${task.state} and cannot be canceled`,
              );
            throw err;
          });
          return c.json({ jsonrpc: '2.0', id, result: toA2ATask(cancelled) });
        }
        case 'SendStreamingMessage': {
          // The stream's slot first: a client over its cap gets 429 and nothing is stored.
          const release = deps.held.streams.take(c, scope.principal);
          try {
            return follow(c, id, await submit(c, scope, params), release);
          } catch (err) {
            release();
            throw err;
          }
        }
        case 'ListTasks':
          return c.json({ jsonrpc: '2.0', id, result: await listTasks(scope, params) });
        case 'SubscribeToTask': {
          const task = await read(scope, params);
          if (isEnded(task.state))
            throw new RpcError(
              RPC.unsupportedOperation,
              `task ${task.id} has ended (${a2aState(task.state)}); read it with GetTask`,
            );
          return follow(c, id, task, deps.held.streams.take(c, scope.principal));
        }
        default:
          throw new RpcError(
            RPC.methodNotFound,
            `method ${req.method} is not served here (A2A 1.0 JSON-RPC: SendMessage, SendStreamingMessage, GetTask, ListTasks, CancelTask, SubscribeToTask)`,
          );
      }
    } catch (err) {
      const error = rpcErrorOf(err);
      if (!error) throw err;
      const body = { jsonrpc: '2.0', id, error };
      // A streaming method's error is the stream's one event, as its client reads it.
      if (isRecord(req) && STREAMING_METHODS.has(String(req.method)))
        return streamSSE(c, (stream) => stream.writeSSE({ data: JSON.stringify(body) }));
      return c.json(body);
    }
  });

  /** ListTasks: the caller's tasks, newest first, a page at a time (contextId is a task's id). */
  async function listTasks(scope: ClientScope, params: Record<string, unknown>) {
    const pageSize = params.pageSize === undefined ? 50 : Number(params.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100)
      throw new RpcError(RPC.invalidParams, 'params.pageSize must be an integer from 1 to 100');
    const token = params.pageToken;
    if (token !== undefined && token !== '' && (typeof token !== 'string' || !TASK_ID.test(token)))
      throw new RpcError(RPC.invalidParams, 'params.pageToken must be a nextPageToken this server gave');
    const status = params.status;
    const states =
      status === undefined || status === '' || status === 'TASK_STATE_UNSPECIFIED'
        ? undefined
        : statesOf(status);
    if (states === null)
      throw new RpcError(
        RPC.invalidParams,
        `params.status ${JSON.stringify(status)} is not an A2A task state`,
      );
    const contextId = typeof params.contextId === 'string' && params.contextId ? params.contextId : undefined;
    if (contextId && !TASK_ID.test(contextId))
      return { tasks: [], nextPageToken: '', pageSize, totalSize: 0 };
    const page = await deps.tasks.list({
      limit: pageSize,
      ...(token ? { cursor: token as string } : {}),
      ...(states ? { states } : {}),
      ...(contextId ? { id: contextId } : {}),
      owner: scope.owner,
    });
    const withArtifacts = params.includeArtifacts === true;
    return {
      tasks: page.items.map((t) => {
        const a2a = toA2ATask(t);
        return withArtifacts ? a2a : { ...a2a, artifacts: [] };
      }),
      nextPageToken: page.nextCursor ?? '',
      pageSize,
      totalSize: page.nextCursor
        ? await countTasks(scope.owner, states, contextId)
        : page.items.length + (token ? await countTasks(scope.owner, states, contextId, token) : 0),
    };
  }

  /** How many of the caller's tasks match, counted up to MAX_COUNTED (a bound on the scan). */
  async function countTasks(
    owner: string | null,
    states: TaskState[] | undefined,
    id?: string,
    newerThan?: string,
  ) {
    // Only the filters asked for are written: a statement's plan is made once (generic), and
    // "$1 is null or ..." would keep it from using any index.
    const params: (string | null)[] = [];
    const where: string[] = [];
    const filter = (cond: (p: string) => string, value: string) => {
      params.push(value);
      where.push(cond(`$${params.length}`));
    };
    if (owner !== null) filter((p) => `callback_key = ${p}`, owner);
    if (states) filter((p) => `state::text = any(${p}::text[])`, `{${states.join(',')}}`);
    if (id) filter((p) => `id = ${p}::uuid`, id);
    if (newerThan) filter((p) => `id >= ${p}::uuid`, newerThan);
    const rows = await deps.database.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from tasks ${where.length ? `where ${where.join(' and ')}` : ''}
        limit ${MAX_COUNTED}) x`,
      params,
    );
    return Number(rows[0]?.n ?? 0);
  }

  async function submit(c: Context, scope: ClientScope, params: Record<string, unknown>): Promise<Task> {
    const message = isRecord(params.message) ? params.message : undefined;
    // Each task is its own context here (its contextId is its id): a client's context is not kept.
    if (message && typeof message.contextId === 'string' && message.contextId !== '')
      throw new RpcError(
        RPC.invalidParams,
        'params.message.contextId is not kept here: each task is its own context (its contextId is its id); send the message without contextId',
      );
    // A message to an existing task would continue it: no task here takes more input once submitted.
    if (message && message.taskId !== undefined) {
      if (typeof message.taskId !== 'string')
        throw new RpcError(RPC.invalidParams, 'params.message.taskId must be a task id');
      const existing = await read(scope, { id: message.taskId });
      throw new RpcError(
        RPC.unsupportedOperation,
        `task ${existing.id} takes no further messages (${a2aState(existing.state)}); send a new message without taskId`,
      );
    }
    const mapped = submissionFromMessage(message, params.metadata, await defaultCapability());
    if (!mapped.ok) throw new RpcError(RPC.invalidParams, mapped.message);
    const parsed = TaskSubmission.safeParse(mapped.submission);
    if (!parsed.success)
      throw new RpcError(
        RPC.invalidParams,
        'the message does not make a valid task',
        parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'input', message: i.message })),
      );
    // The message id is the idempotency key: a client that sends the same message again gets the same task.
    const messageId =
      typeof message?.messageId === 'string' && message.messageId ? message.messageId : undefined;
    if (messageId && messageId.length > MAX_MESSAGE_ID)
      throw new RpcError(
        RPC.invalidParams,
        `params.message.messageId is longer than ${MAX_MESSAGE_ID} characters`,
        [{ field: 'message.messageId', message: `at most ${MAX_MESSAGE_ID} characters` }],
      );
    const res = await deps.market.submit(
      parsed.data,
      mapped.submission,
      messageId ? `${scope.principal}:a2a:${messageId}` : undefined,
      scope.principal === 'anonymous' ? null : scope.principal,
      c.req.header('traceparent'),
    );
    return res.view;
  }

  /**
   * The capability a message naming none goes to: A2A_DEFAULT_CAPABILITY, else the only one on
   * offer; with several, none (the error lists them).
   */
  async function defaultCapability(): Promise<{ name?: string; offered: string[] }> {
    const offered = (await deps.registry.liveCapabilities()).map((c) => c.name);
    const name = deps.config.A2A_DEFAULT_CAPABILITY ?? (offered.length === 1 ? offered[0] : undefined);
    return { ...(name ? { name } : {}), offered };
  }

  async function read(scope: ClientScope, params: Record<string, unknown>): Promise<Task> {
    const taskId = params.id;
    if (typeof taskId !== 'string' || !taskId)
      throw new RpcError(RPC.invalidParams, 'params.id must be a task id');
    // No task has an id that is not a UUID: not found, as the A2A specification answers its own
    // example "nonexistent-task-id" (and the database is never asked to parse it).
    if (!TASK_ID.test(taskId)) throw new RpcError(RPC.taskNotFound, 'Task not found');
    await deps.tasks.getOwnedRow(taskId, scope.owner);
    return deps.market.getTask(taskId, 0);
  }

  /** The task as a stream of A2A StreamResponses: the task, each status change, the artifact, the end. */
  function follow(c: Context, id: RpcId, first: Task, release: () => void) {
    return streamSSE(c, async (stream) => {
      const send = (result: unknown) =>
        stream.writeSSE({ data: JSON.stringify({ jsonrpc: '2.0', id, result }) });
      const waker = new Waker();
      let closed = false;
      const off = deps.hub.onTask(first.id, () => waker.wake());
      stream.onAbort(() => {
        closed = true;
        waker.wake();
      });
      try {
        let last = first;
        await send({ task: toA2ATask(first) });
        // The first look needs no wake-up: the task may have moved before this stream listened.
        let look = true;
        while (!closed && !isEnded(last.state)) {
          if (!look) await waker.wait(KEEP_ALIVE_MS);
          look = false;
          const now = await deps.market.getTask(first.id, 0);
          if (now.state === last.state && now.updatedAt === last.updatedAt) continue;
          const a2a = toA2ATask(now);
          if (now.state === 'completed')
            await send({
              artifactUpdate: {
                taskId: now.id,
                contextId: now.id,
                artifact: a2a.artifacts[0],
                lastChunk: true,
              },
            });
          await send({ statusUpdate: { taskId: now.id, contextId: now.id, status: a2a.status } });
          last = now;
        }
      } finally {
        off();
        release();
      }
    });
  }
}
