import type { AgentCard, Task } from '@a2a-js/sdk';
import {
  type Client,
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  RestTransportFactory,
} from '@a2a-js/sdk/client';
import { JsonRpcTaskNotFoundError, RestTaskNotFoundError, TaskNotFoundError } from '@a2a-js/sdk/errors';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import {
  type AcceptProposal,
  AwardReply,
  type Cancel,
  type Cfp,
  type CfpReply,
  ResultReport,
} from '../protocol/messages.ts';
import type { A2ASpeaker, AgentAddress, AgentClient } from '../resilience/agent-client.ts';
import { InvalidAgentReplyError } from '../resilience/agent-errors.ts';
import { awardMessage, isTask, outcomeOf, outputOfMessage, type RemoteOutcome } from './a2a-parts.ts';
import * as watchLeases from './watch-leases.ts';
import { WATCH_LEASE_MS, type Watch } from './watch-leases.ts';

/** The most an A2A agent's answer may take (a task with its artifacts, or a stream's events). */
const MAX_A2A_REPLY_BYTES = 4 * 1024 * 1024;
/** GetTask polling: from this, doubling, to the cap. */
const POLL_FIRST_MS = 100;
const POLL_CAP_MS = 5000;

export type A2AContractorDeps = {
  database: Database;
  client: AgentClient;
  logger: Logger;
  managerId: string;
  /** Every call's timeout (AWARD_TIMEOUT_MS): a SendMessage, a GetTask, a CancelTask. */
  callTimeoutMs: number;
  /** The agent's stored card (kept as it registered), or null if it is gone. */
  cardOf(agentId: string): Promise<Record<string, unknown> | null>;
  /** The remote task's end, reported as the holder would report it (result-report.ts). */
  report(agentId: string, taskId: string, report: ResultReport): Promise<unknown>;
  /** AGENT_TTL_MS: an A2A agent cannot heartbeat, so one silent for half of it is probed. */
  agentTtlMs: number;
  /** The agent answered (liveness). */
  heard(agentId: string): void;
};

/** A2A agents silent for half the TTL (active ones, and inactive ones that may be back). */
const SILENT_SQL = `select id, a2a_card from agents
  where protocol = 'a2a' and status in ('active', 'inactive') and a2a_card is not null
    and last_seen_at < now() - $1::int * interval '1 millisecond'
  order by last_seen_at limit 50`;

/** Whether an error is the agent saying, in A2A, that it has no such task. */
const isNotFound = (err: unknown) =>
  err instanceof TaskNotFoundError ||
  err instanceof JsonRpcTaskNotFoundError ||
  err instanceof RestTaskNotFoundError;

/**
 * Agents registered by their A2A Agent Card work in the market as contractors: the manager bids
 * their standing offer for them, hands an award over as `SendMessage` (with the official A2A
 * client), and follows the A2A task to its end (SubscribeToTask when the card streams, else
 * GetTask with backoff), reporting its output or failure as a native holder would. The A2A task
 * id is stored with the award under a renewed lease, so if this manager dies another one takes
 * the watch over. Every call runs under the agent's breaker, bulkhead and timeout.
 */
