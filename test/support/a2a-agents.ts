import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/**
 * What a real A2A agent does with a message, built only with the official @a2a-js/sdk server
 * classes (DefaultRequestHandler, InMemoryTaskStore, the Express JSON-RPC and card handlers):
 * - `complete`: works `delayMs`, then one artifact (a data part) and COMPLETED;
 * - `fail`: FAILED with a status message;
 * - `input-required`: stops in INPUT_REQUIRED, asking for more;
 * - `hang`: stays WORKING until it is cancelled;
 * - `reply`: answers with a Message (no task at all).
 */
export type A2ABehaviour = 'complete' | 'fail' | 'input-required' | 'hang' | 'reply';

export type RunningA2AAgent = {
  url: string;
  /** The card as the agent serves it (its JSON form, as a user would register it). */
  card: Record<string, unknown>;
  /** The inputs it was sent (the data part of each message), and the tasks it was asked to cancel. */
  received: unknown[];
  cancelled: string[];
  stop(): Promise<void>;
};

const text = (value: string): Part => ({
  content: { $case: 'text', value },
  metadata: undefined,
  filename: '',
  mediaType: 'text/plain',
});
const data = (value: unknown): Part => ({
  content: { $case: 'data', value },
  metadata: undefined,
  filename: '',
  mediaType: 'application/json',
});

const agentMessage = (taskId: string, contextId: string, parts: Part[]) => ({
  messageId: `${taskId}-${Math.random().toString(36).slice(2)}`,
  contextId,
  taskId,
  role: Role.ROLE_AGENT,
  parts,
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});

export async function startA2AAgent(opts: {
  name: string;
  skills: string[];
  behaviour: A2ABehaviour;
  /** Declares streaming in its card (the manager then follows its tasks by SubscribeToTask). */
  streaming?: boolean;
  delayMs?: number;
  /** The work: from the message's data part to the artifact's. */
  work?: (input: unknown) => unknown;
  /** Also serves A2A v0.3 (the SDK's compatibility layer) at the same URL. */
  legacy?: boolean;
}): Promise<RunningA2AAgent> {
  const received: unknown[] = [];
  const cancelled: string[] = [];
  const running = new Map<string, () => void>();
  const status = (bus: ExecutionEventBus, ctx: RequestContext, state: TaskState, parts?: Part[]) =>
    bus.publish(
      AgentEvent.statusUpdate({
        taskId: ctx.taskId,
        contextId: ctx.contextId,
        status: {
          state,
          message: parts ? agentMessage(ctx.taskId, ctx.contextId, parts) : undefined,
          timestamp: new Date().toISOString(),
        },
        metadata: undefined,
      }),
    );
  const executor: AgentExecutor = {
    async execute(ctx, bus) {
      const input = ctx.userMessage.parts.find((p) => p.content?.$case === 'data')?.content?.value;
      received.push(input);
      if (opts.behaviour === 'reply') {
        bus.publish(
          AgentEvent.message(agentMessage(ctx.taskId, ctx.contextId, [data(opts.work?.(input) ?? input)])),
        );
        bus.finished();
        return;
      }
      bus.publish(
        AgentEvent.task({
          id: ctx.taskId,
          contextId: ctx.contextId,
          status: {
            state: TaskState.TASK_STATE_SUBMITTED,
            message: undefined,
            timestamp: new Date().toISOString(),
          },
          artifacts: [],
          history: [ctx.userMessage],
          metadata: undefined,
        }),
      );
      status(bus, ctx, TaskState.TASK_STATE_WORKING);
      const stopped = new Promise<boolean>((resolve) => {
        running.set(ctx.taskId, () => resolve(true));
        if (opts.behaviour !== 'hang') setTimeout(() => resolve(false), opts.delayMs ?? 20);
      });
      if (await stopped) {
        status(bus, ctx, TaskState.TASK_STATE_CANCELED, [text('cancelled by the client')]);
      } else if (opts.behaviour === 'fail') {
        status(bus, ctx, TaskState.TASK_STATE_FAILED, [text('the model refused this input')]);
      } else if (opts.behaviour === 'input-required') {
        status(bus, ctx, TaskState.TASK_STATE_INPUT_REQUIRED, [text('which currency?')]);
      } else {
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId: ctx.taskId,
            contextId: ctx.contextId,
            artifact: {
              artifactId: 'result',
              name: 'result',
              description: '',
              parts: [data(opts.work ? opts.work(input) : { echoed: input })],
              metadata: undefined,
              extensions: [],
            },
            append: false,
            lastChunk: true,
            metadata: undefined,
          }),
        );
        status(bus, ctx, TaskState.TASK_STATE_COMPLETED);
      }
      running.delete(ctx.taskId);
      bus.finished();
    },
    async cancelTask(taskId) {
      cancelled.push(taskId);
      running.get(taskId)?.();
    },
  };

  const app = express();
  let server: Server | undefined;
  const listening = await new Promise<Server>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve(server!));
  });
  const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
  const card: AgentCard = {
    name: opts.name,
    description: `an A2A agent that ${opts.behaviour}s`,
    supportedInterfaces: [
      { url: `${url}/a2a`, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' },
      ...(opts.legacy
        ? [{ url: `${url}/a2a`, protocolBinding: 'JSONRPC', protocolVersion: '0.3', tenant: '' }]
        : []),
    ],
    provider: undefined,
    version: '1.0.0',
    capabilities: {
      streaming: opts.streaming ?? false,
      pushNotifications: false,
      extensions: [],
      extendedAgentCard: false,
    },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['application/json', 'text/plain'],
    defaultOutputModes: ['application/json'],
    skills: opts.skills.map((id) => ({
      id,
      name: id,
      description: `does ${id}`,
      tags: [],
      examples: [],
      inputModes: [],
      outputModes: [],
      securityRequirements: [],
    })),
    signatures: [],
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }));
  app.use(
    '/a2a',
    jsonRpcHandler({
      requestHandler: handler,
      userBuilder: UserBuilder.noAuthentication,
      ...(opts.legacy ? { legacyCompat: { enabled: true } } : {}),
    }),
  );
  const served = (await (await fetch(`${url}/.well-known/agent-card.json`)).json()) as Record<
    string,
    unknown
  >;
  return {
    url,
    card: served,
    received,
    cancelled,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const stop of running.values()) stop();
        listening.closeAllConnections();
        listening.close(() => resolve());
      }),
  };
}
