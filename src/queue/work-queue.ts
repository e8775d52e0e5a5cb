import type { Database } from '../db/client.ts';
import type { DbClock } from '../db/db-clock.ts';
import { AppError } from '../errors/app-error.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { EventSink } from '../events/event-publisher.ts';
import { type MarketMetrics, noMetrics } from '../observability/market-metrics.ts';
import type { ClaimedTask, ClaimRequest } from '../protocol/queue.ts';
import type { AgentRow } from '../registry/agent-view.ts';
import { toTaskSpec } from '../tasks/task-view.ts';
import { claimQueued } from './claim-queued.ts';

/**
 * The pull side of the fallback work queue. A claim is an award: it has an awardId, counts an
 * attempt, and is reported with the result call; its lease is the award's dueAt.
 */
export class WorkQueue {
  constructor(
    private readonly database: Database,
    private readonly events: EventSink,
    private readonly hub: EventHub,
    private readonly clock: DbClock,
    private readonly metrics: MarketMetrics = noMetrics,
  ) {}

  /**
   * Claims up to `limit` queued tasks, highest priority first then oldest, with FOR UPDATE SKIP
   * LOCKED so two claimers never get the same task. With `waitMs`, an empty queue answers as
   * soon as a matching task is queued (LISTEN/NOTIFY), not by polling.
   */
  async claim(
    agent: AgentRow,
    req: ClaimRequest & { waitMs?: number },
    signal?: AbortSignal,
  ): Promise<ClaimedTask[]> {
    const offered = new Set(agent.capabilityNames);
    const foreign = req.capabilities.filter((c) => !offered.has(c));
    if (foreign.length) {
      throw new AppError(422, 'invalid_request', 'an agent may claim only capabilities of its profile', [
        { field: 'capabilities', message: `not in this agent's profile: ${foreign.join(', ')}` },
      ]);
    }
    if (agent.status !== 'active')
      throw new AppError(409, 'agent_inactive', `agent is ${agent.status}; register again to claim`);
    const until = Date.now() + (req.waitMs ?? 0);
    // One listener on the hub and one on the signal for the whole long-poll, however many times
    // it wakes; listening before looking, so a task queued in between is not missed.
    let queued = false;
    let wake: (() => void) | undefined;
    const onAbort = () => wake?.();
    const off = this.hub.onAny((n) => {
      if (n.type !== 'task.queued' || !n.capability || !req.capabilities.includes(n.capability)) return;
      queued = true;
      wake?.();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        queued = false;
        const claimed = await this.claimNow(agent, req);
        const left = until - Date.now();
        if (claimed.length || left <= 0 || signal?.aborted) return claimed;
        if (queued) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      off();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async claimNow(agent: AgentRow, req: ClaimRequest): Promise<ClaimedTask[]> {
    const claimed = await claimQueued(this.database, this.events, agent.id, req, this.clock.now());
    if (claimed.length) {
      this.metrics.claimed(claimed.length);
      for (const c of claimed) this.metrics.awarded(Date.now() - c.task.createdAt.getTime());
    }
    return claimed.map((c) => ({
      task: toTaskSpec(c.task),
      awardId: c.awardId,
      leaseUntil: c.leaseUntil.toISOString(),
    }));
  }
}
