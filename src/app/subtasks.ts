import { eq } from 'drizzle-orm';
import { LIVE_AWARD } from '../awards/award-state.ts';
import type { Db } from '../db/client.ts';
import { awards } from '../db/schema.ts';
import { AppError } from '../errors/app-error.ts';
import type { TaskSubmission } from '../protocol/task.ts';

/** A subtask's parent, as the submission records it. */
export type SubtaskParent = { taskId: string; awardId: string; agentId: string };

/**
 * Checks a subtask against the award it is submitted under: the award is this agent's live
 * award on that task (403 if not its own, 409 if it has ended); the budget may not exceed the
 * award's cost (422; absent, it is the award's cost) and the deadline is capped at its dueAt.
 * Answers the submission as it is stored, and the parent.
 */
export async function subtaskOf(
  db: Db,
  agentId: string,
  body: TaskSubmission & { parent: { taskId: string; awardId: string } },
): Promise<{ body: TaskSubmission; parent: SubtaskParent }> {
  const [award] = await db.select().from(awards).where(eq(awards.id, body.parent.awardId));
  if (!award || award.taskId !== body.parent.taskId)
    throw new AppError(422, 'invalid_request', 'parent.awardId is no award of parent.taskId', [
      { field: 'parent.awardId', message: 'no such award on that task' },
    ]);
  if (award.agentId !== agentId)
    throw new AppError(403, 'forbidden', 'only the holder of the parent award may submit its subtasks');
  if (!(LIVE_AWARD as readonly string[]).includes(award.status))
    throw new AppError(
      409,
      'parent_award_ended',
      `the parent award has ended (${award.status}); no subtasks under it`,
    );
  const cost = award.cost ?? 0;
  if (body.budget != null && body.budget > cost)
    throw new AppError(
      422,
      'invalid_request',
      `a subtask's budget may not exceed the parent award's cost (${cost})`,
      [{ field: 'budget', message: `at most ${cost}, the parent award's cost` }],
    );
  const due = award.dueAt.getTime();
  const deadline = body.deadline ? Math.min(Date.parse(body.deadline), due) : due;
  return {
    body: { ...body, budget: body.budget ?? cost, deadline: new Date(deadline).toISOString() },
    parent: { taskId: award.taskId, awardId: award.id, agentId },
  };
}