export class A2AContractor implements A2ASpeaker {
  private readonly factory: ClientFactory;
  private readonly resolver: DefaultAgentCardResolver;
  private readonly clients = new Map<string, { card: string; client: Promise<Client> }>();
  private readonly watching = new Map<string, AbortController>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly d: A2AContractorDeps) {
    const fetchImpl = d.client.fetch(MAX_A2A_REPLY_BYTES);
    this.resolver = new DefaultAgentCardResolver({ fetchImpl, legacyCompat: { enabled: true } });
    this.factory = new ClientFactory(
      ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        transports: [
          new JsonRpcTransportFactory({ fetchImpl, legacyCompat: { enabled: true } }),
          new RestTransportFactory({ fetchImpl, legacyCompat: { enabled: true } }),
        ],
        cardResolver: this.resolver,
      }),
    );
  }

  /**
   * Takes over watches other managers left, and probes A2A agents nobody has heard from for
   * half the TTL (they cannot heartbeat): at start, and every few seconds.
   */
  start(): void {
    const beat = () => {
      void this.adoptOrphans().catch((err: unknown) =>
        this.d.logger.warn({ err }, 'could not adopt A2A watches'),
      );
      void this.probeSilent().catch((err: unknown) =>
        this.d.logger.warn({ err }, 'could not probe A2A agents'),
      );
    };
    beat();
    this.timer = setInterval(beat, Math.min(WATCH_LEASE_MS / 3, Math.max(250, this.d.agentTtlMs / 4)));
    this.timer.unref();
  }

  private probing = false;

  /** An A2A agent that answers the probe is heard from: active (again), and invited. */
  private async probeSilent(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const rows = await this.d.database.query<{ id: string; a2a_card: Record<string, unknown> }>(
        SILENT_SQL,
        [Math.floor(this.d.agentTtlMs / 2)],
      );
      await Promise.all(
        rows.map(async (r) => {
          if ((await this.probe(r.a2a_card)) === null) this.d.heard(r.id);
        }),
      );
    } finally {
      this.probing = false;
    }
  }

  /** Stops following (the leases run out and another manager takes over). */
  stop(): void {
    clearInterval(this.timer);
    for (const w of this.watching.values()) w.abort();
    this.watching.clear();
  }

  /**
   * Whether an endpoint answers A2A: a GetTask for a task that cannot exist must come back as
   * the A2A TaskNotFound error. Anything else (no answer, a 404 page, another protocol) is why.
   */
  async probe(card: Record<string, unknown>): Promise<string | null> {
    try {
      const client = await this.factory.createFromAgentCard(card as unknown as AgentCard);
      await client.getTask(
        { tenant: '', id: 'contract-net-probe', historyLength: undefined },
        {
          signal: AbortSignal.timeout(this.d.callTimeoutMs),
        },
      );
      return 'it answered GetTask for a task that does not exist as if it did';
    } catch (err) {
      if (isNotFound(err)) return null;
      const why =
        err instanceof Error
          ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`
          : String(err);
      return `it does not answer A2A there: ${why.slice(0, 300)}`;
    }
  }

  private clientOf(agentId: string): Promise<Client> {
    return this.d.cardOf(agentId).then((card) => {
      if (!card) throw new Error(`agent ${agentId} has no Agent Card`);
      const key = JSON.stringify(card);
      const known = this.clients.get(agentId);
      if (known && known.card === key) return known.client;
      const client = this.factory.createFromAgentCard(card as unknown as AgentCard);
      if (this.clients.size >= 10_000) this.clients.clear();
      this.clients.set(agentId, { card: key, client });
      client.catch(() => this.clients.delete(agentId));
      return client;
    });
  }

  private async streams(agentId: string): Promise<boolean> {
    const card = await this.d.cardOf(agentId);
    return (card?.capabilities as { streaming?: unknown } | undefined)?.streaming === true;
  }

  /** The standing offer for the task's capability (a skill's own, else the default), as its bid. */
  cfp(agent: AgentAddress, msg: Cfp): CfpReply {
    const offer = agent.a2a?.offer;
    const bid = offer?.skills?.[msg.task.capability] ?? offer?.default ?? { cost: 10, etaMs: 30_000 };
    if (msg.task.budget != null && bid.cost > msg.task.budget)
      return { type: 'refuse', reason: `its standing offer (${bid.cost}) is over the budget` };
    return { type: 'propose', cost: bid.cost, etaMs: bid.etaMs };
  }

  /**
   * SendMessage with the task: a Message reply is the result at once; a task already ended is
   * its output or a refusal of the award; a running one is agreed and followed from here.
   */
  async award(agent: AgentAddress, msg: AcceptProposal): Promise<AwardReply> {
    const client = await this.clientOf(agent.id);
    const reply = await this.d.client.guarded(agent.id, 'award', this.d.callTimeoutMs, 'a2a.send', (signal) =>
      client.sendMessage(
        awardMessage({
          awardId: msg.awardId,
          taskId: msg.conversationId,
          capability: msg.task.capability,
          input: msg.task.input,
          ...(msg.task.dependencies ? { dependencies: msg.task.dependencies } : {}),
        }),
        { signal },
      ),
    );
    if (!isTask(reply)) return informResult(outputOfMessage(reply));
    const outcome = outcomeOf(reply);
    if (outcome.kind === 'completed') return informResult(outcome.output);
    if (outcome.kind === 'failed') return { type: 'refuse', reason: outcome.reason };
    await watchLeases.hold(this.d.database, msg.awardId, reply.id, this.d.managerId);
    this.follow({
      awardId: msg.awardId,
      taskId: msg.conversationId,
      agentId: agent.id,
      remoteTaskId: reply.id,
    });
    return { type: 'agree' };
  }

  /** CancelTask for the award's remote task (it may have ended: the agent's answer is not needed). */
  async cancel(agent: AgentAddress, msg: Cancel): Promise<void> {
    this.watching.get(msg.awardId)?.abort();
    const rows = await this.d.database.query<{ remote_task_id: string | null }>(
      'select remote_task_id from awards where id = $1',
      [msg.awardId],
    );
    const remote = rows[0]?.remote_task_id;
    if (!remote) return;
    const client = await this.clientOf(agent.id);
    await this.d.client.guarded(agent.id, 'call', this.d.callTimeoutMs, 'a2a.cancel', (signal) =>
      client.cancelTask({ tenant: '', id: remote, metadata: undefined }, { signal }),
    );
  }

  private async adoptOrphans(): Promise<void> {
    for (const w of await watchLeases.adoptOrphans(this.d.database, this.d.managerId)) {
      this.d.logger.info(
        { awardId: w.awardId, taskId: w.taskId },
        'following an A2A task another manager left',
      );
      this.follow(w);
    }
  }

  /** Follows a remote task until it ends, the award ends, or this manager stops. */
  private follow(w: Watch): void {
    if (this.watching.has(w.awardId)) return;
    const stop = new AbortController();
    this.watching.set(w.awardId, stop);
    void this.watch(w, stop.signal)
      .catch((err: unknown) => this.d.logger.warn({ err, awardId: w.awardId }, 'A2A watch failed'))
      .finally(() => {
        if (this.watching.get(w.awardId)?.signal === stop.signal) this.watching.delete(w.awardId);
      });
  }

  private async watch(w: Watch, stopped: AbortSignal): Promise<void> {
    let delay = POLL_FIRST_MS;
    // A card that streams is followed by SubscribeToTask, in slices no longer than a third of
    // the lease (renewed between them); a stream that ends early or fails leaves it to GetTask.
    let streaming = await this.streams(w.agentId);
    let lastRenew = Date.now();
    while (!stopped.aborted) {
      if (Date.now() - lastRenew >= WATCH_LEASE_MS / 3) {
        const held = await watchLeases.renew(this.d.database, w.awardId, this.d.managerId);
        if (!held.length) return; // the award ended (cancelled, expired) or another manager has it
        lastRenew = Date.now();
      }
      let outcome: RemoteOutcome | 'renew';
      try {
        if (streaming) {
          outcome = await this.subscribe(w, stopped);
          if (outcome !== 'renew' && outcome.kind === 'running') streaming = false;
        } else {
          outcome = await this.poll(w);
        }
      } catch (err) {
        if (stopped.aborted) return;
        if (isNotFound(err)) {
          outcome = { kind: 'failed', reason: 'the A2A agent no longer knows its task (TaskNotFound)' };
        } else {
          // The agent is unreachable or erring: its breaker counts it; the award's due time ends it.
          this.d.logger.debug({ err, awardId: w.awardId }, 'A2A task not read');
          streaming = false;
          outcome = { kind: 'running' };
        }
      }
      if (outcome === 'renew') continue;
      if (outcome.kind !== 'running') {
        await this.settle(w, outcome);
        return;
      }
      await sleep(delay, stopped);
      delay = Math.min(POLL_CAP_MS, delay * 2);
    }
  }

  private async poll(w: Watch): Promise<RemoteOutcome> {
    const client = await this.clientOf(w.agentId);
    const task = await this.d.client.guarded(w.agentId, 'call', this.d.callTimeoutMs, 'a2a.get', (signal) =>
      client.getTask({ tenant: '', id: w.remoteTaskId, historyLength: 0 }, { signal }),
    );
    return outcomeOf(task);
  }

  /** Reads the task's stream until it ends (or the stream does): status updates carry the state. */
  private async subscribe(w: Watch, stopped: AbortSignal): Promise<RemoteOutcome | 'renew'> {
    const client = await this.clientOf(w.agentId);
    const slice = AbortSignal.any([stopped, AbortSignal.timeout(WATCH_LEASE_MS / 3)]);
    let last: Task | undefined;
    const artifacts: Task['artifacts'] = [];
    try {
      for await (const ev of client.resubscribeTask({ tenant: '', id: w.remoteTaskId }, { signal: slice })) {
        const p = ev.payload;
        if (!p) continue;
        if (p.$case === 'task') {
          last = p.value;
          artifacts.splice(0, artifacts.length, ...p.value.artifacts);
        } else if (p.$case === 'artifactUpdate' && p.value.artifact) {
          artifacts.push(p.value.artifact);
        } else if (p.$case === 'statusUpdate' && p.value.status && last) {
          last = { ...last, status: p.value.status };
        }
        if (last) {
          const outcome = outcomeOf({ ...last, artifacts });
          if (outcome.kind !== 'running') return outcome;
        }
      }
    } catch (err) {
      // The slice ran out: renew the lease and subscribe again.
      if (slice.aborted && !stopped.aborted) return 'renew';
      throw err;
    }
    return { kind: 'running' };
  }

  /** The remote end, reported as the holder's result or failure (stale if the award moved on). */
  private async settle(w: Watch, outcome: Exclude<RemoteOutcome, { kind: 'running' }>): Promise<void> {
    const parsed = ResultReport.safeParse(
      outcome.kind === 'completed'
        ? { type: 'inform-result', awardId: w.awardId, output: outcome.output }
        : { type: 'failure', awardId: w.awardId, reason: outcome.reason },
    );
    const report: ResultReport = parsed.success
      ? parsed.data
      : {
          type: 'failure',
          awardId: w.awardId,
          reason: `the A2A agent's output cannot be kept (${problemOf(parsed.error)})`,
        };
    await this.d
      .report(w.agentId, w.taskId, report)
      .catch((err: unknown) => this.d.logger.debug({ err, awardId: w.awardId }, 'A2A result not kept'));
  }
}

/** An output as an inline result, held to the same rules as a native agent's (JSON the database can store). */
function informResult(output: unknown): AwardReply {
  const parsed = AwardReply.safeParse({ type: 'inform-result', output });
  if (!parsed.success)
    throw new InvalidAgentReplyError(`the A2A agent's output cannot be kept (${problemOf(parsed.error)})`);
  return parsed.data;
}

const problemOf = (e: { issues: { path: PropertyKey[]; message: string }[] }) =>
  e.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || 'output'}: ${i.message}`)
    .join('; ');

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
