import { setMaxListeners } from 'node:events';
import { CircuitState, TimeoutStrategy, timeout } from 'cockatiel';
import type { Logger } from 'pino';
import { type Agent as Dispatcher, request, fetch as undiciFetch } from 'undici';
import type { z } from 'zod';
import type { Config } from '../config.ts';
import { type MarketMetrics, noMetrics } from '../observability/market-metrics.ts';
import { formatTraceparent, type TraceContext } from '../observability/trace-context.ts';
import { noTracing, type Tracing } from '../observability/tracing.ts';
import type { StandingOffer, CircuitState as WireCircuitState } from '../protocol/agent.ts';
import {
  type AcceptProposal,
  AwardReply,
  type Cancel,
  type Cfp,
  CfpReply,
  type RejectProposal,
} from '../protocol/messages.ts';
import { signBody } from '../protocol/signature.ts';
import { AgentHttpError, AgentTimeoutError, CfpWindowError, InvalidAgentReplyError } from './agent-errors.ts';
import { AgentPolicies, type CircuitListener, type PolicyConfig } from './agent-policies.ts';
import { callOutcome, readCapped } from './agent-reply.ts';
import { OutboundGuard, OutboundRefusedError } from './outbound-guard.ts';

/**
 * Who to call and how to sign; `trace`: the span the call is made in (sent as `traceparent`).
 * `a2a`: an agent registered by its A2A card, spoken to in A2A (its standing offer is its bid).
 */
export type AgentAddress = {
  id: string;
  endpoint: string;
  token: string;
  trace?: TraceContext;
  a2a?: { offer: StandingOffer };
};

/** How calls to an A2A agent are made (a2a/a2a-contractor.ts): same policies, another wire. */
export interface A2ASpeaker {
  cfp(agent: AgentAddress, msg: Cfp): CfpReply;
  award(agent: AgentAddress, msg: AcceptProposal): Promise<AwardReply>;
  cancel(agent: AgentAddress, msg: Cancel): Promise<void>;
}

const MAX_REPLY_BYTES = 1024 * 1024;

/**
 * The one way the manager calls agents. Each agent gets its own circuit breaker, bulkhead and
 * retry policy, built once and kept for the life of the process; every request is signed and
 * goes through a keep-alive connection pool.
 */
export class AgentClient {
  /** Each agent's breaker, bulkhead and retry policy. */
  readonly policies: AgentPolicies;
  private readonly dispatcher: Dispatcher;

  private readonly onHeard: (agentId: string) => void;
  /** Every connection to an agent passes it (after DNS resolution). */
  private readonly guard: OutboundGuard;
  private readonly metrics: MarketMetrics;
  private readonly tracing: Tracing;

  constructor(
    private readonly cfg: PolicyConfig &
      Pick<Config, 'AWARD_TIMEOUT_MS' | 'NOTIFY_TIMEOUT_MS' | 'MIN_CFP_MS' | 'CFP_FAIR_WINDOW_MS'>,
    private readonly logger: Logger,
    opts: {
      /** Breaker transitions (the audit trail and metrics). */
      onCircuit?: CircuitListener;
      /** An agent answered a call (liveness). */
      onHeard?: (agentId: string) => void;
      guard?: OutboundGuard;
      metrics?: MarketMetrics;
      tracing?: Tracing;
    } = {},
  ) {
    this.onHeard = opts.onHeard ?? (() => {});
    this.guard = opts.guard ?? new OutboundGuard();
    this.metrics = opts.metrics ?? noMetrics;
    this.tracing = opts.tracing ?? noTracing;
    this.policies = new AgentPolicies(cfg, logger, opts.onCircuit ?? (() => {}));
    this.dispatcher = this.guard.dispatcher({
      // One socket per call the bulkhead lets through: the rest wait there, not in undici's queue.
      connections: cfg.BULKHEAD_LIMIT,
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      connect: { timeout: 5_000 },
    });
  }

  private a2a?: A2ASpeaker;

