import type { Logger } from 'pino';
import type { Database, Db } from '../db/client.ts';
import type { Task } from '../protocol/task.ts';
import type { EventHub } from './event-hub.ts';
import { EVENTS_CHANNEL, type EventNotice, openNotices } from './event-log.ts';

/** Where the hot statements hand the events they wrote, once they have committed. */
export interface EventSink {
  /** `view`: the task a notice ended, as its writer has it (it rides with that notice, locally). */
  published(notices: unknown, view?: Task): void;
}

/** What one batched notification carries: whose it is, and its events. */
export type NoticeBatch = { origin: string; notices: EventNotice[] };

/** NOTIFY payloads are capped at 8000 bytes; stay well under. */
const MAX_PAYLOAD = 7000;

const NOTIFY_SQL = `select pg_notify($1, p) from unnest($2::text[]) p`;

/**
 * The one way events are published: those of the hot statements (their `notices` column) and
 * those `recordEvent` wrote in a transaction, once it has committed: to this manager's listeners
 * at once, and to the other managers in one NOTIFY per `batchMs`, shared by every round that
 * committed meanwhile. A NOTIFY inside each statement would cost every listening manager a
 * transaction per statement to read it; batched, a burst of rounds costs one. If this manager
 * dies between a commit and the flush, the others miss those notices, not the events: streams
 * catch up from the table on their next wake-up and long-polls read the task when they time out.
 */
export class EventPublisher implements EventSink {
  private pending: EventNotice[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Whether other managers share the database; unknown counts as yes. */
  private peers = true;
  private lastPeerNotice = 0;

  constructor(
    private readonly database: Database,
    private readonly hub: EventHub,
    private readonly origin: string,
    private readonly batchMs: number,
    private readonly logger: Logger,
  ) {
    // PGlite is embedded: no other manager can open its database, so nobody needs a NOTIFY.
    if (database.driver === 'pglite') this.peers = false;
    hub.onPeerNotice(() => {
      this.lastPeerNotice = Date.now();
      this.peers = true;
    });
    // Every transaction gathers the notices of the events it records; they go out once it commits.
    const db = database.db as { transaction: Db['transaction'] };
    const transaction = db.transaction.bind(db);
    db.transaction = (async (fn, config) => {
      let notices: EventNotice[] = [];
      const result = await transaction((tx) => {
        notices = openNotices(tx);
        return fn(tx);
      }, config);
      this.published(notices);
      return result;
    }) as Db['transaction'];
  }

  /**
   * What the sweeper's probe saw in pg_stat_activity. Alone, this manager skips the NOTIFY (its
   * own listeners already have every event). A probe that raced a newcomer's hello is ignored.
   */
  peersPresent(present: boolean): void {
    if (this.database.driver === 'pglite') return;
    if (!present && Date.now() - this.lastPeerNotice < 5000) return;
    this.peers = present;
  }

  /** Tells the managers already running that this one is here (they start notifying it). */
  async hello(): Promise<void> {
    if (this.database.driver === 'pglite') return;
    await this.database.query(NOTIFY_SQL, [EVENTS_CHANNEL, pgTextArray(payloadsOf(this.origin, []))]);
  }

  published(notices: unknown, view?: Task): void {
    const list = noticesOf(notices);
    if (!list.length) return;
    if (view) {
      const ending = list.find((n) => n.taskId === view.id && n.state === view.state);
      if (ending) ending.view = view;
    }
    for (const n of list) this.hub.deliver(n);
    this.pending.push(...list);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, this.batchMs);
  }

  /** Sends what is pending now (on shutdown). */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.flush());
    await this.flushing;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (!batch.length || !this.peers) return;
    try {
      await this.database.query(NOTIFY_SQL, [EVENTS_CHANNEL, pgTextArray(payloadsOf(this.origin, batch))]);
    } catch (err) {
      this.logger.warn({ err, events: batch.length }, 'could not notify the other managers');
    }
  }
}

/** The batches' JSON payloads, each under the NOTIFY size cap. */
export function payloadsOf(origin: string, notices: EventNotice[]): string[] {
  const payloads: string[] = [];
  let chunk: string[] = [];
  let size = 0;
  const head = JSON.stringify({ origin, notices: [] }).length;
  for (const n of notices) {
    const { view: _local, ...wire } = n;
    const text = JSON.stringify(wire);
    if (chunk.length && head + size + text.length + 1 > MAX_PAYLOAD) {
      payloads.push(`{"origin":${JSON.stringify(origin)},"notices":[${chunk.join(',')}]}`);
      chunk = [];
      size = 0;
    }
    chunk.push(text);
    size += text.length + 1;
  }
  if (chunk.length || !payloads.length)
    payloads.push(`{"origin":${JSON.stringify(origin)},"notices":[${chunk.join(',')}]}`);
  return payloads;
}

/** The `notices` column of a hot statement (json, parsed or not), as notices without nulls. */
function noticesOf(value: unknown): EventNotice[] {
  const raw = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (!Array.isArray(raw)) return [];
  return raw.map((n: Record<string, unknown>) => {
    const notice: EventNotice = {
      id: Number(n.id),
      taskId: (n.taskId as string | null) ?? null,
      agentId: (n.agentId as string | null) ?? null,
      type: String(n.type),
    };
    if (typeof n.capability === 'string') notice.capability = n.capability;
    if (typeof n.state === 'string') notice.state = n.state;
    if (n.view) notice.view = n.view as Task;
    return notice;
  });
}

/** A PostgreSQL text[] literal. */
function pgTextArray(items: string[]): string {
  return `{${items.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}
