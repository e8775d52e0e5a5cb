import { setMaxListeners } from 'node:events';
import type { DbClock } from '../db/db-clock.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { Cfp, CfpReply } from '../protocol/messages.ts';
import { isEnded } from '../protocol/states.ts';
import { AgentHttpError, InvalidAgentReplyError } from '../resilience/agent-errors.ts';
import type { CfpAnswer, Invitee } from './round-types.ts';

/** `deadline` aborts at replyBy: the round's one timer, shared by all its cfps. */
export type CfpSender = (
  invitee: Invitee,
  cfp: Cfp,
  replyBy: number,
  deadline: AbortSignal,
) => Promise<CfpReply>;

/**
 * Sends the cfp to every invitee at once and gathers their answers until `replyBy`, or as soon
 * as every invitee has answered (a `deferred` answer counts once its bid has arrived), or the
 * task ends meanwhile (cancel, deadline).
 */
export function collectBids(
  /** Sends the cfp to one invitee (to be answered by `replyBy`, this process's clock). */
  send: CfpSender,
  hub: EventHub,
  cfp: Cfp,
  invitees: Invitee[],
  /** The database's clock (which wrote `replyBy`), as this process sees it. */
  clock: DbClock,
  /** Called once every invitee has answered its cfp (deferred bids may still be awaited). */
  onAllAnswered: () => void = () => {},
): Promise<Map<string, CfpAnswer>> {
  const answers = new Map<string, CfpAnswer>();
  const awaitingBid = new Set<string>();
  const bidArrived = new Set<string>();
  // On this process's clock: the timer and the cfp's own timeout are set on it.
  const replyBy = clock.toLocal(Date.parse(cfp.replyBy));
  // One timer for the round, not one per call: at replyBy it ends the calls still out and the round.
  const deadline = new AbortController();
  // Each call out listens on it until it ends: as many listeners as invitees, not a leak.
  if (invitees.length > 10) setMaxListeners(invitees.length, deadline.signal);
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      // Calls still out when the round ends early (the task ended) are no longer wanted.
      if (answers.size < invitees.length) deadline.abort();
      resolve(answers);
    };
    const maybeFinish = () => {
      if (answers.size < invitees.length) return;
      onAllAnswered();
      if (awaitingBid.size === 0) finish();
    };
    const off = hub.onTask(cfp.conversationId, (n) => {
      if (n.type === 'bid.received' && n.agentId) {
        bidArrived.add(n.agentId);
        if (awaitingBid.delete(n.agentId)) maybeFinish();
      } else if (n.state && isEnded(n.state as never)) {
        finish();
      }
    });
    const timer = setTimeout(finish, Math.max(0, replyBy - Date.now()));
    for (const invitee of invitees) {
      // The client does not send a cfp whose window is spent, nor hold it against the agent.
      send(invitee, cfp, replyBy, deadline.signal)
        .then(
          (reply): CfpAnswer => {
            if (reply.type === 'deferred' && !bidArrived.has(invitee.id)) awaitingBid.add(invitee.id);
            return { ...reply, receivedAt: Date.now() };
          },
          (err: unknown): CfpAnswer =>
            // An agent that declines the cfp itself (too large, not a content it takes) refused it.
            err instanceof AgentHttpError && err.declinedMessage
              ? { type: 'refuse', reason: `declined the cfp (HTTP ${err.status})`, receivedAt: Date.now() }
              : {
                  type: err instanceof InvalidAgentReplyError ? 'invalid' : 'no_reply',
                  reason: err instanceof Error ? err.message : String(err),
                  receivedAt: Date.now(),
                },
        )
        .then((answer) => {
          answers.set(invitee.id, answer);
          maybeFinish();
        });
    }
  });
}
