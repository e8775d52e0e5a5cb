import type { AcceptProposal } from '../protocol/messages.ts';
import type { WorkContext } from './agent-spec.ts';

export type WorkResult = { type: 'inform-result'; output: unknown } | { type: 'failure'; reason: string };

type Job<Input> = {
  award: AcceptProposal;
  /** The task input, already validated. */
  input: Input;
  controller: AbortController;
  /** `reporting`: the work is done and its slot free; the result is still on its way. */
  state: 'waiting' | 'running' | 'reporting' | 'done';
};

/** How long a finished award id is remembered, so a retried award is still recognised. */
const REMEMBER_MS = 10 * 60_000;

/**
 * The agent's bounded work pool: awarded jobs wait for one of `capacity` slots, run, and hand
 * their result to `report`. A slot is freed when the work ends, not when the manager has taken
 * the result: a manager slow to take results must not hold the next jobs past their dueAt.
 */
export class WorkPool<Input, Output> {
  private readonly jobs = new Map<string, Job<Input>>();
  private readonly waiting: Job<Input>[] = [];
  private running = 0;
  /** Finished jobs whose result report is still being sent (with retries). */
  private reporting = 0;
  /** Woken when the pool has nothing left to run or report. */
  private readonly idle = new Set<() => void>();
  /** Woken whenever a slot is freed. */
  private readonly slot = new Set<() => void>();

  constructor(
    readonly capacity: number,
    private readonly execute: (input: Input, ctx: WorkContext) => Output | Promise<Output>,
    private readonly report: (award: AcceptProposal, result: WorkResult) => Promise<unknown>,
    /** What a job's context may do beyond its signal and task (subcontract). */
    private readonly subcontractor: (
      award: AcceptProposal,
      signal: AbortSignal,
    ) => WorkContext['subcontract'] = () => () => Promise.reject(new Error('this agent cannot subcontract')),
  ) {}

  load() {
    return { running: this.running, queued: this.waiting.length };
  }

  /** Slots neither running nor promised to a waiting job. */
  room() {
    return this.capacity - this.running - this.waiting.length;
  }

  busy() {
    return this.running > 0 || this.waiting.length > 0 || this.reporting > 0;
  }

  has(awardId: string) {
    return this.jobs.has(awardId);
  }

  /** Queues a job; it runs when a slot is free and its result goes to `report`. */
  enqueue(award: AcceptProposal, input: Input) {
    this.waiting.push(this.newJob(award, input));
    this.pump();
  }

  /**
   * Runs a job at once if a slot is free and returns its output if it finishes within `withinMs`
   * (the award's answer then carries the result); otherwise it reports like any other job.
   * `undefined`: no free slot, nothing started.
   */
  async runInline(award: AcceptProposal, input: Input, withinMs: number) {
    if (this.running >= this.capacity) return undefined;
    const job = this.newJob(award, input);
    const work = this.start(job);
    let timer: NodeJS.Timeout | undefined;
    const quick = await Promise.race([
      work.then(
        (output) => ({ output }),
        (err: unknown) => ({ err }),
      ),
      new Promise<null>((r) => {
        timer = setTimeout(() => r(null), withinMs);
      }),
    ]);
    clearTimeout(timer);
    if (quick && 'output' in quick) {
      this.finish(job);
      return { done: true as const, output: quick.output };
    }
    this.settle(job, work);
    return { done: false as const };
  }

  /** Aborts a job's work (the manager cancelled its award); a waiting job never starts. */
  cancel(awardId: string) {
    const job = this.jobs.get(awardId);
    if (!job || job.state === 'done') return;
    job.controller.abort(new Error('cancelled by the manager'));
    if (job.state === 'waiting') {
      this.waiting.splice(this.waiting.indexOf(job), 1);
      job.state = 'done';
      this.notifyIdle();
    }
  }

  /** Resolves when a slot frees, the pool goes idle, or `signal` aborts. */
  whenRoom(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.idle.delete(wake);
        this.slot.delete(wake);
        resolve();
      };
      this.idle.add(wake);
      this.slot.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  /** Waits for all work and reports to end; after `graceMs` aborts whatever still runs. */
  async drain(graceMs: number) {
    if (!this.busy()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const j of this.jobs.values()) j.controller.abort(new Error('agent shutting down'));
        resolve();
      }, graceMs);
      this.idle.add(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private newJob(award: AcceptProposal, input: Input): Job<Input> {
    const job: Job<Input> = { award, input, controller: new AbortController(), state: 'waiting' };
    this.jobs.set(award.awardId, job);
    return job;
  }

  private pump() {
    for (let job = this.nextRunnable(); job; job = this.nextRunnable()) this.settle(job, this.start(job));
  }

  private nextRunnable(): Job<Input> | undefined {
    return this.running < this.capacity ? this.waiting.shift() : undefined;
  }

  /** Takes a slot and runs the work. */
  private start(job: Job<Input>): Promise<Output> {
    this.running++;
    job.state = 'running';
    const { award } = job;
    return Promise.resolve().then(() =>
      this.execute(job.input, {
        signal: job.controller.signal,
        task: award.task,
        awardId: award.awardId,
        cost: award.cost ?? null,
        subcontract: this.subcontractor(award, job.controller.signal),
      }),
    );
  }

  private settle(job: Job<Input>, work: Promise<Output>) {
    void work.then(
      (output) => this.deliver(job, { type: 'inform-result', output: output ?? null }),
      (err: unknown) => this.deliver(job, { type: 'failure', reason: errorText(err) }),
    );
  }

  private async deliver(job: Job<Input>, result: WorkResult) {
    this.release(job);
    try {
      // A cancelled award's result would only be refused as stale.
      if (!job.controller.signal.aborted) await this.report(job.award, result);
    } catch {
      // 409 stale_award and the like: the manager moved on; nothing more to do.
    } finally {
      this.finish(job);
    }
  }

  /** The work is over: frees its slot for the next job while the result is reported. */
  private release(job: Job<Input>) {
    if (job.state !== 'running') return;
    this.running--;
    this.reporting++;
    job.state = 'reporting';
    this.pump();
    for (const f of this.slot) f();
  }

  private finish(job: Job<Input>) {
    this.release(job);
    if (job.state === 'reporting') this.reporting--;
    job.state = 'done';
    setTimeout(() => this.jobs.delete(job.award.awardId), REMEMBER_MS).unref();
    this.notifyIdle();
  }

  private notifyIdle() {
    if (!this.busy()) for (const f of this.idle) f();
  }
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 2000) || 'failed';
}
