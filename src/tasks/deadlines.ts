import { and, eq, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { cancelLiveAward } from '../awards/end-award.ts';
import type { HolderNotice } from '../awards/notify-holder.ts';
import type { Database } from '../db/client.ts';
import { isLockNotAvailable } from '../db/errors.ts';
import { awards, tasks } from '../db/schema.ts';
import { DB_NOW } from '../db/sql-fragments.ts';
import { quoted } from '../db/sql-lists.ts';
import { OPEN_TASK_STATES } from '../protocol/states.ts';
import { SWEEP_BATCH, type SweepJob } from '../sweeper/sweep-job.ts';
import { transitionTask } from './task-store.ts';

/** Unfinished tasks past their deadline fail with deadline_exceeded; a holder is sent `cancel`. */
export function deadlineEnforcement(d: { database: Database; notice: HolderNotice }): SweepJob {
  return {
    name: 'deadlines',
    probe: `exists (select 1 from tasks where deadline is not null and deadline < now()
      and live and state in ${quoted(OPEN_TASK_STATES)})`,
    async run() {
      for (let i = 0; i < SWEEP_BATCH; i++) {
        const ended = await failOnePastDeadline(d.database).catch((err: unknown) => {
          if (isLockNotAvailable(err)) return null; // its award is being agreed or completed now
          throw err;
        });
        if (!ended) return;
        if (ended.holder) d.notice.cancel(ended.holder);
      }
    },
  };
}

function failOnePastDeadline(database: Database) {
  return database.db.transaction(async (tx) => {
    const [task] = await tx
      .select()
      .from(tasks)
      .where(
        and(
          sql`${tasks.live}`,
          inArray(tasks.state, [...OPEN_TASK_STATES]),
          isNotNull(tasks.deadline),
          lt(tasks.deadline, DB_NOW),
        ),
      )
      .limit(1)
      .for('update', { skipLocked: true });
    if (!task) return null;
    // Agree and complete lock the award before the task; this holds the task, so it must not
    // wait for the award: if it is busy, the next sweep takes the task again.
    if (task.awardId)
      await tx
        .select({ id: awards.id })
        .from(awards)
        .where(eq(awards.id, task.awardId))
        .for('update', { noWait: true });
    const row = await transitionTask(tx, {
      taskId: task.id,
      action: 'fail',
      guard: eq(tasks.state, task.state),
      set: {
        error: { code: 'deadline_exceeded', message: `the deadline ${task.deadline!.toISOString()} passed` },
      },
      event: { type: 'task.failed', data: { code: 'deadline_exceeded' } },
    });
    if (!row) return { holder: null };
    return { holder: await cancelLiveAward(tx, task.awardId, 'deadline exceeded') };
  });
}
