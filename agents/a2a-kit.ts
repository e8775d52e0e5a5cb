import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AgentCard, type AgentSkill, type Part, Role, TaskState } from '@a2a-js/sdk';
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
import { dataPart, textPart } from '../src/a2a/a2a-parts.ts';

/**
 * What an A2A agent built with the official SDK (@a2a-js/sdk) needs besides its work: the events
 * of one task as the SDK's types have them, and a server from the SDK's own request handler and
 * Express handlers. Nothing here speaks A2A itself; the SDK does.
 */

export { dataPart, textPart };

/** The events of the task `ctx` is about, published on `bus`. */
export function taskEvents(ctx: RequestContext, bus: ExecutionEventBus) {
  const message = (parts: Part[]) => ({
    messageId: `${ctx.taskId}-${Math.random().toString(36).slice(2)}`,
    contextId: ctx.contextId,
    taskId: ctx.taskId,
    role: Role.ROLE_AGENT,
    parts,
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  });
  return {
    /** The task itself, first (the SDK asks for a task or a message before anything else). */
    task(state: TaskState) {
      bus.publish(
        AgentEvent.task({
          id: ctx.taskId,
          contextId: ctx.contextId,
          status: { state, message: undefined, timestamp: new Date().toISOString() },
          artifacts: [],
          history: [ctx.userMessage],
          metadata: undefined,
        }),
      );
    },
    status(state: TaskState, text?: string) {
      bus.publish(
        AgentEvent.statusUpdate({
          taskId: ctx.taskId,
          contextId: ctx.contextId,
          status: {
            state,
            message: text ? message([textPart(text)]) : undefined,
            timestamp: new Date().toISOString(),
          },
          metadata: undefined,
        }),
      );
    },
    artifact(name: string, parts: Part[], description = '') {
      bus.publish(
        AgentEvent.artifactUpdate({
          taskId: ctx.taskId,
          contextId: ctx.contextId,
          artifact: { artifactId: name, name, description, parts, metadata: undefined, extensions: [] },
          append: false,
          lastChunk: true,
          metadata: undefined,
        }),
      );
    },
    /** A reply that is a message, with no task at all. */
    reply(parts: Part[]) {
      bus.publish(AgentEvent.message(message(parts)));
    },
  };
}

/** The data part of a message, if it has one. */
export const dataOf = (m: RequestContext['userMessage']): unknown => {
  const c = m.parts.find((p) => p.content?.$case === 'data')?.content;
  return c?.$case === 'data' ? c.value : undefined;
};

/** The text parts of a message, joined. */
export const textOf = (m: RequestContext['userMessage']): string =>
  m.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(' ');

export type ServedA2A = { url: string; card: AgentCard; server: Server };

/**
 * Serves an executor with the SDK: its card at `/.well-known/agent-card.json` and JSON-RPC at
 * `/a2a` (also A2A 0.3, through the SDK's compatibility layer, with `legacy`).
 */
export async function serveA2A(opts: {
  name: string;
  description: string;
  skills: Omit<AgentSkill, 'securityRequirements' | 'examples' | 'inputModes' | 'outputModes' | 'tags'>[] &
    Partial<AgentSkill>[];
  executor: AgentExecutor;
  port?: number;
  host?: string;
  streaming?: boolean;
  legacy?: boolean;
}): Promise<ServedA2A> {
  const app = express();
  const host = opts.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(opts.port ?? 0, host, () => resolve(s));
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  const card: AgentCard = {
    name: opts.name,
    description: opts.description,
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
    skills: opts.skills.map((s) => ({
      tags: [],
      examples: [],
      inputModes: [],
      outputModes: [],
      securityRequirements: [],
      ...s,
    })),
    signatures: [],
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), opts.executor);
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }));
  app.use(
    '/a2a',
    jsonRpcHandler({
      requestHandler: handler,
      userBuilder: UserBuilder.noAuthentication,
      ...(opts.legacy ? { legacyCompat: { enabled: true } } : {}),
    }),
  );
  return { url, card, server };
}

export { TaskState };
