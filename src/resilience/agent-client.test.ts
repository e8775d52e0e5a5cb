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

describe('AgentClient.notifyEach', () => {
  it("sends a round's losers one message under one deadline: an agent that hangs is cut off there, the others are told", async () => {
    const { createServer: createHttpServer } = await import('node:http');
    const bodies: string[] = [];
    let hungUpOn = false;
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        if (req.url === '/hang/reject') {
          res.on('close', () => (hungUpOn = true)); // the manager ended the call
          return;
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const client = new AgentClient(
      { ...loadConfig({ OUTBOUND_LOOPBACK: 'allow' }), NOTIFY_TIMEOUT_MS: 200 },
      pino({ level: 'silent' }),
    );
    try {
      const told = await client.notifyEach(
        [
          { id: 'a', endpoint: `${base}/a`, token: 'k' },
          { id: 'hang', endpoint: `${base}/hang`, token: 'k' },
          { id: 'b', endpoint: `${base}/b`, token: 'k' },
        ],
        { type: 'reject-proposal', conversationId: 't', round: 1, reason: 'another_bid_accepted' },
      );
      expect(told).toEqual([true, false, true]);
      await expect.poll(() => hungUpOn).toBe(true);
      expect(bodies).toHaveLength(3);
      expect(new Set(bodies).size).toBe(1);
      expect(JSON.parse(bodies[0]!)).toMatchObject({
        type: 'reject-proposal',
        reason: 'another_bid_accepted',
      });
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
