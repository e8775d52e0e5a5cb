import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep, startManager, type TestManager } from './support/harness.ts';
import { parsePrometheus, sampleValue } from './support/prometheus-text.ts';
import { openStream } from './support/sse.ts';
import { onPostgres } from './support/test-database.ts';

/**
 * An event whose transaction commits late, well after events with higher ids: the shared feed
 * must not pass its id while that transaction is still open (src/events/event-feed.ts). Only on
 * PostgreSQL: PGlite has one session, so no other transaction can hold an id open there.
 */
describe.skipIf(!onPostgres())('the /v1/events feed and a commit slowed past its gap wait', () => {
  let m: TestManager;
  let other: postgres.Sql;
  beforeAll(async () => {
    m = await startManager();
    other = postgres(m.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await other.end();
    await m.stop();
  });
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    sampleValue(parsePrometheus(await (await fetch(`${m.url}/metrics`)).text()), name, labels);

  it('hands out an event committed seconds after later ones, in id order', async () => {
    const stream = await openStream(`${m.url}/v1/events`);
    await eventually(() => stream.text.includes(': open'));

    // A transaction takes an event id and holds it open...
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const tx = other.begin(async (sql) => {
      await sql`insert into events (task_id, agent_id, type, data) values (null, null, 'test.held', '{}')`;
      await held;
    });
    await sleep(100);
    // ...while a task's events, with higher ids, commit and are notified at once.
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.here', input: {} });
    await sleep(2500); // more than twice the feed's gap wait
    // The wait shows on /metrics: how long the streams have been held at the missing id.
    expect(await metric('cnp_event_feed_gap_seconds')).toBeGreaterThan(2);
    release();
    await tx;
    await eventually(
      () => stream.text.includes('test.held') && stream.text.includes(task.id),
      10_000,
      'both events',
    );
    // Each message: its event type and id.
    const messages = stream.text
      .split('\n\n')
      .map((block) => ({
        id: Number(/^id: (\d+)$/m.exec(block)?.[1]),
        type: /^event: (.+)$/m.exec(block)?.[1],
      }))
      .filter((x) => x.type);
    const ids = messages.map((x) => x.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(messages[0]?.type).toBe('test.held');
    expect(messages.map((x) => x.type)).toContain('task.submitted');
    // Filled, not passed: nothing counted as gone past.
    expect(await metric('cnp_event_feed_gap_seconds')).toBe(0);
    expect(await metric('cnp_event_feed_gaps_passed_total', { how: 'checked' })).toBe(0);
    stream.close();
  });

  it('goes past an id whose transaction rolled back once no older transaction is open, and counts it', async () => {
    const stream = await openStream(`${m.url}/v1/events`);
    await eventually(() => stream.text.includes(': open'));
    await other
      .begin(async (sql) => {
        await sql`insert into events (task_id, agent_id, type, data) values (null, null, 'test.rolled_back', '{}')`;
        throw new Error('roll back');
      })
      .catch(() => {});
    const { body: task } = await m.call('POST', '/v1/tasks', { capability: 'nobody.here', input: {} });
    await eventually(() => stream.text.includes(task.id), 10_000, "the task's events past the gap");
    expect(stream.text).not.toContain('test.rolled_back');
    expect(await metric('cnp_event_feed_gaps_passed_total', { how: 'checked' })).toBe(1);
    expect(await metric('cnp_event_feed_gaps_passed_total', { how: 'limit' })).toBe(0);
    expect(await metric('cnp_event_feed_gap_seconds')).toBe(0);
    stream.close();
  });
});
