import type { Server } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { z } from 'zod';
import type { AgentRegistration } from '../protocol/agent.ts';
import { agentRoutes } from './agent-routes.ts';
import { AgentSession } from './agent-session.ts';
import { type AgentSpec, publishedCapability, type RunningAgent, type StartOptions } from './agent-spec.ts';
import { pullLoop } from './pull-loop.ts';
import { subcontract } from './subcontract.ts';
import { WorkPool } from './work-pool.ts';

export {
  type AgentSpec,
  type BidContext,
  type BidDecision,
  type CapabilitySpec,
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
      capabilities: spec.capabilities.map((c) => publishedCapability(c, spec.input as z.ZodType | undefined)),
      maxConcurrency: pool.capacity,
      ...(spec.description ? { description: spec.description } : {}),
    };
    const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const tokenFile =
      opts.tokenFile === false ? undefined : (opts.tokenFile ?? defaultTokenFile(spec.name, opts.manager));
    let opened: AgentSession;
    try {
      opened = await openPatiently(profile, { ...opts, tokenFile }, log);
    } catch (err) {
      await closeServer();
      throw err;
    }
    session = opened;
    log(
      `agent "${spec.name}" ${url ? `listening on ${url}` : 'pull-only'}, registered as ${opened.id} with ${opts.manager}${tokenFile ? ` (token kept in ${tokenFile})` : ''}`,
    );
    opened.startHeartbeat(opts.heartbeatMs ?? opened.heartbeatMs ?? 5000, () => pool.load().running);
    const pulling = new AbortController();
    const pull = opts.pull ?? (opts.pullOnly ? {} : undefined);
    if (pull) void pullLoop(spec, pool, opened, pull, pulling.signal);

    const running: RunningAgent = {
      get id() {
        return opened.id;
      },
      url,
      manager: opened.manager,
      load: () => pool.load(),
      rotateToken: () => opened.rotateToken(),
      async stop({ graceMs = 10_000, deregister = true } = {}) {
        unwatchSignals(running);
        accepting = false;
        pulling.abort();
        await pool.drain(graceMs);
        await opened.close({ deregister });
        await closeServer();
      },
    };
    if (opts.handleSignals !== false) watchSignals(running);
    return running;
  }

  return { app, start, spec };
}

/** Where an agent keeps its token by default: per agent name and manager, under the user's home. */
export function defaultTokenFile(name: string, manager: string): string {
  const home = process.env.CNET_AGENT_HOME ?? join(homedir(), '.contract-net', 'agents');
  const at = URL.canParse(manager) ? new URL(manager).host : manager;
  return join(home, `${`${name}@${at}`.replace(/[^A-Za-z0-9._@-]+/g, '_')}.json`);
}

/** Whether an error means the manager could not be reached at all (not an answer from it). */
function unreachable(err: unknown): string | null {
  if (!(err instanceof TypeError)) return null;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

/**
 * Registers, and while the manager cannot be reached says so in one line and tries again
 * (1 s, doubling to 30 s): an agent started before its manager waits for it.
 */
async function openPatiently(
  profile: AgentRegistration,
  opts: StartOptions & { tokenFile: string | undefined },
  log: (line: string) => void,
): Promise<AgentSession> {
  for (let delay = 1000; ; delay = Math.min(30_000, delay * 2)) {
    try {
      return await AgentSession.open(profile, opts);
    } catch (err) {
      const why = unreachable(err);
      if (!why) throw err;
      log(
        `agent "${profile.name}": cannot reach the manager at ${opts.manager} (${why}); trying again in ${delay / 1000} s`,
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Agents that stop and deregister when the process gets SIGINT or SIGTERM, then the process exits. */
const signalled = new Set<RunningAgent>();

function onSignal(signal: NodeJS.Signals) {
  const agents = [...signalled];
  signalled.clear();
  const stopped = Promise.allSettled(agents.map((a) => a.stop({ graceMs: 5000 })));
  const limit = new Promise((r) => setTimeout(r, 10_000).unref());
  void Promise.race([stopped, limit]).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

function watchSignals(agent: RunningAgent) {
  if (!signalled.size) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  signalled.add(agent);
}

function unwatchSignals(agent: RunningAgent) {
  if (!signalled.delete(agent) || signalled.size) return;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], port: number, hostname: string) {
  return new Promise<{ server: Server; port: number }>((resolve) => {
    const s = serve({ fetch, port, hostname }, (info) => resolve({ server: s as Server, port: info.port }));
  });
}
