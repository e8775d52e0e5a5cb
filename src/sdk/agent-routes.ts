import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { AcceptProposal, Cancel, Cfp, CfpReply, RejectProposal } from '../protocol/messages.ts';
import { parseSignature, SIGNATURE_HEADER, verifySignature } from '../protocol/signature.ts';
import type { AgentSession } from './agent-session.ts';
import { type AgentSpec, inputOf } from './agent-spec.ts';
import { ReplayGuard } from './replay-guard.ts';
import type { WorkPool } from './work-pool.ts';

/** The largest request an agent reads by default: a cfp carries the task input (1 MiB at the manager's default). */
export const DEFAULT_BODY_LIMIT = 2 * 1024 * 1024;

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
  app.use('*', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    if (!link.session()) return refuseEarly(c, 503, 'not registered yet');
    const header = c.req.header(SIGNATURE_HEADER);
    if (!header) return refuseEarly(c, 401, 'signature missing');
    if (!parseSignature(header)) return refuseEarly(c, 401, 'signature malformed');
    return next();
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: maxBytes,
      onError: (c) => refuseEarly(c, 413, `the body exceeds ${maxBytes} bytes`),
    }),
  );
  const { pool } = link;

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
