import { createServer } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { AgentClient } from './agent-client.ts';

/** A loopback port nothing listens on: every call is refused at once. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('AgentClient policies', () => {
  let client: AgentClient;
  let endpoint: string;
  beforeAll(async () => {
    client = new AgentClient({ ...loadConfig({}), BREAKER_THRESHOLD: 2 }, pino({ level: 'silent' }));
    endpoint = `http://127.0.0.1:${await closedPort()}`;
  });
  afterAll(() => client.close());

  const cancel = { type: 'cancel', conversationId: 't', awardId: 'a', reason: 'x' } as const;
  const award = (id: string) =>
    client
      .award({ id, endpoint, token: 'k' }, {
        type: 'accept-proposal',
        conversationId: 't',
        round: 1,
        awardId: 'a',
        dueAt: '',
        resultUrl: '',
      } as never)
      .catch(() => {});

  it('forgets idle agents with closed circuits, keeps open ones, and forgets a deregistered one', async () => {
    for (let i = 0; i < 20; i++)
      await client.notify({ id: `idle-${i}`, endpoint, token: 'k' }, '/cancel', cancel);
    for (let i = 0; i < 3; i++) await award('broken'); // its circuit opens
    expect(client.circuitOf('broken')).toBe('open');
    expect(client.policies.trackedAgents).toBe(21);
    client.policies.pruneIdle(Date.now() + 60_000);
    expect(client.policies.trackedAgents).toBe(21); // not idle long enough
    client.policies.pruneIdle(Date.now() + 11 * 60_000);
    expect(client.policies.trackedAgents).toBe(1);
    expect(client.circuitOf('broken')).toBe('open');
    client.forget('broken');
    expect(client.policies.trackedAgents).toBe(0);
  });
});
