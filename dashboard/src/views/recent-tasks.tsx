import type { Task } from '../../../src/protocol/task.ts';
import { taskHref } from '../hooks/use-hash-route.ts';

/** The newest tasks, each a link to its page. */
export function RecentTasks({ tasks }: { tasks: Task[] | undefined }) {
  return (
    <section class="panel recent" aria-labelledby="recent-title">
      <h2 id="recent-title">Recent tasks</h2>
      {!tasks ? (
        <p class="muted">Loading...</p>
      ) : tasks.length === 0 ? (
        <p class="muted">No tasks yet.</p>
      ) : (
        <ul class="plain">
          {tasks.map((t) => (
            <li key={t.id}>
              <a href={taskHref(t.id)} class="mono">
                {t.id.slice(-8)}
              </a>{' '}
              <span>{t.capability}</span> <span class={`badge phase-${t.state}`}>{t.state}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
