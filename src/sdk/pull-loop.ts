import type { AcceptProposal } from '../protocol/messages.ts';
import type { AgentSession } from './agent-session.ts';
import { type AgentSpec, inputOf, type StartOptions } from './agent-spec.ts';
import type { WorkPool } from './work-pool.ts';

/**
 * Claims queued tasks from the manager's fallback queue while the pool has room, and runs them
 * like awards. The claim is a long-poll, so an idle agent waits on the manager, not in a loop.
 */
export async function pullLoop<Input, Output>(
  spec: AgentSpec<Input, Output>,
  pool: WorkPool<Input, Output>,
  session: AgentSession,
  pull: NonNullable<StartOptions['pull']>,
  signal: AbortSignal,
) {
  const capabilities = spec.capabilities.map((c) => (typeof c === 'string' ? c : c.name));
  const { manager } = session;
  while (!signal.aborted) {
    const room = pool.room();
    if (room <= 0) {
      await pool.whenRoom(signal);
      continue;
    }
    try {
      const res = await manager.claim(
        { capabilities, limit: room, leaseMs: pull.leaseMs ?? 30_000, waitMs: pull.waitMs ?? 20_000 },
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
          cost: null,
          resultUrl: `${manager.baseUrl}/v1/tasks/${claimed.task.id}/result`,
        };
        const input = inputOf(spec, award.task);
        if (input.ok) {
          pool.enqueue(award, input.value);
          continue;
        }
        // Nothing to run: say so at once, so the task goes back to the market.
        void manager
          .report(award.conversationId, { awardId: award.awardId, type: 'failure', reason: input.reason })
          .catch(() => {});
      }
    } catch {
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
