import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startA2AAgent } from './support/a2a-agents.ts';
import { client, eventually } from './support/harness.ts';
import { freePort, startManagerProcess } from './support/processes.ts';
import { createTestDatabase, onPostgres } from './support/test-database.ts';

describe('a manager killed with SIGKILL while an A2A agent works', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is replaced by a manager that goes on following the A2A task: it ends once, sent once', async () => {
    const db = await createTestDatabase();
    const env: Record<string, string> = { ...db.env, PORT: String(await freePort()) };
    if (!onPostgres()) {
      const dir = mkdtempSync(join(tmpdir(), 'cnp-a2a-crash-'));
      dirs.push(dir);
      env.PGLITE_DATA_DIR = dir;
    }
    // The work takes longer than the kill and the restart; the award is due long after.
    const agent = await startA2AAgent({
      name: 'a2a-survivor',
      skills: ['a2a.long'],
      behaviour: 'complete',
      delayMs: 4000,
      work: (i) => ({ done: i }),
    });
    let manager = await startManagerProcess(env);
    try {
      const call = client(manager.url);
      const reg = await call('POST', '/v1/agents', {
        card: agent.card,
        offer: { default: { cost: 1, etaMs: 120_000 } },
      });
      expect(reg.status, JSON.stringify(reg.body)).toBe(201);
      const t = await call('POST', '/v1/tasks', { capability: 'a2a.long', input: { n: 42 } });
      // Killed once the agent has the task and the award is agreed (its A2A task id stored with it).
      await eventually(async () =>
        ((await call('GET', `/v1/tasks/${t.body.id}/events`)).body.items as { type: string }[]).some(
          (e) => e.type === 'award.agreed',
        ),
      );
      expect(agent.received).toHaveLength(1);
      manager.proc.child.kill('SIGKILL');
      await manager.proc.exited;
      manager = await startManagerProcess(env);
      // The new manager takes the watch over once the dead one's lease has run out.
      const ended = await eventually(
        async () => {
          const v = (await call('GET', `/v1/tasks/${t.body.id}`)).body;
          return ['completed', 'failed', 'cancelled'].includes(v.state) && v;
        },
        60_000,
        'the task to end',
      );
      expect(ended).toMatchObject({ state: 'completed', output: { done: { n: 42 } } });
      const events = (await call('GET', `/v1/tasks/${t.body.id}/events`)).body.items as { type: string }[];
      expect(events.filter((e) => e.type === 'task.completed')).toHaveLength(1);
      // Followed, not sent again.
      expect(agent.received).toHaveLength(1);
    } finally {
      manager.proc.child.kill('SIGTERM');
      await manager.proc.exited;
      await agent.stop();
      await db.drop();
    }
  }, 120_000);
});