  /** Calls to agents registered by an A2A card go through `speaker` (set once, at wiring). */
  speakA2A(speaker: A2ASpeaker): void {
    this.a2a = speaker;
  }

  /**
   * A call made another way (A2A), under the agent's own bulkhead, breaker and timeout as every
   * call here; `award` calls are retried like accept-proposal. `fn` gets the timeout's signal.
   */
  guarded<T>(
    agentId: string,
    kind: 'award' | 'call',
    timeoutMs: number,
    message: string,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const p = this.policies.of(agentId);
    const started = performance.now();
    const once = () =>
      p.bulkhead.execute(() =>
        p.breaker.execute(() =>
          timeout(timeoutMs, { strategy: TimeoutStrategy.Cooperative, abortOnReturn: false }).execute(
            ({ signal }) =>
              fn(signal).catch((err: unknown) => {
                throw signal.aborted ? new AgentTimeoutError(timeoutMs) : err;
              }),
          ),
        ),
      );
    return (kind === 'award' ? p.awardRetry.execute(once) : once()).then(
      (v) => {
        this.metrics.agentCall(message, 'ok', performance.now() - started);
        this.onHeard(agentId);
        return v;
      },
      (err: unknown) => {
        this.metrics.agentCall(
          message,
          callOutcome(err instanceof Error ? err.name : 'error', err),
          performance.now() - started,
        );
        throw err;
      },
    );
  }

