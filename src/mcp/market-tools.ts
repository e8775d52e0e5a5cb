import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Catalogue } from '../protocol/catalogue.ts';
import { isEnded } from '../protocol/states.ts';
import type { Task } from '../protocol/task.ts';
import type { ApiReply, MarketApi } from './market-api.ts';

/** The longest a tool waits for a task to end before answering with its id. */
const MAX_WAIT_S = 120;
/** How much of the catalogue a tool description carries (a model reads it every turn). */
const MAX_DESCRIBED_CAPABILITIES = 40;
const MAX_SCHEMA_CHARS = 600;

/** A tool's answer: a short text for the model, and the JSON itself as structured content. */
const answer = (text: string, data: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text: `${text}\n${JSON.stringify(data)}` }],
  structuredContent: data,
});

/**
 * An error a model can act on: what the manager refused, each field it named and why; never a
 * broken session (the manager's status and code are in the structured content).
 */
function refused(reply: ApiReply, doing: string): CallToolResult {
  const error = (
    reply.body as {
      error?: { code?: string; message?: string; details?: { field: string; message: string }[] };
    }
  )?.error;
  const fields = (error?.details ?? []).map((d) => `${d.field}: ${d.message}`);
  const hint =
    reply.status === 401 || reply.status === 403
      ? ' Check the API key this MCP client sends.'
      : reply.status === 429
        ? ' The market is busy or this client is over a limit; try again shortly.'
        : reply.status === 422 && fields.some((f) => f.startsWith('input'))
          ? ' Fix the input to match the capability’s input schema (list_capabilities shows it).'
          : '';
  return {
    isError: true,
    content: [
      {
        type: 'text',
        text: `Could not ${doing}: ${error?.message ?? `HTTP ${reply.status}`}${fields.length ? ` (${fields.join('; ')})` : ''}.${hint}`,
      },
    ],
    structuredContent: { status: reply.status, error: error ?? null },
  };
}

/** One line per capability on offer, with what it takes, for a tool description. */
function describeCatalogue(c: Catalogue | null): string {
  if (!c?.items.length) return 'No capability is on offer right now (call list_capabilities later).';
  return c.items
    .slice(0, MAX_DESCRIBED_CAPABILITIES)
    .map((e) => {
      const schema = e.schemas[0]?.inputSchema;
      const { $schema: _s, ...shown } = schema ?? {};
      const text = schema ? JSON.stringify(shown) : 'any JSON';
      const price =
        e.recent.medianCost === null
          ? ''
          : `, lately ~${e.recent.medianCost} and ~${e.recent.medianEtaMs} ms`;
      return `- ${e.name}${e.description ? ` (${e.description})` : ''}${price}; input: ${
        text.length > MAX_SCHEMA_CHARS ? `${text.slice(0, MAX_SCHEMA_CHARS)}…` : text
      }`;
    })
    .join('\n');
}

/** What the task's trail says, as one progress line. */
function progressLine(e: { type: string; data: Record<string, unknown> }): string | null {
  const d = e.data;
  switch (e.type) {
    case 'round.opened':
      return `round ${d.round}: cfp sent to ${Array.isArray(d.invited) ? d.invited.length : 0} agents`;
    case 'bid.received':
      return `a bid: ${d.type ?? 'propose'}${d.cost !== undefined ? ` at ${d.cost}` : ''}`;
    case 'round.closed':
      return `round ${d.round} closed: ${d.proposals ?? 0} proposals`;
    case 'task.awarded':
      return `awarded${d.cost !== undefined ? ` at ${d.cost}` : ''}`;
    case 'award.agreed':
      return 'the winner agreed and is working';
    case 'task.queued':
      return `queued (${d.reason ?? 'no taker yet'}); it will be auctioned again`;
    case 'task.completed':
      return 'completed';
    case 'task.failed':
      return `failed: ${d.code ?? d.reason ?? ''}`;
    case 'task.cancelled':
      return 'cancelled';
    default:
      return null;
  }
}

/** A tool that submits work: it changes the market, each call anew, and agents outside do it. */
const SUBMITS = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true };

/** How long a tool waits for its task's end (default 30 s, at most MAX_WAIT_S). */
const WaitSeconds = (what: string) => z.number().int().min(0).max(MAX_WAIT_S).default(30).describe(what);

const Weights = z
  .object({
    cost: z.number().min(0).optional(),
    time: z.number().min(0).optional(),
    reputation: z.number().min(0).optional(),
  })
  .describe('How to rank bids: weight of price, of speed and of the agent’s track record (default 1 each)');

/**
 * The market as MCP tools, for LLM clients: see what is on offer, get a task done (waiting for
 * its end with progress notifications), read or cancel a task, run a small pipeline. Every call
 * goes through the manager's own API with the client's credentials. `catalogue` (read once per
 * session) puts what each capability takes into the descriptions a model reads.
 */
