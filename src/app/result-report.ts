import { agreeAward } from '../awards/agree-award.ts';
import { completeAward } from '../awards/complete-award.ts';
import type { AwardEnd, endAward } from '../awards/end-award.ts';
import type { HeldAgreements } from '../awards/held-agreements.ts';
import type { SchemaIndex } from '../capabilities/schema-index.ts';
import type { Database } from '../db/client.ts';
import { AppError } from '../errors/app-error.ts';
import type { EventSink } from '../events/event-publisher.ts';
import type { ResultReport } from '../protocol/messages.ts';
import { LIVE_AWARD_STATUSES } from '../protocol/states.ts';
import type { Task } from '../protocol/task.ts';
import type { TaskStore } from '../tasks/task-store.ts';

/** What settling a holder's report needs from the application layer. */
export type ResultReportDeps = {
  agreements: HeldAgreements;
  database: Database;
  events: EventSink;
  store: TaskStore;
  /** A completion this manager wrote: waiting clients get its view without another read. */
  /** Ends an award in its own transaction and starts what follows it (a new round). */
  endAward(awardId: string, end: AwardEnd): Promise<Awaited<ReturnType<typeof endAward>>>;
  schemas: SchemaIndex;
};

/**
 * Settlement: the award holder's result. A repeat of an accepted result is 200 and changes
 * nothing; an award that is no longer the task's is 409 stale_award; another agent's award is 403.
 */
export async function reportResult(
  d: ResultReportDeps,
  agentId: string,
  taskId: string,
  given: ResultReport,
): Promise<Task> {
  // An output that breaks the agent's own outputSchema is its failure, never a completion.
  const unfit =
    given.type === 'inform-result'
      ? await d.schemas.outputRefusal(
          agentId,
          async () => (await d.store.getRow(taskId)).capability,
          given.output,
        )
      : null;
  const report: ResultReport = unfit ? { type: 'failure', awardId: given.awardId, reason: unfit } : given;
  const view = await settle(d, agentId, taskId, report);
  if (unfit)
    throw new AppError(422, 'invalid_output', `the award failed: ${unfit}`, [
      { field: 'output', message: unfit },
    ]);
  return view;
}

async function settle(
  d: ResultReportDeps,
  agentId: string,
  taskId: string,
  report: ResultReport,
): Promise<Task> {
  const stale = (status: string) =>
    new AppError(
      409,
      'stale_award',
      `award ${report.awardId} is no longer the current award of task ${taskId} (${status}); the result was not kept`,
    );
  /** The award, if it is this task's and the reporting agent's (else 409, or 403 for another's). */
  const reporters = <A extends { taskId: string; agentId: string }>(award: A | null | undefined): A => {
    if (!award || award.taskId !== taskId)
      throw new AppError(409, 'stale_award', `award ${report.awardId} is not an award of task ${taskId}`);
    if (award.agentId !== agentId)
      throw new AppError(403, 'forbidden', 'this award belongs to another agent');
    return award;
  };
  if (report.type === 'inform-result') {
    // The agreement this manager holds for the award, if any, is recorded by the same statement.
    const held = d.agreements.take(report.awardId);
    let done: Awaited<ReturnType<typeof completeAward>> | undefined;
    try {
      done = await completeAward(
        d.database,
        d.events,
        taskId,
        report.awardId,
        agentId,
        report.output,
        held?.dueAt ?? null,
      );
    } finally {
      held?.settle(done?.done === true);
    }
    if (done.done) return done.view;
    const award = reporters(done.award);
    if (award.status === 'completed') return d.store.readView(taskId);
    throw stale(award.status);
  }
  const award = reporters(await d.store.getAward(report.awardId));
  if (award.status === 'failed' && award.reason === report.reason) return d.store.readView(taskId);
  if (!LIVE_AWARD_STATUSES.includes(award.status as never)) throw stale(award.status);
  // An agreement still held is written first: the trail shows the agent agreed, then failed.
  const held = d.agreements.take(award.id);
  if (held) {
    let written = false;
    try {
      await agreeAward(d.database, d.events, award.id, held.dueAt);
      written = true;
    } finally {
      held.settle(written);
    }
  }
  const ended = await d.endAward(award.id, {
    action: 'fail',
    reason: report.reason,
    blame: true,
    countsAttempt: true,
  });
  if (!ended) throw stale(award.status);
  return d.store.viewOf(ended.task);
}