  /**
   * fetch through this client's guarded connection pool (every address checked after DNS), its
   * response body cut off past `maxBytes`: what the A2A client is given to call agents with.
   */
  fetch(maxBytes: number): typeof fetch {
    return (async (input: string | URL | Request, init?: RequestInit) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const refused = this.guard.refuseLiteral(url);
      if (refused) throw new OutboundRefusedError(refused);
      const res = await undiciFetch(url, { ...(init as object), dispatcher: this.dispatcher } as never);
      if (!res.body) return res as unknown as Response;
      let seen = 0;
      const capped = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, ctl) {
            seen += chunk.byteLength;
            if (seen > maxBytes)
              ctl.error(new InvalidAgentReplyError(`agent answered more than ${maxBytes} bytes`));
            else ctl.enqueue(chunk);
          },
        }),
      );
      return new Response(capped as never, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers as never,
      });
    }) as typeof fetch;
  }

  /** Drops an agent's policies (it deregistered: a new registration starts afresh). */
  forget(agentId: string): void {
    this.policies.forget(agentId);
  }

  /** Every agent this manager keeps a breaker for, with its state (the circuit gauge). */
  circuits(): Iterable<[string, WireCircuitState]> {
    return this.policies.circuits();
  }

  /** This manager's view of an agent's breaker. */
  circuitOf(agentId: string): WireCircuitState {
    return this.policies.circuitOf(agentId);
  }

  /** The agents this manager will not invite now: their circuits are open (or probing). */
  uninvitable(now = Date.now()): string[] {
    return this.policies.uninvitable(now);
  }

  /**
   * cfp: one try, timed out with what is left of the round once a slot in the agent's bulkhead
   * is free. The wait for the slot is the manager's doing: a cfp left with less than
   * `MIN_CFP_MS` is not sent, and a timeout after less than `CFP_FAIR_WINDOW_MS` is not held
   * against the agent's circuit (nor may such a call be its half-open probe).
   */
  cfp(agent: AgentAddress, msg: Cfp, replyBy: number, deadline?: AbortSignal): Promise<CfpReply> {
    // An A2A agent cannot bid: the manager bids its standing offer for it, without a call.
    if (agent.a2a && this.a2a) return Promise.resolve(this.a2a.cfp(agent, msg));
    const p = this.policies.of(agent.id);
    return p.bulkhead.execute(() => {
      const left = replyBy - Date.now();
      if (left < Math.max(1, this.cfg.MIN_CFP_MS)) throw new CfpWindowError(left, false);
      const fair = left >= this.cfg.CFP_FAIR_WINDOW_MS;
      if (!fair && p.breaker.state !== CircuitState.Closed) throw new CfpWindowError(left, false);
      return p.breaker.execute(() =>
        this.post(agent, '/cfp', msg, left, CfpReply, deadline).catch((err: unknown) => {
          throw !fair && err instanceof AgentTimeoutError ? new CfpWindowError(left, true) : err;
        }),
      );
    });
  }

  /** accept-proposal: retried with backoff on transport errors and 5xx (idempotent by awardId). */
  award(agent: AgentAddress, msg: AcceptProposal): Promise<AwardReply> {
    if (agent.a2a && this.a2a) return this.a2a.award(agent, msg);
    const p = this.policies.of(agent.id);
    // The bulkhead outside the breaker: a full bulkhead is this manager's congestion, not a
    // fault of the agent's.
    return p.awardRetry.execute(() =>
      p.bulkhead.execute(() =>
        p.breaker.execute(() => this.post(agent, '/award', msg, this.cfg.AWARD_TIMEOUT_MS, AwardReply)),
      ),
    );
  }

  /**
   * The same reject-proposal to several agents at once (a round's losers), best effort: the
   * calls share one deadline, NOTIFY_TIMEOUT_MS from now, one timer for the batch instead of a
   * timer and a signal per call (as a round's cfps share theirs). A call that waits for a slot
   * in its agent's bulkhead waits within that deadline.
   */
  notifyEach(agents: AgentAddress[], msg: RejectProposal): Promise<boolean[]> {
    if (agents.length === 1) return this.notify(agents[0]!, '/reject', msg).then((ok) => [ok]);
    const deadline = new AbortController();
    // Each call listens on it until it ends: as many listeners as agents, not a leak.
    if (agents.length > 10) setMaxListeners(agents.length, deadline.signal);
    const timer = setTimeout(() => deadline.abort(), this.cfg.NOTIFY_TIMEOUT_MS);
    return Promise.all(agents.map((a) => this.notify(a, '/reject', msg, deadline.signal))).finally(() =>
      clearTimeout(timer),
    );
  }

  /**
   * reject-proposal and cancel: best effort, one try; failures are logged, never thrown.
   * `deadline`: a batch's shared deadline (notifyEach) instead of a timeout of its own.
   */
  async notify(
    agent: AgentAddress,
    path: '/reject' | '/cancel',
    msg: RejectProposal | Cancel,
    deadline?: AbortSignal,
  ): Promise<boolean> {
    if (agent.a2a && this.a2a) {
      // A2A has no reject-proposal (the agent never bid); a cancel is CancelTask.
      if (msg.type !== 'cancel') return true;
      return this.a2a.cancel(agent, msg).then(
        () => true,
        (err: unknown) => {
          this.logger.debug({ err, agentId: agent.id }, 'A2A CancelTask failed');
          return false;
        },
      );
    }
    const p = this.policies.of(agent.id);
    try {
      await p.bulkhead.execute(() =>
        deadline?.aborted
          ? Promise.reject(new AgentTimeoutError(this.cfg.NOTIFY_TIMEOUT_MS))
          : this.post(agent, path, msg, this.cfg.NOTIFY_TIMEOUT_MS, null, deadline),
      );
      return true;
    } catch (err) {
      this.logger.debug({ err, agentId: agent.id, path }, 'best-effort notification failed');
      return false;
    }
  }

  /** One call; in a span of its own (under the round's) when the address carries a trace. */
  private post<T>(
    agent: AgentAddress,
    path: string,
    msg: unknown,
    timeoutMs: number,
    schema: z.ZodType<T> | null,
    deadline?: AbortSignal,
  ): Promise<T> {
    if (!agent.trace) return this.send(agent, path, msg, timeoutMs, schema, undefined, deadline);
    return this.tracing.span(
      `cnp.agent${path.replace('/', '.')}`,
      agent.trace,
      { 'cnp.agent_id': agent.id },
      (trace) => this.send(agent, path, msg, timeoutMs, schema, formatTraceparent(trace), deadline),
    );
  }

  private async send<T>(
    agent: AgentAddress,
    path: string,
    msg: unknown,
    timeoutMs: number,
    schema: z.ZodType<T> | null,
    traceparent: string | undefined,
    /** Ends the call when it aborts (a round's shared replyBy), instead of a timer of its own. */
    deadline?: AbortSignal,
  ): Promise<T> {
    const body = serialised(msg);
    const started = performance.now();
    const debug = this.logger.isLevelEnabled('debug');
    const message = path.slice(1);
    const log = (outcome: string, err?: unknown) => {
      this.metrics.agentCall(message, callOutcome(outcome, err), performance.now() - started);
      if (debug)
        this.logger.debug(
          { agentId: agent.id, path, ms: Math.round(performance.now() - started), outcome },
          'agent call',
        );
    };
    // Cooperative: the timeout aborts the signal and waits for undici to end the request, so
    // the bulkhead slot is freed only once the socket is really released. The body is read inside.
    // Not aborted on return: the request has ended by then, and each abort builds a DOMException
    // (1.4% of the manager's CPU under load). A cfp uses its round's deadline instead, one timer
    // for every invitee; the call likewise ends only once undici has ended the request.
    const call = async ({ signal }: { signal: AbortSignal }) => {
      const url = `${agent.endpoint.replace(/\/+$/, '')}${path}`;
      const refused = this.guard.refuseLiteral(url);
      if (refused) throw new OutboundRefusedError(refused);
      try {
        const res = await request(url, {
          method: 'POST',
          body,
          signal,
          dispatcher: this.dispatcher,
          headers: {
            'content-type': 'application/json',
            'x-cnp-signature': signBody(agent.token, body),
            ...(traceparent ? { traceparent } : {}),
          },
        });
        const text = await readCapped(res.body, MAX_REPLY_BYTES);
        if (res.statusCode >= 300) throw new AgentHttpError(res.statusCode, text.slice(0, 500));
        if (!schema) {
          log(String(res.statusCode));
          this.onHeard(agent.id);
          return undefined as T;
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          // Not its text: an agent's reply is not copied into what other clients read.
          throw new InvalidAgentReplyError(
            `agent answered ${path} with non-JSON (${text.length} characters)`,
          );
        }
        const parsed = schema.safeParse(json);
        if (!parsed.success) {
          // Which fields and what kind of problem, never the values (or keys) it sent.
          const problems = parsed.error.issues
            .slice(0, 5)
            .map(
              (i) =>
                `${i.code === 'unrecognized_keys' ? '(unknown fields)' : i.path.join('.') || '(message)'}: ${i.code}`,
            );
          throw new InvalidAgentReplyError(
            `agent answered ${path} with an invalid message (${problems.join('; ')})`,
          );
        }
        log(String(res.statusCode));
        this.onHeard(agent.id);
        return parsed.data;
      } catch (err) {
        // undici reports the timeout's abort as its own AbortError: name it for what it is.
        throw signal.aborted ? new AgentTimeoutError(timeoutMs) : err;
      }
    };
    const ended = deadline
      ? call({ signal: deadline })
      : timeout(timeoutMs, { strategy: TimeoutStrategy.Cooperative, abortOnReturn: false }).execute(call);
    return ended.catch((err: unknown) => {
      log(err instanceof Error ? err.name : 'error', err);
      throw err;
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/**
 * Each message's JSON, made once however many agents it goes to: a round's cfp is one object
 * sent to every invitee (each signs the same bytes with its own token).
 */
const bodies = new WeakMap<object, string>();
function serialised(msg: unknown): string {
  if (typeof msg !== 'object' || msg === null) return JSON.stringify(msg);
  let body = bodies.get(msg);
  if (body === undefined) {
    body = JSON.stringify(msg);
    bodies.set(msg, body);
  }
  return body;
}
