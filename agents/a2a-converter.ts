import { parseArgs } from 'node:util';
import { type AgentCard, type Part, Role, TaskState } from '@a2a-js/sdk';
import {
  AgentEvent,
  type AgentExecutor,
  DefaultRequestHandler,
  type ExecutionEventBus,
  InMemoryTaskStore,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';
import express from 'express';
import { ConvertInput, convertUnits } from './work/convert-units.ts';

/**
 * An A2A agent that knows nothing of the contract net: built only with the official A2A SDK's
 * server classes, it converts quantities between units. Register it with the manager by its
 * Agent Card and it works in the market: the manager bids its standing offer for it and sends
 * it awards as A2A messages.
 *
 *   npm run a2a-agent -- --port 9100
 *   curl -s $CNET_MANAGER/v1/agents -H 'content-type: application/json' \
 *     -d "{\"card\": $(curl -s http://127.0.0.1:9100/.well-known/agent-card.json), \"offer\": {\"default\": {\"cost\": 2, \"etaMs\": 500}}}"
 */
const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '9100' }, host: { type: 'string', default: '127.0.0.1' } },
});

const part = (content: Part['content'], mediaType: string): Part => ({
  content,
  metadata: undefined,
  filename: '',
  mediaType,
});

/** The quantity a message asks about: its data part, or text such as "5 km to mile". */
function requestOf(message: RequestContext['userMessage']): unknown {
  const data = message.parts.find((p) => p.content?.$case === 'data')?.content;
  if (data?.$case === 'data') return data.value;
  const text = message.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(' ');
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z][\w^/]*)\s+(?:to|in)\s+([A-Za-z][\w^/]*)\s*$/.exec(text);
  return m ? { value: Number(m[1]), from: m[2], to: m[3] } : { text };
}

const executor: AgentExecutor = {
  async execute(ctx: RequestContext, bus: ExecutionEventBus) {
    const status = (state: TaskState, text?: string) =>
      bus.publish(
        AgentEvent.statusUpdate({
          taskId: ctx.taskId,
          contextId: ctx.contextId,
          status: {
            state,
            message: text
              ? {
                  messageId: `${ctx.taskId}-${state}`,
                  contextId: ctx.contextId,
                  taskId: ctx.taskId,
                  role: Role.ROLE_AGENT,
                  parts: [part({ $case: 'text', value: text }, 'text/plain')],
                  metadata: undefined,
                  extensions: [],
                  referenceTaskIds: [],
                }
              : undefined,
            timestamp: new Date().toISOString(),
          },
          metadata: undefined,
        }),
      );
    bus.publish(
      AgentEvent.task({
        id: ctx.taskId,
        contextId: ctx.contextId,
        status: {
          state: TaskState.TASK_STATE_WORKING,
          message: undefined,
          timestamp: new Date().toISOString(),
        },
        artifacts: [],
        history: [ctx.userMessage],
        metadata: undefined,
      }),
    );
    const input = ConvertInput.safeParse(requestOf(ctx.userMessage));
    if (!input.success) {
      status(
        TaskState.TASK_STATE_REJECTED,
        `send {"value", "from", "to"} or "5 km to mile": ${input.error.issues[0]?.message}`,
      );
    } else {
      try {
        const result = convertUnits(input.data);
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId: ctx.taskId,
            contextId: ctx.contextId,
            artifact: {
              artifactId: 'conversion',
              name: 'conversion',
              description: result.text,
              parts: [part({ $case: 'data', value: result }, 'application/json')],
              metadata: undefined,
              extensions: [],
            },
            append: false,
            lastChunk: true,
            metadata: undefined,
          }),
        );
        status(TaskState.TASK_STATE_COMPLETED);
      } catch (err) {
        status(TaskState.TASK_STATE_FAILED, (err as Error).message);
      }
    }
    bus.finished();
  },
  async cancelTask() {},
};

const url = `http://${args.host}:${args.port}`;
const card: AgentCard = {
  name: 'units-converter',
  description: 'converts a quantity between units (mathjs units: km, mile, degC, kWh, lb, ...)',
  supportedInterfaces: [
    { url: `${url}/a2a`, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' },
  ],
  provider: undefined,
  version: '1.0.0',
  capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
  securitySchemes: {},
  securityRequirements: [],
  defaultInputModes: ['application/json', 'text/plain'],
  defaultOutputModes: ['application/json'],
  skills: [
    {
      id: 'units.convert',
      name: 'Convert units',
      description: 'converts {"value", "from", "to"} (or the text "5 km to mile") between units',
      tags: ['units', 'conversion'],
      examples: ['{"value": 5, "from": "km", "to": "mile"}', '100 degC to degF'],
      inputModes: ['application/json', 'text/plain'],
      outputModes: ['application/json'],
      securityRequirements: [],
    },
  ],
  signatures: [],
};

const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
const app = express();
app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }));
app.use('/a2a', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
const server = app.listen(Number(args.port), args.host, () =>
  console.log(`A2A agent units-converter listening on ${url} (its card: ${url}/.well-known/agent-card.json)`),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
