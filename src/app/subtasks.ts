import { eq, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client.ts';
import { awards } from '../db/schema.ts';
import { AppError } from '../errors/app-error.ts';
import { LIVE_AWARD_STATUSES } from '../protocol/states.ts';
import type { TaskSubmission } from '../protocol/task.ts';

/** A subtask's parent, as the submission records it. */
export type SubtaskParent = { taskId: string; awardId: string; agentId: string };

/** How far an award holder may subcontract (MAX_SUBTASKS_PER_AWARD, MAX_SUBTASK_DEPTH). */
export type SubtaskLimits = { perAward: number; depth: number };

/** What an award's subtasks use already, and how deep its task is in its tree (1: a root). */
type Usage = { count: number | string; budgets: number | string | null; depth: number | string };

/**
 * Checks a subtask against the award it is submitted under: the award is this agent's live
 * award on that task (403 if not its own, 409 if it has ended); at most `perAward` subtasks under
 * one award and `depth` levels below a root (429 naming the setting); the budgets of its
 * subtasks that have not failed or been cancelled together within the award's cost (422;
 * absent, the budget is what is left of it) and the deadline capped at its dueAt. Answers the
 * submission as it is stored, and the parent. The caller serialises the subtasks of one award.
 */
export async function subtaskOf(
  db: Db,
  agentId: string,
  body: TaskSubmission & { parent: { taskId: string; awardId: string } },
  limits: SubtaskLimits,
): Promise<{ body: TaskSubmission; parent: SubtaskParent }> {
  const [award] = await db.select().from(awards).where(eq(awards.id, body.parent.awardId));
  if (!award || award.taskId !== body.parent.taskId)
    throw new AppError(422, 'invalid_request', 'parent.awardId is no award of parent.taskId', [
      { field: 'parent.awardId', message: 'no such award on that task' },
    ]);
  if (award.agentId !== agentId)
    throw new AppError(403, 'forbidden', 'only the holder of the parent award may submit its subtasks');
  if (!(LIVE_AWARD_STATUSES as readonly string[]).includes(award.status))
    throw new AppError(
      409,
      'parent_award_ended',
      `the parent award has ended (${award.status}); no subtasks under it`,
    );
  const [usage] = await queryRows<Usage>(
    db,
    sql`select
      (select count(*) from tasks where parent_award_id = ${award.id}) as count,
      (select sum(budget) from tasks where parent_award_id = ${award.id}
         and state not in ('failed', 'cancelled')) as budgets,
      (with recursive up (id, parent_id, depth) as (
         select id, parent_id, 1 from tasks where id = ${award.taskId}
         union all
         select t.id, t.parent_id, up.depth + 1 from tasks t join up on t.id = up.parent_id
         where up.depth <= ${limits.depth}
       ) select max(depth) from up) as depth`,
  );
  const count = Number(usage?.count ?? 0);
  if (count >= limits.perAward)
    throw new AppError(
      429,
      'subtask_limit',
      `this award has ${count} subtasks already, the most one award may have (MAX_SUBTASKS_PER_AWARD)`,
    );
  if (Number(usage?.depth ?? 1) > limits.depth)
    throw new AppError(
      429,
      'subtask_limit',
      `the parent task is ${limits.depth} subcontracting levels deep already, the most a tree may go (MAX_SUBTASK_DEPTH)`,
    );
  const cost = award.cost ?? 0;
  const left = Math.max(0, cost - Number(usage?.budgets ?? 0));
  if ((body.budget ?? left) > left || (body.budget == null && left <= 0 && cost > 0))
    throw new AppError(
      422,
      'invalid_request',
      `a subtask's budget may not exceed what is left of the parent award's cost (${left} of ${cost})`,
      [{ field: 'budget', message: `at most ${left}: the award's cost less its other subtasks' budgets` }],
    );
  const due = award.dueAt.getTime();
  const deadline = body.deadline ? Math.min(Date.parse(body.deadline), due) : due;
  return {
    body: { ...body, budget: body.budget ?? left, deadline: new Date(deadline).toISOString() },
    parent: { taskId: award.taskId, awardId: award.id, agentId },
  };
}
