import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { AcceptProposal, Cancel, Cfp, CfpReply, RejectProposal } from '../protocol/messages.ts';
import {
  parseSignature,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_MS,
  verifySignature,
} from '../protocol/signature.ts';
import type { AgentSession } from './agent-session.ts';
import { type AgentSpec, inputOf } from './agent-spec.ts';
import { ReplayGuard } from './replay-guard.ts';
import type { WorkPool } from './work-pool.ts';

/** The largest request an agent reads by default: a cfp carries the task input (1 MiB at the manager's default). */
export const DEFAULT_BODY_LIMIT = 2 * 1024 * 1024;

/** Largest bodies read at once before their signatures are checked (the budget is this many times the limit). */
const UNVERIFIED_BODIES = 8;

/** Bytes in use out of a fixed budget. */
class ByteBudget {
  private used = 0;
  constructor(private readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used -= n;
  }
}

/** What the routes need from the running agent. */
export type AgentLink<Input, Output> = {
  pool: WorkPool<Input, Output>;
  /** Undefined until registered: nothing can be verified before the agent has its token. */
  session(): AgentSession | undefined;
  accepting(): boolean;
};

/**
 * The agent's HTTP side: /cfp, /award, /reject and /cancel, each verified against the
 * manager's signature (and replays) before its body is parsed with the protocol schema.
 */
export function agentRoutes<Input, Output>(spec: AgentSpec<Input, Output>, link: AgentLink<Input, Output>) {
  const app = new Hono();
  const replays = new ReplayGuard();
  for (const m of spec.middleware ?? []) app.use(m);
  const maxBytes = spec.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  // Nothing of an unsigned request is read: without a well-formed signature header it is refused
  // before its body, and no body is read past the limit (a Content-Length over it is refused at
  // once). Reading first let one unauthenticated 300 MB POST take an agent to 948 MB.
  const refuseEarly = (c: Context, status: 401 | 413 | 503, message: string) =>
    c.json({ error: { code: 'rejected', message } }, status, status === 413 ? { connection: 'close' } : {});
  // Bodies not yet verified are read within a budget of bytes: forged requests (a MAC is only
  // known once the whole body is in) can cost the agent that much memory, no more.
  const unverified = new ByteBudget(maxBytes * UNVERIFIED_BODIES);
  app.use('*', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    if (!link.session()) return refuseEarly(c, 503, 'not registered yet');
    const header = c.req.header(SIGNATURE_HEADER);
    if (!header) return refuseEarly(c, 401, 'signature missing');
    const sig = parseSignature(header);
    if (!sig) return refuseEarly(c, 401, 'signature malformed');
    // Stale or replayed: known from the header alone, so refused before the body is read.
    if (Math.abs(Date.now() - sig.t) > SIGNATURE_TOLERANCE_MS) return refuseEarly(c, 401, 'signature stale');
    if (replays.seen(sig.mac, sig.t)) return refuseEarly(c, 401, 'signature replayed');
    const announced = Number(c.req.header('content-length'));
    const cost = Number.isSafeInteger(announced) && announced >= 0 ? Math.min(announced, maxBytes) : maxBytes;
    if (!unverified.take(cost)) return refuseEarly(c, 503, 'too many requests being read; try again');
    try {
      return await next();
    } finally {
      unverified.give(cost);
    }
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: maxBytes,
      onError: (c) => refuseEarly(c, 413, `the body exceeds ${maxBytes} bytes`),
    }),
  );
  const { pool } = link;
  app.onError((err, c) => {
    // A caller that went away mid-body (a forged request given up, a manager that timed out):
    // nothing to answer and nothing to report, however many of them come.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || err.message === 'aborted')
      return c.body(null, 400);
    console.error(`[${spec.name}] ${c.req.method} ${c.req.path} failed:`, err);
    return c.json({ error: { code: 'internal', message: 'the agent failed to handle the request' } }, 500);
  });

  function signed<T>(
    path: string,
    schema: z.ZodType<T>,
    fn: (msg: T, session: AgentSession) => Promise<unknown> | unknown,
  ) {
    app.post(path, async (c) => {
      const raw = await c.req.text();
      const refuse = (status: 400 | 401 | 422 | 503, message: string) =>
        c.json({ error: { code: 'rejected', message } }, status);
      const session = link.session();
      if (!session) return refuse(503, 'not registered yet');
      const sig = c.req.header(SIGNATURE_HEADER);
      let check = verifySignature(session.token, raw, sig);
      // Just after a rotation, messages signed with the previous token may still arrive.
      for (const older of check.ok ? [] : session.signingTokens().slice(1)) {
        const again = verifySignature(older, raw, sig);
        if (again.ok) {
          check = again;
          break;
        }
      }
      if (!check.ok) return refuse(401, `signature ${check.reason}`);
      if (!replays.admit(check.mac, check.t)) return refuse(401, 'signature replayed');
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        return refuse(400, 'malformed JSON');
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) return refuse(422, parsed.error.message);
      return c.json(await fn(parsed.data, session));
    });
  }

  signed('/cfp', Cfp, async (cfp, session) => {
    if (!link.accepting()) return { type: 'refuse', reason: 'shutting_down' };
    const input = inputOf(spec, cfp.task);
    if (!input.ok) return { type: 'refuse', reason: input.reason };
    const decision = await spec.bid(cfp as never, { ...pool.load(), capacity: pool.capacity });
    if (decision.type === 'deferred') {
      void decision
        .decide()
        .then((bid) => session.manager.bid(cfp.conversationId, { ...bid, round: cfp.round }))
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
    if (pool.has(award.awardId)) return { type: 'agree' }; // a retried award: already ours
    if (!link.accepting()) return { type: 'refuse', reason: 'shutting_down' };
    const input = inputOf(spec, award.task);
    if (!input.ok) return { type: 'refuse', reason: input.reason };
    if (spec.inlineResultMs !== undefined) {
      const inline = await pool.runInline(award, input.value, spec.inlineResultMs);
      if (inline?.done) return { type: 'inform-result', output: inline.output ?? null };
      if (inline) return { type: 'agree' }; // slow or failed: reported through the result call
    }
    pool.enqueue(award, input.value);
    return { type: 'agree' };
  });

  signed('/reject', RejectProposal, (msg) => {
    spec.onReject?.(msg);
    return { ok: true };
  });

  signed('/cancel', Cancel, (msg) => {
    pool.cancel(msg.awardId);
    return { ok: true };
  });

  app.get('/healthz', (c) => c.json({ status: 'ok', ...pool.load() }));
  return app;
}
