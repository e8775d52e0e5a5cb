import { asc, eq, getTableColumns, gt, max, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client.ts';
import { events, tasks } from '../db/schema.ts';
import type { EventHub } from './event-hub.ts';

/** An event row as the feed hands it out: what the wire needs, plus the task's capability to filter on. */
export type FeedRow = {
  id: number;
  taskId: string | null;
  agentId: string | null;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
  capability: string | null;
  traceParent: string | null;
};

export type FeedSource = (afterId: number, limit: number) => Promise<FeedRow[]>;

const PAGE = 500;

/**
 * How long the feed waits at a gap in the event ids before asking whether it may pass it. Ids
 * come from one sequence but commit in any order: a transaction that took id 99 may commit after
 * the one that took 100. Reading past 99 at once would lose it for every stream. A gap that
 * stays this long is an id whose transaction rolled back, unless a transaction older than the
 * gap is still open (a commit slowed by load): then the feed goes on waiting, up to
 * `GAP_MAX_MS` (past that, the event is only in GET /v1/events).
 */
export const GAP_WAIT_MS = 1000;
export const GAP_MAX_MS = 30_000;

/**
 * How a gap was passed: `checked`, no transaction older than it was open (its id was rolled
 * back); `limit`, at GAP_MAX_MS with one still open (if it commits later, its event reaches
 * GET /v1/events but no stream).
 */
export type GapPass = 'checked' | 'limit';

/** Whether a transaction that began at least `ageMs` ago is still open: the gap may be its. */
export type OpenSince = (ageMs: number) => Promise<boolean>;

/**
 * The manager-wide event feed, read once for every stream: when events are notified, one query
 * fetches what is new and every subscriber gets the same rows (filtering them itself). With
 * hundreds of streams open, an event costs one query, not one per stream.
 */
export class EventFeed {
  private head: number | undefined;
  private readonly subscribers = new Set<(rows: FeedRow[]) => void>();
  private pulling: Promise<void> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  /** Statements this feed has run: what a test reads to see that streams share them. */
  fetches = 0;
  /**
   * The first missing id the feed is waiting at, since when, when it last asked about it, and
   * whether that answer lets it pass.
   */
  private gap:
    | { id: number; since: number; askedAt: number; mayPass: boolean; passedBy?: GapPass }
    | undefined;
  private gapTimer: NodeJS.Timeout | undefined;
  /** Gaps passed over, by how (metrics): `limit` means a stream may have missed an event. */
  readonly gapsPassed: Record<GapPass, number> = { checked: 0, limit: 0 };

  constructor(
    private readonly hub: EventHub,
    private readonly source: FeedSource,
    private readonly latestId: () => Promise<number>,
    private readonly gapWaitMs = GAP_WAIT_MS,
    private readonly openSince: OpenSince = async () => false,
    private readonly gapMaxMs = GAP_MAX_MS,
  ) {}

  /**
   * A gap past its wait: may it be passed? Not while a transaction older than it is open. Asked
   * once per wait, not at every pull: under load the notices that wake the feed come by the
   * hundred a second. Only this decides: a gap is never passed on the clock alone, since a timer
   * may fire a millisecond early and the read after it take longer.
   */
  private async checkGap(): Promise<void> {
    const gap = this.gap;
    if (!gap || gap.mayPass) return;
    const now = Date.now();
    const age = now - gap.since;
    if (age >= this.gapMaxMs) {
      gap.mayPass = true;
      gap.passedBy = 'limit';
      return;
    }
    if (age < this.gapWaitMs || now - gap.askedAt < this.gapWaitMs) return;
    gap.askedAt = now;
    gap.mayPass = !(await this.openSince(age).catch(() => false));
    if (gap.mayPass) gap.passedBy = 'checked';
  }

  /** How long the feed has waited at a missing id (0: at none): how far behind every stream is. */
  gapAgeMs(now = Date.now()): number {
    return this.gap && !this.gap.mayPass ? now - this.gap.since : 0;
  }

  /**
   * The rows after the head that can be handed out now: up to the first missing id, or through
   * it once `checkGap` has let it pass (then the wait starts again at the next one).
   */
  private contiguous(rows: FeedRow[]): FeedRow[] {
    let expected = this.head! + 1;
    let n = 0;
    for (const r of rows) {
      if (r.id !== expected) {
        if (this.gap?.id !== expected) {
          const now = Date.now();
          this.gap = { id: expected, since: now, askedAt: now, mayPass: false };
        }
        if (!this.gap.mayPass) {
          this.retryAfterGap();
          break;
        }
        this.gapsPassed[this.gap.passedBy ?? 'checked']++;
        this.gap = undefined;
      }
      expected = r.id + 1;
      n++;
    }
    if (n === rows.length) this.gap = undefined;
    return n === rows.length ? rows : rows.slice(0, n);
  }

  /** A notice may never come for a rolled-back id: look again once the wait is over. */
  private retryAfterGap(): void {
    if (this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.subscribers.size) this.pull();
    }, this.gapWaitMs);
    this.gapTimer.unref();
  }

  /**
   * Subscribes to every event after the feed's head, and says where the head was: the caller
   * catches up to it on its own (bounded) and then takes what the feed hands out.
   */
  async subscribe(fn: (rows: FeedRow[]) => void): Promise<{ head: number; off: () => void }> {
    this.subscribers.add(fn);
    if (!this.unsubscribe) this.unsubscribe = this.hub.onAny(() => this.pull());
    if (this.head === undefined) {
      const latest = await this.latestId();
      this.head ??= latest;
    }
    return {
      head: this.head,
      off: () => {
        this.subscribers.delete(fn);
        if (this.subscribers.size === 0 && this.unsubscribe) {
          this.unsubscribe();
          this.unsubscribe = undefined;
          // Nobody listens: the next subscriber starts from the database's latest id again.
          if (!this.pulling) this.head = undefined;
        }
      },
    };
  }

  /** Fetches what is new, once however many notices arrived meanwhile. */
  private pull(): void {
    if (this.pulling) {
      this.again = true;
      return;
    }
    // Started on the next microtask, so its `finally` can never run before `pulling` is set: a
    // pull that ended at once (no head yet, while the first stream still read it) used to clear
    // `pulling` first and be stored after, and every later notice found a pull "running" for good.
    this.pulling = (async () => {
      await undefined;
      try {
        do {
          this.again = false;
          if (this.head === undefined) return;
          let rows: FeedRow[];
          do {
            // Asked before the read: a transaction that ended before it is in what it reads.
            await this.checkGap();
            this.fetches++;
            const fetched = await this.source(this.head, PAGE);
            rows = this.contiguous(fetched);
            const last = rows.at(-1);
            if (last) this.head = last.id;
            if (rows.length) for (const s of this.subscribers) s(rows);
            // Stopped at a gap: the rest waits for the next notice or the gap's timer.
            if (rows.length < fetched.length) break;
          } while (rows.length === PAGE);
        } while (this.again);
      } catch {
        // The next notice tries again; a stream keeps its keep-alives meanwhile.
      } finally {
        this.pulling = undefined;
        if (this.subscribers.size === 0) {
          this.head = undefined;
          this.gap = undefined;
        }
      }
    })();
  }
}

/** The feed on the database: every event after an id, with its task's capability. */
export function eventFeedOn(hub: EventHub, db: Db): EventFeed {
  const source: FeedSource = (after, limit) =>
    db
      .select({ ...getTableColumns(events), capability: tasks.capability, traceParent: tasks.traceParent })
      .from(events)
      .leftJoin(tasks, eq(tasks.id, events.taskId))
      .where(gt(events.id, after))
      .orderBy(asc(events.id))
      .limit(limit);
  const latest = async () => {
    const [row] = await db.select({ id: max(events.id) }).from(events);
    return row?.id ?? 0;
  };
  // Any other client session of this database inside a transaction begun before the gap was seen
  // (not autovacuum's). PGlite has one session: a gap there is always a rollback.
  const openSince: OpenSince = async (ageMs) => {
    const [row] = await queryRows<{ open: boolean }>(
      db,
      sql`select exists (select 1 from pg_stat_activity where datname = current_database()
        and backend_type = 'client backend' and pid <> pg_backend_pid()
        and xact_start <= now() - ${ageMs} * interval '1 millisecond') as open`,
    );
    return !!row?.open;
  };
  return new EventFeed(hub, source, latest, GAP_WAIT_MS, openSince);
}
