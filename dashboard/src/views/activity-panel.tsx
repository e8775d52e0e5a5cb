import { taskHref } from '../hooks/use-hash-route.ts';
import type { FeedLine } from '../state/market-feed.ts';

/** The raw event log, newest first: every cfp, bid, award, queue move and breaker change. */
export function ActivityPanel({ lines }: { lines: FeedLine[] }) {
  return (
    <section class="panel activity" aria-labelledby="activity-title">
      <h2 id="activity-title">Activity</h2>
      <ol class="log">
        {lines.slice(0, 80).map((l) => (
          <li key={l.id} class={`ev-${l.type.replace('.', '-')}`}>
            <time class="mono muted">{l.at.slice(11, 23)}</time>{' '}
            {l.taskId ? <a href={taskHref(l.taskId)}>{l.text}</a> : <span>{l.text}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}
