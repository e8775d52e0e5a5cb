import type { Logger } from 'pino';
import type { AgentAddress, AgentClient } from '../resilience/agent-client.ts';

/** Looks up where an agent is and the token that signs calls to it. */
export type AddressBook = { addressOf(agentId: string): Promise<AgentAddress | null> };

/**
 * The one sender of `cancel` to an award's holder (task cancelled, deadline passed, award
 * expired or failed in flight). Best effort, after the commit that ended the award; it never
 * throws, so a caller may leave it running.
 */
export function sendCancel(
  client: AgentClient,
  book: AddressBook,
  logger: Logger,
  award: { id: string; agentId: string; taskId: string },
): Promise<void> {
  return book
    .addressOf(award.agentId)
    .then((address) =>
      address
        ? client.notify(address, '/cancel', {
            type: 'cancel',
            conversationId: award.taskId,
            awardId: award.id,
          })
        : undefined,
    )
    .then(
      () => undefined,
      (err: unknown) => logger.debug({ err, awardId: award.id }, 'could not send cancel'),
    );
}

/** `sendCancel` bound to its client, book and log: what the sweep jobs are given. */
export type HolderNotice = { cancel(award: { id: string; agentId: string; taskId: string }): void };

export function holderNotice(client: AgentClient, book: AddressBook, logger: Logger): HolderNotice {
  return { cancel: (award) => void sendCancel(client, book, logger, award) };
}
