import type { AwardEndResult } from '../awards/end-award.ts';
import type { RoundStart } from '../rounds/open-round.ts';

/** What the sweeper asks of the rest of the manager; it knows no concrete round or service. */
export interface SweepPort {
  /** Opens a round on a task the sweeper claimed (re-auction, takeover). */
  startRound(taskId: string, from: RoundStart): void;
  /** After the commit that ended an award: a requeued task is auctioned again. */
  afterAwardEnded(ended: AwardEndResult): void;
  /** Best effort `cancel` to an award's holder, after the commit that ended its award. */
  sendCancel(award: { id: string; agentId: string; taskId: string }): void;
  /** Cancels a subtask whose parent award ended (parent_ended); a task already ended is left. */
  cancelSubtask(taskId: string): Promise<unknown>;
  /** Releases (and auctions) or fails waiting tasks whose dependencies settled. */
  releaseWaiting(): Promise<unknown>;
  /** Rounds waiting for a bidding slot in this manager (re-auctions leave room under the cap). */
  roundBacklog(): number;
  /** Tasks deleted past their retention: views of them kept in memory go too. */
  forgetTasks(taskIds: readonly string[]): void;
  /** Whether other managers' connections share the database (PostgreSQL only). */
  peersPresent(present: boolean): void;
}
