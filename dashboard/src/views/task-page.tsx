import type { BidRecord } from '../../../src/protocol/messages.ts';
import { isEnded } from '../../../src/protocol/states.ts';
import type { Task, TaskEvent } from '../../../src/protocol/task.ts';
import { api } from '../api/api-client.ts';
import { taskHref } from '../hooks/use-hash-route.ts';
import { usePolled } from '../hooks/use-polled.ts';

type TaskDetail = { task: Task; bids: BidRecord[]; trail: TaskEvent[] };

const loadDetail = async (taskId: string): Promise<TaskDetail> => {
  const [task, bids, trail] = await Promise.all([api.task(taskId), api.bids(taskId), api.trail(taskId)]);
  return { task, bids, trail };
};

/**
 * One task: input, output, every bid of every round, the audit trail, its parent, children
 * and dependencies. It reloads when the live feed carries an event of this task.
 */
export function TaskPage({
  taskId,
  nameOf,
  lastEventOfTask,
}: {
  taskId: string;
  nameOf: (id: string) => string;
  lastEventOfTask: string | undefined;
}) {
  const { data, problem } = usePolled(() => loadDetail(taskId), 5000, [taskId], lastEventOfTask);
  if (problem && !data)
    return (
      <section class="panel">
        <p>
          <a href="#/">&larr; market</a>
        </p>
        <p class="error" role="alert">
          {problem.status === 404 ? `No task ${taskId}.` : `${problem.code}: ${problem.message}`}
        </p>
      </section>
    );
  if (!data)
    return (
      <section class="panel">
        <p class="muted">Loading task {taskId}...</p>
      </section>
    );
  const { task, bids, trail } = data;
  const rounds = [...new Set(bids.map((b) => `${b.round}.${b.iteration}`))];
  return (
    <div class="task-page" data-task-page={task.id} data-state={task.state}>
      <section class="panel">
        <p>
          <a href="#/">&larr; market</a>
        </p>
        <h2>
          Task <span class="mono">{task.id}</span>{' '}
          <span class={`badge phase-${task.state}`} data-testid="task-state">
            {task.state}
          </span>
        </h2>
        <dl class="facts">
          <dt>Capability</dt>
          <dd>{task.capability}</dd>
          <dt>Round</dt>
          <dd>
            {task.round} (attempt {task.attempts} of {task.maxAttempts})
          </dd>
          <dt>Award</dt>
          <dd>
            {task.award
              ? `${nameOf(task.award.agentId)} at ${task.award.cost}, eta ${task.award.etaMs} ms`
              : 'none'}
          </dd>
          <dt>Budget</dt>
          <dd>{task.budget ?? 'none'}</dd>
          {task.settlement ? (
            <>
              <dt>Settlement</dt>
              <dd data-testid="task-settlement">
                {task.settlement.held} held from {task.settlement.payer}
                {task.settlement.paid !== null
                  ? `; paid ${task.settlement.paid}, ${task.settlement.refunded} refunded`
                  : '; not settled yet'}
              </dd>
            </>
          ) : null}
          <dt>Parent</dt>
          <dd>{task.parentId ? <TaskLink id={task.parentId} /> : 'none'}</dd>
          <dt>Children</dt>
          <dd>{task.children.length ? task.children.map((c) => <TaskLink key={c} id={c} />) : 'none'}</dd>
          <dt>Depends on</dt>
          <dd>{task.dependsOn.length ? task.dependsOn.map((d) => <TaskLink key={d} id={d} />) : 'none'}</dd>
          <dt>Trace</dt>
          <dd class="mono">{task.traceId ?? 'none'}</dd>
        </dl>
      </section>
      <section class="panel two">
        <div>
          <h3>Input</h3>
          <pre>{JSON.stringify(task.input, null, 2)}</pre>
        </div>
        <div>
          <h3>{task.error ? 'Error' : 'Output'}</h3>
          <pre data-testid="task-output">
            {task.error
              ? `${task.error.code}: ${task.error.message}`
              : isEnded(task.state)
                ? JSON.stringify(task.output, null, 2)
                : '(not yet)'}
          </pre>
        </div>
      </section>
      <section class="panel">
        <h3>Bids</h3>
        {bids.length === 0 ? (
          <p class="muted">No bids.</p>
        ) : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>Round</th>
                  <th>Agent</th>
                  <th>Bid</th>
                  <th class="num">Cost</th>
                  <th class="num">ETA ms</th>
                  <th>Outcome</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {rounds.flatMap((r) =>
                  bids
                    .filter((b) => `${b.round}.${b.iteration}` === r)
                    .map((b) => (
                      <tr key={b.id} class={`outcome-${b.outcome}`}>
                        <td>
                          {b.round}
                          {b.iteration > 1 ? `.${b.iteration}` : ''}
                        </td>
                        <td>{nameOf(b.agentId)}</td>
                        <td>{b.type}</td>
                        <td class="num">{b.cost ?? ''}</td>
                        <td class="num">{b.etaMs ?? ''}</td>
                        <td>{b.outcome}</td>
                        <td class="muted">{b.reason ?? ''}</td>
                      </tr>
                    )),
                )}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="panel">
        <h3>Audit trail</h3>
        <ol class="log trail">
          {trail.map((e) => (
            <li key={e.id}>
              <time class="mono muted">{e.createdAt.slice(11, 23)}</time> <strong>{e.type}</strong>
              {e.agentId ? ` ${nameOf(e.agentId)}` : ''} <code class="muted">{JSON.stringify(e.data)}</code>
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}

function TaskLink({ id }: { id: string }) {
  return (
    <a href={taskHref(id)} class="mono link-gap">
      {id.slice(-8)}
    </a>
  );
}
