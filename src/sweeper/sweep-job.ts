/** Rows one sweep step takes at most per turn; a full batch leaves the rest to the next sweep. */
export const SWEEP_BATCH = 50;

/**
 * One kind of overdue work the sweeper looks for. The module that owns the work provides it and
 * owns its outcome (a failed task, a cancelled holder, a new round): the sweeper only schedules.
 */
export interface SweepJob {
  readonly name: string;
  /**
   * A SQL boolean (no parameters; a partial index probe at best) saying whether there is work
   * now: one statement asks every job's at once, so an idle sweep costs one. Absent: `ready`
   * alone decides.
   */
  readonly probe?: string;
  /** Whether it may run now, beside its probe (a job that runs at most once a second, say). */
  ready?(now: number): boolean;
  run(): Promise<void>;
}
