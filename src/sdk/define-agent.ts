import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { Capability } from '../protocol/agent.ts';
import {
  AcceptProposal,
  Cancel,
  Cfp,
  CfpReply,
  type Proposal,
  type Refusal,
  RejectProposal,
  type TaskSpec,
} from '../protocol/messages.ts';
import { SIGNATURE_HEADER, verifySignature } from '../protocol/signature.ts';
import { ManagerClient, ManagerError } from './manager-client.ts';
import { ReplayGuard } from './replay-guard.ts';

/** What `bid` sees besides the cfp: the agent's own load, for strategies that price it in. */
export type BidContext = { running: number; queued: number; capacity: number };

/** A bid decided later: the SDK answers `deferred` now and posts the bid when `decide` resolves. */
export type DeferredDecision = { type: 'deferred'; decide: () => Promise<Proposal | Refusal> };

export type BidDecision = Proposal | Refusal | DeferredDecision;

export type WorkContext = { signal: AbortSignal; task: TaskSpec; awardId: string };

export type AgentSpec<Input = unknown, Output = unknown> = {
  name: string;
  capabilities: (Capability | string)[];
  description?: string;
  /** How many awarded tasks run at once; further awards wait their turn. */
  maxConcurrency?: number;
  /** Validates `task.input` before bidding and working; invalid input is refused / fails. */
  input?: z.ZodType<Input>;
  /** Decide on a cfp: propose, refuse, or `deferred(...)`. */
  bid(cfp: Cfp & { task: TaskSpec & { input: Input } }, ctx: BidContext): BidDecision | Promise<BidDecision>;
  /** Do the work; throw to report `failure`. Honour `signal`: it aborts on cancel. */
  execute(input: Input, ctx: WorkContext): Output | Promise<Output>;
  /** Called on reject-proposal, for strategies that learn from losing. */
  onReject?(msg: RejectProposal): void;
  /** Answer the award with the result itself when the work finishes within this many ms. */
  inlineResultMs?: number;
  /** Hono middleware run before the protocol routes (logging, extra auth, fault injection). */
  middleware?: MiddlewareHandler[];
};

export type StartOptions = {
  /** The manager's base URL. */
  manager: string;
  port?: number;
  host?: string;
  /** The URL the manager should call; defaults to http://host:port. */
  publicUrl?: string;
  /** Where the agent keeps its id and token across restarts. */
  tokenFile?: string;
  registrationKey?: string;
  heartbeatMs?: number;
  /** For tests: how many times and how fast a result report is retried. */
  reportAttempts?: number;
  /**
   * Also pull from the manager's fallback work queue whenever there is free capacity. The claim
   * is a long-poll: the manager answers as soon as a matching task is queued.
   */
  pull?: { leaseMs?: number; waitMs?: number };
};

export type RunningAgent = {
  id: string;
  url: string;
  manager: ManagerClient;
  /** Running and waiting work. */
  load(): { running: number; queued: number };
  /** Stops bidding, lets running work finish (or aborts it after `graceMs`), deregisters and closes. */
  stop(opts?: { graceMs?: number; deregister?: boolean }): Promise<void>;
};

/** Helper for `bid`: answer `deferred` now and post the real bid once `decide` resolves. */
export const deferred = (decide: () => Promise<Proposal | Refusal>): DeferredDecision => ({
  type: 'deferred',
  decide,
});

type Job<Input> = {
  award: AcceptProposal;
  /** The task input, already validated. */
  input: Input;
  controller: AbortController;
  /** `reporting`: the work is done and its slot free; the result is still on its way. */
  state: 'waiting' | 'running' | 'reporting' | 'done';
};

/**
 * Turns a bidding strategy and a work function into a runnable contract-net agent: a Hono
 * server for /cfp, /award, /reject and /cancel that verifies the manager's signatures, plus
 * registration, heartbeats, a bounded work pool and result reporting with retries.
 */
