import { taskHref } from '../hooks/use-hash-route.ts';
import type { RoundCard } from '../state/market-feed.ts';

/** The rounds as they happen: cfps out, bids in with cost and ETA, the winner, the rejected. */
export function RoundsPanel({ rounds, nameOf }: { rounds: RoundCard[]; nameOf: (id: string) => string }) {
  return (
    <section class="panel rounds" aria-labelledby="rounds-title">
      <h2 id="rounds-title">Rounds, live</h2>
      {rounds.length === 0 ? (
        <p class="muted">Waiting for the first round... submit a task below.</p>
      ) : (
        <ol class="cards">
          {rounds.map((r) => (
            <li key={r.taskId} class={`card phase-${r.phase}`} data-task={r.taskId} data-phase={r.phase}>
              <div class="card-head">
                <a href={taskHref(r.taskId)} class="mono">
                  {r.taskId.slice(-8)}
                </a>
                <span class="muted">{r.capability ?? ''}</span>
                <span class={`badge phase phase-${r.phase}`}>{r.phase}</span>
              </div>
              <div class="muted small">
                {r.round > 0 ? `round ${r.round}` : 'no round yet'}
                {r.iteration > 1 ? `, iteration ${r.iteration}` : ''}
                {r.invited.length ? `, cfp to ${r.invited.length}` : ''}
                {r.moves ? `, award moved ${r.moves}x` : ''}
                {r.reason ? ` (${r.reason})` : ''}
              </div>
              {r.bids.length > 0 ? (
                <ul class="bids">
                  {r.bids.map((b) => {
                    const won = r.winner?.agentId === b.agentId;
                    const rejected = r.rejected.includes(b.agentId);
                    return (
                      <li
                        key={b.agentId}
                        class={b.kind !== 'propose' ? 'refused' : won ? 'won' : rejected ? 'rejected' : ''}
                        data-bid={nameOf(b.agentId)}
                      >
                        <span>
                          {won ? '\u2605 ' : ''}
                          {nameOf(b.agentId)}
                        </span>
                        {b.kind !== 'propose' ? (
                          <span class="muted">{b.kind === 'refuse' ? 'refused' : 'no reply'}</span>
                        ) : (
                          <span class="mono">
                            {b.cost ?? '?'} &middot; {b.etaMs ?? '?'} ms{rejected ? ' \u2717' : ''}
                          </span>
                        )}
                      </li>
                    );
                  })}
                </ul>
              ) : null}
              {r.winner?.via === 'queue' ? (
                <div class="small">claimed from the queue by {nameOf(r.winner.agentId)}</div>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