export function marketMcpServer(api: MarketApi, catalogue: Catalogue | null): McpServer {
  const server = new McpServer(
    { name: 'contract-net', version: '0.1.0' },
    {
      // Logging is declared so a client may set a level (the SDK answers logging/setLevel).
      capabilities: { logging: {} },
      instructions:
        'A task marketplace: each task names a capability; agents that offer it bid, the best bid does the work. Call list_capabilities first to see what is on offer and what each takes, then submit_task.',
    },
  );
  const offered = describeCatalogue(catalogue);

  server.registerTool(
    'list_capabilities',
    {
      title: 'List capabilities',
      description:
        'Lists every capability agents offer in the market now: what it does, the JSON Schema of its input, how many agents offer it and are reachable, and its recent median price, time and completion rate. Free; call it before submitting work.',
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => {
      const reply = await api.call('GET', '/v1/capabilities');
      if (reply.status !== 200) return refused(reply, 'list the capabilities');
      const items = (reply.body as Catalogue).items;
      return answer(`${items.length} capabilities on offer.`, { capabilities: items });
    },
  );

  server.registerTool(
    'submit_task',
    {
      title: 'Get a task done',
      description: `Submits a task to the market and waits (up to waitSeconds) for it to end: agents offering the capability bid, the best bid does the work, and the output comes back. Progress notifications follow the round (cfps out, bids in, the award, the result). If it is still running when the wait ends, the task id comes back: read it later with get_task. It costs what the winning bid asks (at most budget, when set). The input must match the capability's input schema.\nOn offer now:\n${offered}`,
      inputSchema: {
        capability: z.string().describe('The capability, e.g. text.summarize (see list_capabilities)'),
        input: z.unknown().describe("The task's input: JSON matching the capability's input schema"),
        budget: z
          .number()
          .min(0)
          .optional()
          .describe('The most the task may cost; bids above it are not taken'),
        deadlineSeconds: z
          .number()
          .int()
          .min(1)
          .max(86_400)
          .optional()
          .describe('Fail the task if it has not ended by then'),
        weights: Weights.optional(),
        waitSeconds: WaitSeconds('How long to wait for the output'),
      },
      annotations: SUBMITS,
    },
    async (args, extra) => {
      const body = {
        capability: args.capability,
        input: args.input ?? null,
        ...(args.budget !== undefined ? { budget: args.budget } : {}),
        ...(args.deadlineSeconds
          ? { deadline: new Date(Date.now() + args.deadlineSeconds * 1000).toISOString() }
          : {}),
        ...(args.weights ? { weights: args.weights } : {}),
      };
      // A key of its own: a submission answered 503 (the database restarting) is sent again
      // (MarketApi.call) without making a second task.
      const reply = await api.call('POST', '/v1/tasks', body, {
        'idempotency-key': `mcp-${crypto.randomUUID()}`,
      });
      if (reply.status !== 202 && reply.status !== 200)
        return refused(reply, `submit a ${args.capability} task`);
      const task = reply.body as Task;
      return waitFor(api, task, args.waitSeconds, extra);
    },
  );

  server.registerTool(
    'get_task',
    {
      title: 'Read a task',
      description:
        'Reads a task: its state (waiting, bidding, awarded, queued, completed, failed, cancelled), its output when completed, its error when failed, and who won it at what price. With waitSeconds, waits for it to end. Free.',
      inputSchema: {
        taskId: z.string().describe('The id submit_task or submit_pipeline gave'),
        waitSeconds: z
          .number()
          .int()
          .min(0)
          .max(MAX_WAIT_S)
          .default(0)
          .describe('Wait this long for it to end'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args, extra) => {
      const reply = await api.call('GET', `/v1/tasks/${encodeURIComponent(args.taskId)}`);
      if (reply.status !== 200) return refused(reply, `read task ${args.taskId}`);
      return waitFor(api, reply.body as Task, args.waitSeconds, extra);
    },
  );

  server.registerTool(
    'cancel_task',
    {
      title: 'Cancel a task',
      description:
        'Cancels a task that has not ended; the agent working on it is told to stop. Nothing is paid for a cancelled task.',
      inputSchema: { taskId: z.string().describe('The task to cancel') },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const reply = await api.call('POST', `/v1/tasks/${encodeURIComponent(args.taskId)}/cancel`);
      if (reply.status !== 200) return refused(reply, `cancel task ${args.taskId}`);
      return answer(`Task ${args.taskId} is cancelled.`, { task: reply.body as Record<string, unknown> });
    },
  );

  server.registerTool(
    'submit_pipeline',
    {
      title: 'Run a pipeline',
      description: `Submits several tasks at once, each naming the earlier ones it needs (dependsOn, by name): a task starts when those have completed and gets their outputs; if one fails, the tasks after it fail too. Waits (up to waitSeconds) for the last task. Use it for work in stages, e.g. summarize then extract keywords then hash.\nOn offer now:\n${offered}`,
      inputSchema: {
        tasks: z
          .array(
            z.object({
              name: z.string().min(1).max(64).describe('A name for this stage, unique in the pipeline'),
              capability: z.string(),
              input: z
                .unknown()
                .describe("This stage's input (a stage after others gets their outputs as well)"),
              dependsOn: z
                .array(z.string())
                .max(20)
                .optional()
                .describe('Names of earlier stages this one needs'),
              budget: z.number().min(0).optional(),
            }),
          )
          .min(1)
          .max(20),
        waitSeconds: WaitSeconds('How long to wait for the last stage to end'),
      },
      annotations: SUBMITS,
    },
    async (args, extra) => {
      const ids = new Map<string, string>();
      for (const [i, stage] of args.tasks.entries()) {
        const unknown = (stage.dependsOn ?? []).filter((d) => !ids.has(d));
        if (ids.has(stage.name) || unknown.length)
          return {
            isError: true,
            content: [
              {
                type: 'text',
                text: ids.has(stage.name)
                  ? `tasks.${i}.name: "${stage.name}" is used twice; give each stage its own name.`
                  : `tasks.${i}.dependsOn: ${unknown.join(', ')} is not an earlier stage; list stages before the ones that need them.`,
              },
            ],
          };
        const reply = await api.call(
          'POST',
          '/v1/tasks',
          {
            capability: stage.capability,
            input: stage.input ?? null,
            ...(stage.budget !== undefined ? { budget: stage.budget } : {}),
            ...(stage.dependsOn?.length ? { dependsOn: stage.dependsOn.map((d) => ids.get(d)) } : {}),
          },
          { 'idempotency-key': `mcp-${crypto.randomUUID()}` },
        );
        if (reply.status !== 202 && reply.status !== 200) {
          // What was submitted already is left to end on its own (cancel it with cancel_task).
          const result = refused(reply, `submit stage "${stage.name}" (tasks.${i})`);
          result.structuredContent = { ...result.structuredContent, submitted: Object.fromEntries(ids) };
          return result;
        }
        ids.set(stage.name, (reply.body as Task).id);
      }
      const last = [...ids.values()].at(-1)!;
      const lastTask = (await api.call('GET', `/v1/tasks/${last}`)).body as Task;
      const result = await waitFor(api, lastTask, args.waitSeconds, extra);
      result.structuredContent = { ...result.structuredContent, stages: Object.fromEntries(ids) };
      return result;
    },
  );

  return server;
}

type Extra = {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification: (n: {
    method: 'notifications/progress';
    params: { progressToken: string | number; progress: number; message?: string };
  }) => Promise<void>;
};

/**
 * Waits up to `waitS` for the task to end, following its trail and sending each step as a
 * progress notification when the client asked for them; answers the output, or where it stands.
 */
async function waitFor(api: MarketApi, task: Task, waitS: number, extra: unknown): Promise<CallToolResult> {
  const x = extra as Extra;
  let current = task;
  if (!isEnded(current.state) && waitS > 0) {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), waitS * 1000);
    const onAbort = () => stop.abort();
    x.signal?.addEventListener('abort', onAbort, { once: true });
    let step = 0;
    try {
      for await (const e of api.events(current.id, stop.signal)) {
        const line = progressLine(e);
        const token = x._meta?.progressToken;
        if (line && token !== undefined)
          await x.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: ++step, message: line },
          });
        if (e.type === 'task.completed' || e.type === 'task.failed' || e.type === 'task.cancelled') break;
      }
    } catch {
      // The wait ran out (or the client went away): answer with where the task stands.
    } finally {
      clearTimeout(timer);
      x.signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
    const reply = await api.call('GET', `/v1/tasks/${current.id}`);
    if (reply.status === 200) current = reply.body as Task;
  }
  const data = {
    taskId: current.id,
    state: current.state,
    task: current as unknown as Record<string, unknown>,
  };
  if (current.state === 'completed')
    return answer(
      `Task ${current.id} completed${current.award?.cost != null ? ` at a cost of ${current.award.cost}` : ''}. Output:`,
      {
        ...data,
        output: current.output as never,
      },
    );
  if (current.state === 'failed')
    return {
      isError: true,
      content: [
        {
          type: 'text',
          text: `Task ${current.id} failed: ${current.error?.code}: ${current.error?.message}`,
        },
      ],
      structuredContent: data,
    };
  if (current.state === 'cancelled') return answer(`Task ${current.id} was cancelled.`, data);
  return answer(`Task ${current.id} is still ${current.state}; read it later with get_task.`, data);
}
