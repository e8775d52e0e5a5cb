/** What became of an agreement held back: its holder's report took it, or it is due to be written. */
export type HoldOutcome = 'taken' | 'write';

/** An agreement taken by its holder's report: when its work would have been due, and how it ended. */
export type TakenAgreement = {
  dueAt: Date;
  /** `true`: the report's statement recorded the agreement; `false`: the holder must write it. */
  settle(recorded: boolean): void;
};

/** An agreement in the map: its timer runs until a report takes it or the hold ends. */
type Held = { dueAt: Date; timer: NodeJS.Timeout; resolve(outcome: HoldOutcome): void };

/**
 * Agreements this manager received and holds back for a moment before writing them. An agent
 * that agrees usually reports its result right after; the statement that records the result
 * then records the agreement too (one commit instead of two, and no lock wait between them).
 * If no report comes within `holdMs`, the agreement is written on its own, as it would have been.
 *
 * Holding loses nothing: while held, the award is `offered` in the database, and an offered
 * award's row is due no earlier than the agreed one would be (the offer's due includes the
 * award call's whole budget), so the sweeper cannot end it sooner. A manager that dies while
 * holding leaves an offered award, which the holder's report completes or the sweeper expires.
 * In-process only: a report that reaches another manager completes the award from `offered`
 * (as it always could), and the agreement written later finds it completed.
 */
export class HeldAgreements {
  private readonly held = new Map<string, Held>();

  constructor(private readonly holdMs: number) {}

  /**
   * Holds award `awardId`'s agreement (its work due at `dueAt`). Resolves `taken` once a report
   * recorded it, or `write` when the caller must write it now (hold over, or holding is off).
   */
  hold(awardId: string, dueAt: Date): Promise<HoldOutcome> {
    if (this.holdMs <= 0 || this.held.has(awardId)) return Promise.resolve('write');
    return new Promise((resolve) => {
      const entry: Held = {
        dueAt,
        resolve,
        timer: setTimeout(() => {
          this.held.delete(awardId);
          resolve('write');
        }, this.holdMs),
      };
      this.held.set(awardId, entry);
    });
  }

  /**
   * The held agreement of `awardId`, taken by its holder's report (null if none is held). The
   * hold's timer stops; the taker settles it once its statement has run.
   */
  take(awardId: string): TakenAgreement | null {
    const entry = this.held.get(awardId);
    if (!entry) return null;
    this.held.delete(awardId);
    clearTimeout(entry.timer);
    let settled = false;
    return {
      dueAt: entry.dueAt,
      settle: (recorded) => {
        if (settled) return;
        settled = true;
        entry.resolve(recorded ? 'taken' : 'write');
      },
    };
  }

  /** How many agreements are held now. */
  get size(): number {
    return this.held.size;
  }

  /** Writes every held agreement now (the manager is stopping). */
  releaseAll(): void {
    for (const entry of this.held.values()) {
      clearTimeout(entry.timer);
      entry.resolve('write');
    }
    this.held.clear();
  }
}
