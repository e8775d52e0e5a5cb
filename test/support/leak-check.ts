import { afterAll, beforeAll } from 'vitest';
import { eventually } from './eventually.ts';
import { databaseLeaks } from './test-database.ts';

/**
 * Fails a test file that leaves a database of its own behind, or connections to one open when it
 * was dropped (PostgreSQL), and a file that leaves a server listening (a manager, an agent, a proxy it started and
 * did not stop): a leak slows every later file in the worker and hides a missing stop. Counted
 * per file, against what listened when the file began, with 5 s for closes under way. Client
 * sockets are not counted: keep-alive connections close on their own timer, seconds later.
 */
const KINDS = ['TCPServerWrap', 'PipeServerWrap'];

const openNow = () => {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo())
    if (KINDS.includes(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
};

let before = new Map<string, number>();
beforeAll(() => {
  before = openNow();
});

afterAll(() => {
  const left = [...databaseLeaks.open, ...databaseLeaks.connected];
  databaseLeaks.open.clear();
  databaseLeaks.connected.length = 0;
  if (left.length) throw new Error(`this file left databases or connections open: ${left.join(', ')}`);
});

/** The servers opened since the file began, by kind (empty: none left). */
const leakedServers = () => {
  const now = openNow();
  return KINDS.filter((k) => (now.get(k) ?? 0) > (before.get(k) ?? 0)).map(
    (k) => `${(now.get(k) ?? 0) - (before.get(k) ?? 0)} ${k}`,
  );
};

afterAll(async () => {
  await eventually(() => leakedServers().length === 0, 5000).catch(() => {
    throw new Error(`this file left open: ${leakedServers().join(', ')} (stop what it started)`);
  });
});
