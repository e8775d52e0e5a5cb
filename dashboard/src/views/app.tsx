import { useCallback, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api/api-client.ts';
import type { StreamStatus } from '../api/event-stream.ts';
import { keyStore } from '../api/key-store.ts';
import { useHashRoute } from '../hooks/use-hash-route.ts';
import { useMarketFeed } from '../hooks/use-market-feed.ts';
import { useMarketMetrics } from '../hooks/use-market-metrics.ts';
import { usePolled } from '../hooks/use-polled.ts';
import { AccountsPanel } from './accounts-panel.tsx';
import { ActivityPanel } from './activity-panel.tsx';
import { AgentsPanel } from './agents-panel.tsx';
import { ChartsPanel } from './charts-panel.tsx';
import { KeyPrompt } from './key-prompt.tsx';
import { RecentTasks } from './recent-tasks.tsx';
import { RoundsPanel } from './rounds-panel.tsx';
import { SubmitForm } from './submit-form.tsx';
import { TaskPage } from './task-page.tsx';

/** The dashboard: the market view, or one task's page; a key prompt when the manager wants one. */
export function App() {
  const route = useHashRoute();
  // Bumped when the key changes: every stream and poll starts again with it.
  const [keyVersion, setKeyVersion] = useState(0);
  // The feed names agents as events arrive; it reads the latest names through this ref.
  const names = useRef(new Map<string, string>());
  const { feed, status } = useMarketFeed((id) => names.current.get(id) ?? id.slice(-6), keyVersion);
  // An event that changes an agent (an award, a breaker) refreshes the table, at most once a second.
  const agents = usePolled(api.agents, 3000, [keyVersion], feed.agentEpoch);
  names.current = useMemo(() => new Map((agents.data ?? []).map((a) => [a.id, a.name])), [agents.data]);
  const nameOf = useCallback((id: string) => names.current.get(id) ?? id.slice(-6), [agents.data]);
  const metrics = useMarketMetrics(2000, keyVersion);
  const tasks = usePolled(() => api.tasks(15), 5000, [keyVersion], feed.counts['task.submitted']);
  // Balances move when tasks end: refreshed with the agents table. Asked for only once money has
  // been issued (the metrics say so), so a market without accounts is never asked for them.
  const moneyOn = metrics.moneyIssued > 0;
  const accounts = usePolled(
    () => (moneyOn ? api.accounts() : Promise.resolve(null)),
    3000,
    [keyVersion, moneyOn],
    feed.agentEpoch,
  );

  const keyProblem = agents.problem?.needsKey
    ? agents.problem
    : status.state === 'refused'
      ? status.problem
      : null;
  const onKey = () => setKeyVersion((v) => v + 1);
  const lastEventOfTask =
    route.page === 'task' ? feed.rounds.find((r) => r.taskId === route.taskId)?.lastEventId : undefined;

  return (
    <>
      <header class="top">
        <h1>
          <a href="#/">Contract Net</a>
        </h1>
        <StatusPill status={status} />
        {keyStore.get() ? (
          <button
            type="button"
            class="link"
            onClick={() => {
              keyStore.clear();
              onKey();
            }}
          >
            forget key
          </button>
        ) : null}
      </header>
      <main>
        {keyProblem ? (
          <KeyPrompt
            reason={
              keyProblem.status === 403
                ? `${keyProblem.message}. The live view needs an admin key.`
                : 'This manager has API keys set: give one to watch the market.'
            }
            onSaved={onKey}
          />
        ) : null}
        {route.page === 'task' ? (
          <TaskPage taskId={route.taskId} nameOf={nameOf} lastEventOfTask={lastEventOfTask} />
        ) : (
          <div class="grid">
            <AgentsPanel agents={agents.data} />
            <ChartsPanel points={metrics.points} error={metrics.error} />
            <RoundsPanel rounds={feed.rounds} nameOf={nameOf} />
            <div class="side">
              <SubmitForm agents={agents.data} />
              {accounts.data ? <AccountsPanel accounts={accounts.data} nameOf={nameOf} /> : null}
              <RecentTasks tasks={tasks.data} />
            </div>
            <ActivityPanel lines={feed.lines} />
          </div>
        )}
      </main>
    </>
  );
}

function StatusPill({ status }: { status: StreamStatus }) {
  const text =
    status.state === 'live'
      ? 'live'
      : status.state === 'connecting'
        ? 'connecting...'
        : status.state === 'retrying'
          ? `reconnecting in ${Math.round(status.inMs / 1000)} s`
          : 'no access';
  return (
    <span
      class={`badge stream-${status.state}`}
      data-stream={status.state}
      title={status.state === 'retrying' ? status.why : ''}
    >
      {text}
    </span>
  );
}
