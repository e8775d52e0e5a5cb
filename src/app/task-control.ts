import type { Logger } from 'pino';
import { asPaymentError } from '../accounts/money-rules.ts';
import { cancelLiveAward, endAward, lockLateAward, lockLiveAwardOf } from '../awards/end-award.ts';
import { type AddressBook, sendCancel } from '../awards/notify-holder.ts';
import type { Database, Tx } from '../db/client.ts';
import { isLockNotAvailable } from '../db/errors.ts';
import { AppError } from '../errors/app-error.ts';
import type { Task } from '../protocol/task.ts';
import type { AgentClient } from '../resilience/agent-client.ts';
import type { RoundRunner } from '../rounds/round-runner.ts';
import { type TaskStore, transitionTask } from '../tasks/task-store.ts';
import { toTaskView } from '../tasks/task-view.ts';

/** What cancelling, retrying and deregistering need: each ends or restarts work, then tells who must know. */
export type TaskControlDeps = {
  database: Database;
  store: TaskStore;
  runner: RoundRunner;
  client: AgentClient;
  book: AddressBook;
  logger: Logger;
};

/** Cancels a task that has not ended (409 if it has); its holder is sent `cancel`. */
export async function cancelTask(
  d: TaskControlDeps,
  taskId: string,
  why?: { code: string; message: string },
): Promise<Task> {
  const attempt = () =>
    d.database.db.transaction(async (tx) => {
      const locked = await lockLiveAwardOf(tx, taskId);
      const row = await transitionTask(tx, {
        taskId,
        action: 'cancel',
        ...(why ? { set: { error: why } } : {}),
        event: { type: 'task.cancelled', ...(why ? { data: { reason: why.code } } : {}) },
      });
      if (!row) return null;
      await lockLateAward(tx, row.awardId, locked);
      return { row, holder: await cancelLiveAward(tx, row.awardId, 'task cancelled') };
    });
  let result: Awaited<ReturnType<typeof attempt>>;
  for (let tries = 1; ; tries++) {
    try {
      result = await attempt();
      break;
    } catch (err) {
      // The award it took meanwhile is being negotiated: once that is done, cancel again.
      if (!isLockNotAvailable(err) || tries >= 20) throw err;
      await new Promise((r) => setTimeout(r, 5 * tries));
    }
  }
  if (!result) {
    const current = await d.store.getRow(taskId);
    throw new AppError(
      409,
      'task_ended',
      `task ${taskId} has already ended (${current.state}); nothing to cancel`,
    );
  }
  if (result.holder) void sendCancel(d.client, d.book, d.logger, result.holder);
  return toTaskView(result.row, null);
}

/** Puts a failed task back with fresh attempts (409 unless failed), and auctions it. */
export async function retryTask(d: TaskControlDeps, taskId: string): Promise<Task> {
  // With accounts on, the retry holds the budget again (402 when the payer cannot cover it).
  const row = await d.database.db
    .transaction((tx) =>
      transitionTask(tx, {
        taskId,
        action: 'retry',
        set: {
          attempts: 0,
          error: null,
          completedAt: null,
          excludedAgents: [],
          requeues: 0,
          awardId: null,
          output: null,
        },
        event: { type: 'task.retried' },
      }),
    )
    .catch((err: unknown) => {
      throw asPaymentError(err);
    });
  if (!row) {
    const current = await d.store.getRow(taskId);
    throw new AppError(
      409,
      'task_not_failed',
      `only a failed task can be retried; task ${taskId} is ${current.state}`,
    );
  }
  d.runner.startRound(taskId, { state: 'pending', round: row.round, owner: row.callbackKey });
  return toTaskView(row, null);
}

/**
 * Deregisters an agent and, in the same transaction, ends its live awards without blame; their
 * tasks go back to bidding once it has committed.
 */
export async function deregisterAgent(
  d: TaskControlDeps,
  agentId: string,
  deregisterIn: (tx: Tx) => Promise<string[]>,
): Promise<void> {
  const ended = await d.database.db.transaction(async (tx) => {
    const results = [];
    for (const awardId of await deregisterIn(tx))
      results.push(
        await endAward(tx, awardId, {
          action: 'cancel',
          reason: 'agent deregistered',
          blame: false,
          countsAttempt: false,
        }),
      );
    return results;
  });
  d.client.forget(agentId);
  for (const e of ended) d.runner.afterAwardEnded(e);
}