export function defineAgent<Input = unknown, Output = unknown>(spec: AgentSpec<Input, Output>) {
  const capacity = spec.maxConcurrency ?? 1;
  const capabilities = spec.capabilities.map((c) => (typeof c === 'string' ? { name: c } : c));
  const jobs = new Map<string, Job<Input>>();
  const waiting: Job<Input>[] = [];
  let running = 0;
  /** Finished jobs whose result report is still being sent (with retries). */
  let reporting = 0;
  let accepting = true;
  let token: string | undefined;
  let manager: ManagerClient | undefined;
  const replays = new ReplayGuard();
  const idle = new Set<() => void>();
  /** Woken whenever a job finishes: a pulling agent has room again. */
  const slot = new Set<() => void>();

  const app = new Hono();
  for (const m of spec.middleware ?? []) app.use(m);

  /**
   * A route for one manager message: verifies the signature over the raw body (and that it is
   * not a replay), parses it with the protocol schema, then hands it to `fn`.
   */
  function signed<T>(path: string, schema: z.ZodType<T>, fn: (msg: T) => Promise<unknown> | unknown) {
    app.post(path, async (c) => {
      const raw = await c.req.text();
      const refuse = (status: 400 | 401 | 422 | 503, message: string) =>
        c.json({ error: { code: 'rejected', message } }, status);
      if (!token) return refuse(503, 'not registered yet');
      const sig = c.req.header(SIGNATURE_HEADER);
      const check = verifySignature(token, raw, sig);
      if (!check.ok) return refuse(401, `signature ${check.reason}`);
      if (!replays.admit(sig!)) return refuse(401, 'signature replayed');
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        return refuse(400, 'malformed JSON');
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) return refuse(422, parsed.error.message);
      return c.json(await fn(parsed.data));
    });
  }

  function inputOf(task: TaskSpec): { ok: true; value: Input } | { ok: false; reason: string } {
    if (!spec.input) return { ok: true, value: task.input as Input };
    const r = spec.input.safeParse(task.input);
    return r.success
      ? { ok: true, value: r.data }
      : { ok: false, reason: `invalid input: ${r.error.issues[0]?.message}` };
  }

  signed('/cfp', Cfp, async (cfp) => {
    if (!accepting) return { type: 'refuse', reason: 'shutting_down' };
    const input = inputOf(cfp.task);
    if (!input.ok) return { type: 'refuse', reason: input.reason };
    const decision = await spec.bid(cfp as never, { running, queued: waiting.length, capacity });
    if (decision.type === 'deferred') {
      void decision
        .decide()
        .then((bid) => manager!.bid(cfp.conversationId, { ...bid, round: cfp.round }))
        .catch(() => {}); // a late or refused deferred bid is the manager's call
      return { type: 'deferred' };
    }
    const reply = CfpReply.safeParse(decision);
    if (reply.success) return reply.data;
    // A strategy bug must not look like a dead agent to the manager: refuse, and say why.
    const reason = `invalid bid from strategy: ${reply.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
    console.error(`[${spec.name}] ${reason}`);
    return { type: 'refuse', reason: reason.slice(0, 500) };
  });

  signed('/award', AcceptProposal, async (award) => {
    if (jobs.has(award.awardId)) return { type: 'agree' }; // a retried award: already ours
    if (!accepting) return { type: 'refuse', reason: 'shutting_down' };
    const input = inputOf(award.task);
    if (!input.ok) return { type: 'refuse', reason: input.reason };
    const job = newJob(award, input.value);
    if (spec.inlineResultMs !== undefined && running < capacity) {
      const work = startJob(job);
      const quick = await Promise.race([
        work.then(
          (output) => ({ output }),
          (err: unknown) => ({ err }),
        ),
        new Promise<null>((r) => setTimeout(() => r(null), spec.inlineResultMs)),
      ]);
      if (quick && 'output' in quick) {
        finish(job);
        return { type: 'inform-result', output: quick.output ?? null };
      }
      // Slow or failed: report through the result call like any other work.
      void work.then(
        (output) => report(job, { type: 'inform-result', output: output ?? null }),
        (err: unknown) => report(job, { type: 'failure', reason: errorText(err) }),
      );
      return { type: 'agree' };
    }
    waiting.push(job);
    pump();
    return { type: 'agree' };
  });

  signed('/reject', RejectProposal, (msg) => {
    spec.onReject?.(msg);
    return { ok: true };
  });

  signed('/cancel', Cancel, (msg) => {
    const job = jobs.get(msg.awardId);
    if (job && job.state !== 'done') {
      job.controller.abort(new Error('cancelled by the manager'));
      if (job.state === 'waiting') {
        waiting.splice(waiting.indexOf(job), 1);
        job.state = 'done';
        notifyIdle();
      }
    }
    return { ok: true };
  });

  app.get('/healthz', (c) => c.json({ status: 'ok', running, queued: waiting.length }));

  function newJob(award: AcceptProposal, input: Input): Job<Input> {
    const job: Job<Input> = { award, input, controller: new AbortController(), state: 'waiting' };
    jobs.set(award.awardId, job);
    return job;
  }

  /** Takes a slot and runs the work; the caller reports what it returns or throws. */
  function startJob(job: Job<Input>): Promise<Output> {
    running++;
    job.state = 'running';
    const { award } = job;
    return Promise.resolve().then(() =>
      spec.execute(job.input, { signal: job.controller.signal, task: award.task, awardId: award.awardId }),
    );
  }

  function pump() {
    while (running < capacity && waiting.length) {
      const job = waiting.shift()!;
      void startJob(job).then(
        (output) => report(job, { type: 'inform-result', output: output ?? null }),
        (err: unknown) => report(job, { type: 'failure', reason: errorText(err) }),
      );
    }
  }

  async function report(
    job: Job<Input>,
    result: { type: 'inform-result'; output: unknown } | { type: 'failure'; reason: string },
  ) {
    // The slot is for work, not for the network: a manager slow to take results must not
    // hold the next jobs back (they would miss their dueAt waiting for a slot).
    release(job);
    try {
      // A cancelled award's result would only be refused as stale.
      if (!job.controller.signal.aborted) {
        await manager!.report(job.award.conversationId, { awardId: job.award.awardId, ...result } as never);
      }
    } catch {
      // 409 stale_award and the like: the manager moved on; nothing more to do.
    } finally {
      finish(job);
    }
  }

  /** The work is over: frees its slot for the next job while the result is reported. */
  function release(job: Job<Input>) {
    if (job.state !== 'running') return;
    running--;
    reporting++;
    job.state = 'reporting';
    pump();
    for (const f of slot) f();
  }

  function finish(job: Job<Input>) {
    release(job);
    if (job.state === 'reporting') reporting--;
    job.state = 'done';
    // Keep the award id a while so a retried award is still recognised, then forget it.
    setTimeout(() => jobs.delete(job.award.awardId), 10 * 60_000).unref();
    notifyIdle();
  }

  function notifyIdle() {
    if (running === 0 && waiting.length === 0 && reporting === 0) for (const f of idle) f();
  }

  async function start(opts: StartOptions): Promise<RunningAgent> {
    const host = opts.host ?? '127.0.0.1';
    const server = await new Promise<{ server: Server; port: number }>((resolve) => {
      const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, (info) =>
        resolve({ server: s as Server, port: info.port }),
      );
    });
    const url = opts.publicUrl ?? `http://${host}:${server.port}`;
    manager = new ManagerClient(opts.manager, { reportAttempts: opts.reportAttempts });
    const saved = opts.tokenFile ? await readSaved(opts.tokenFile, opts.manager) : undefined;
    const profile = {
      name: spec.name,
      endpoint: url,
      capabilities,
      maxConcurrency: capacity,
      ...(spec.description ? { description: spec.description } : {}),
    };
    const registerNow = async () => {
      manager!.token = token ?? saved?.token;
      const res = await manager!.register(profile, opts.registrationKey);
      if (res.token) token = res.token;
      else token ??= saved?.token;
      manager!.token = token;
      return res.agent.id;
    };
    let id: string;
    try {
      id = await registerNow();
    } catch (err) {
      server.server.close();
      if (err instanceof ManagerError && err.code === 'name_taken') {
        throw new Error(
          `agent name "${spec.name}" is registered already and this agent has no token for it${opts.tokenFile ? ` in ${opts.tokenFile}` : ''}; use another name or the original token file`,
          { cause: err },
        );
      }
      throw err;
    }
    if (opts.tokenFile)
      await saveToken(opts.tokenFile, { manager: opts.manager, agentId: id, token: token! });

    const pulling = new AbortController();
    if (opts.pull) void pullLoop(opts.pull, pulling.signal);

    const heartbeat = setInterval(() => {
      manager!.heartbeat(id, running).catch(async (err) => {
        // Our registration is gone (the manager's database was reset): register again.
        if (err instanceof ManagerError && (err.status === 403 || err.status === 404)) {
          token = undefined;
          id = await registerNow().catch(() => id);
        }
      });
    }, opts.heartbeatMs ?? 5000);
    heartbeat.unref();

    return {
      get id() {
        return id;
      },
      url,
      manager,
      load: () => ({ running, queued: waiting.length }),
      async stop({ graceMs = 10_000, deregister = true } = {}) {
        accepting = false;
        pulling.abort();
        clearInterval(heartbeat);
        if (running || waiting.length || reporting) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              for (const j of jobs.values()) j.controller.abort(new Error('agent shutting down'));
              resolve();
            }, graceMs);
            idle.add(() => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        if (deregister) await manager!.deregister(id).catch(() => {});
        await new Promise<void>((resolve) => {
          server.server.close(() => resolve());
          server.server.closeAllConnections();
        });
      },
    } satisfies RunningAgent;
  }

  /** Claims queued tasks while there is room, and runs them like awards. */
  async function pullLoop(pull: NonNullable<StartOptions['pull']>, signal: AbortSignal) {
    const leaseMs = pull.leaseMs ?? 30_000;
    while (!signal.aborted) {
      const room = capacity - running - waiting.length;
      if (room <= 0) {
        await new Promise<void>((resolve) => {
          const f = () => {
            idle.delete(f);
            slot.delete(f);
            resolve();
          };
          idle.add(f);
          slot.add(f);
          signal.addEventListener('abort', f, { once: true });
        });
        continue;
      }
      try {
        const res = await manager!.claim(
          {
            capabilities: capabilities.map((c) => c.name),
            limit: room,
            leaseMs,
            waitMs: pull.waitMs ?? 20_000,
          },
          signal,
        );
        for (const claimed of res.tasks) {
          const award: AcceptProposal = {
            type: 'accept-proposal',
            conversationId: claimed.task.id,
            round: 0,
            awardId: claimed.awardId,
            task: claimed.task,
            dueAt: claimed.leaseUntil,
            resultUrl: `${manager!.baseUrl}/v1/tasks/${claimed.task.id}/result`,
          };
          const input = inputOf(award.task);
          if (!input.ok) {
            // Nothing to run: say so at once, so the task goes back to the market.
            void manager!
              .report(award.conversationId, { awardId: award.awardId, type: 'failure', reason: input.reason })
              .catch(() => {});
            continue;
          }
          waiting.push(newJob(award, input.value));
        }
        pump();
      } catch {
        if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  return { app, start, spec };
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 2000) || 'failed';
}

type Saved = { manager: string; agentId: string; token: string };

async function readSaved(file: string, managerUrl: string): Promise<Saved | undefined> {
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as Saved;
    return saved.manager === managerUrl ? saved : undefined;
  } catch {
    return undefined;
  }
}

async function saveToken(file: string, saved: Saved) {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(saved, null, 2), { mode: 0o600 });
}
