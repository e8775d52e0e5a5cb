import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { agentRoutes } from './agent-routes.ts';
import { AgentSession } from './agent-session.ts';
import type { AgentSpec, RunningAgent, StartOptions } from './agent-spec.ts';
import { pullLoop } from './pull-loop.ts';
import { subcontract } from './subcontract.ts';
import { WorkPool } from './work-pool.ts';

export {
  type AgentSpec,
  type BidContext,
  type BidDecision,
  type DeferredDecision,
  deferred,
  type RunningAgent,
  type StartOptions,
  type WorkContext,
} from './agent-spec.ts';

/**
 * Turns a bidding strategy and a work function into a runnable contract-net agent: a Hono
 * server for /cfp, /award, /reject and /cancel that verifies the manager's signatures, plus
 * registration, heartbeats, a bounded work pool and result reporting with retries.
 */
export function defineAgent<Input = unknown, Output = unknown>(spec: AgentSpec<Input, Output>) {
  let session: AgentSession | undefined;
  let accepting = true;
  const pool = new WorkPool<Input, Output>(
    spec.maxConcurrency ?? 1,
    spec.execute,
    (award, result) => {
      // Work only arrives through signed messages or claims, which both need a session.
      if (!session) throw new Error('not registered');
      return session.manager.report(award.conversationId, { awardId: award.awardId, ...result } as never);
    },
    (award, signal) => (capability, input, options) => {
      if (!session) return Promise.reject(new Error('not registered'));
      return subcontract(
        session.manager,
        { taskId: award.conversationId, awardId: award.awardId },
        signal,
        capability,
        input,
        options,
      );
    },
  );
  const app = agentRoutes(spec, { pool, session: () => session, accepting: () => accepting });

  async function start(opts: StartOptions): Promise<RunningAgent> {
    const host = opts.host ?? '127.0.0.1';
    const listening = opts.pullOnly ? null : await listen(app.fetch, opts.port ?? 0, host);
    const url = listening ? (opts.publicUrl ?? `http://${host}:${listening.port}`) : null;
    const closeServer = () =>
      new Promise<void>((resolve) => {
        if (!listening) return resolve();
        listening.server.close(() => resolve());
        listening.server.closeAllConnections();
      });
    const profile = {
      name: spec.name,
      ...(url ? { endpoint: url } : {}),
      capabilities: spec.capabilities.map((c) => (typeof c === 'string' ? { name: c } : c)),
      maxConcurrency: pool.capacity,
      ...(spec.description ? { description: spec.description } : {}),
    };
    let opened: AgentSession;
    try {
      opened = await AgentSession.open(profile, opts);
    } catch (err) {
      await closeServer();
      throw err;
    }
    session = opened;
    opened.startHeartbeat(opts.heartbeatMs ?? 5000, () => pool.load().running);
    const pulling = new AbortController();
    const pull = opts.pull ?? (opts.pullOnly ? {} : undefined);
    if (pull) void pullLoop(spec, pool, opened, pull, pulling.signal);

    return {
      get id() {
        return opened.id;
      },
      url,
      manager: opened.manager,
      load: () => pool.load(),
      rotateToken: () => opened.rotateToken(),
      async stop({ graceMs = 10_000, deregister = true } = {}) {
        accepting = false;
        pulling.abort();
        await pool.drain(graceMs);
        await opened.close({ deregister });
        await closeServer();
      },
    } satisfies RunningAgent;
  }

  return { app, start, spec };
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], port: number, hostname: string) {
  return new Promise<{ server: Server; port: number }>((resolve) => {
    const s = serve({ fetch, port, hostname }, (info) => resolve({ server: s as Server, port: info.port }));
  });
}
