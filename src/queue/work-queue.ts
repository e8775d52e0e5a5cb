import { and, asc, desc, eq, inArray, not, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/client.ts';
import { awards, tasks } from '../db/schema.ts';
import type { EventHub } from '../events/event-hub.ts';
import { ApiError } from '../http/api-error.ts';
import type { ClaimedTask, ClaimRequest } from '../protocol/queue.ts';
import { addAgentStats } from '../registry/agent-stats.ts';
import type { AgentRow } from '../registry/agent-view.ts';
import { transitionTask } from '../tasks/task-store.ts';
import { toTaskSpec } from '../tasks/task-view.ts';

/**
 * The pull side of the fallback work queue. A claim is an award: it has an awardId, counts an
 * attempt, and is reported with the result call; its lease is the award's dueAt.
 */
export class WorkQueue {
  constructor(
    private readonly db: Db,
    private readonly hub: EventHub,
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
      throw new ApiError(422, 'invalid_request', 'an agent may claim only capabilities of its profile', [
        { field: 'capabilities', message: `not in this agent's profile: ${foreign.join(', ')}` },
      ]);
    }
    if (agent.status !== 'active')
      throw new ApiError(409, 'agent_inactive', `agent is ${agent.status}; register again to claim`);
    const until = Date.now() + (req.waitMs ?? 0);
    for (;;) {
      // Listen before looking, so a task queued in between is not missed.
      let wake!: () => void;
      const woken = new Promise<void>((r) => {
        wake = r;
      });
      const off = this.hub.onAny((n) => {
        if (n.type === 'task.queued' && n.capability && req.capabilities.includes(n.capability)) wake();
      });
      try {
        const claimed = await this.claimNow(agent, req);
        const left = until - Date.now();
        if (claimed.length || left <= 0 || signal?.aborted) return claimed;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          woken,
          new Promise<void>((r) => {
            timer = setTimeout(r, left);
            signal?.addEventListener('abort', () => r(), { once: true });
          }),
        ]);
        clearTimeout(timer);
      } finally {
        off();
      }
    }
  }

  private async claimNow(agent: AgentRow, req: ClaimRequest): Promise<ClaimedTask[]> {
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select()
        .from(tasks)
        .where(
          and(
            eq(tasks.state, 'queued'),
            inArray(tasks.capability, req.capabilities),
            not(sql`${agent.id}::uuid = any(${tasks.excludedAgents})`),
          ),
        )
        .orderBy(desc(tasks.priority), asc(tasks.createdAt))
        .limit(req.limit)
        .for('update', { skipLocked: true });
      const out: ClaimedTask[] = [];
      for (const task of due) {
        const awardId = uuidv7();
        const now = new Date();
        const leaseUntil = new Date(now.getTime() + req.leaseMs);
        const row = await transitionTask(tx, {
          taskId: task.id,
          action: 'claim',
          set: { awardId, attempts: sql`${tasks.attempts} + 1`, queuedReason: null, nextAuctionAt: null },
          event: {
            type: 'task.claimed',
            agentId: agent.id,
            data: { awardId, leaseUntil: leaseUntil.toISOString() },
          },
        });
        if (!row) continue;
        await tx.insert(awards).values({
          id: awardId,
          taskId: task.id,
          agentId: agent.id,
          round: task.round,
          kind: 'claim',
          status: 'agreed',
          awardedAt: now,
          dueAt: leaseUntil,
        });
        out.push({ task: toTaskSpec(task), awardId, leaseUntil: leaseUntil.toISOString() });
      }
      await addAgentStats(tx, [{ agentId: agent.id, awards: out.length }]);
      return out;
    });
  }
}
