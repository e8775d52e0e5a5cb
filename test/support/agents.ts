import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type AgentSpec, defineAgent, type RunningAgent, type StartOptions } from '../../src/sdk/index.ts';

/** SDK agents started in a test, all stopped by `stopAll`. */
export class Fleet {
  readonly agents: RunningAgent[] = [];
  private readonly raws: RawAgent[] = [];

  constructor(private readonly managerUrl: string) {}

  async start<I, O>(spec: AgentSpec<I, O>, opts: Partial<StartOptions> = {}) {
    const agent = await defineAgent(spec).start({
      manager: this.managerUrl,
      heartbeatMs: 1000,
      reportAttempts: 3,
      // Many agents share a test process: no token files, no signal handlers, no chatter.
      tokenFile: false,
      handleSignals: false,
      log: () => {},
      ...opts,
    });
    this.agents.push(agent);
    return agent;
  }

  /** A hand-written agent server that answers however `handler` says; registered like any agent. */
  async raw(name: string, capability: string, handler: RawHandler) {
    const raw = await RawAgent.start(handler);
    const res = await fetch(`${this.managerUrl}/v1/agents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        endpoint: raw.url,
        capabilities: [{ name: capability }],
        maxConcurrency: 4,
      }),
    });
    const body = (await res.json()) as { agent: { id: string }; token: string };
    raw.id = body.agent.id;
    raw.token = body.token;
    this.raws.push(raw);
    return raw;
  }

  async stopAll() {
    await Promise.all(this.agents.map((a) => a.stop({ graceMs: 200, deregister: false }).catch(() => {})));
    await Promise.all(this.raws.map((r) => r.close()));
  }
}

export type RawRequest = { path: string; body: any; headers: IncomingMessage['headers'] };
export type RawHandler = (req: RawRequest, res: ServerResponse, socket: Socket) => void | Promise<void>;

/** A raw agent's handler that proposes `cost` to every cfp and then refuses the award it wins. */
export const refusesAward =
  (cost: number): RawHandler =>
  (req, res) =>
    json(
      res,
      req.path === '/cfp'
        ? { type: 'propose', cost, etaMs: 100 }
        : req.path === '/award'
          ? { type: 'refuse', reason: 'changed my mind' }
          : {},
    );

/** A plain node:http agent for misbehaviour the SDK would never produce. */
export class RawAgent {
  id = '';
  token = '';
  readonly requests: RawRequest[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static start(handler: RawHandler): Promise<RawAgent> {
    return new Promise((resolve) => {
      let agent: RawAgent;
      const server = createServer((req, res) => {
        let data = '';
        req.on('data', (d) => {
          data += d;
        });
        req.on('end', () => {
          let body: unknown = data;
          try {
            body = JSON.parse(data);
          } catch {}
          const r = { path: req.url ?? '', body, headers: req.headers };
          agent.requests.push(r);
          void handler(r, res, req.socket);
        });
      });
      server.on('connection', (s) => {
        agent?.sockets.add(s);
        s.on('close', () => agent?.sockets.delete(s));
      });
      server.listen(0, '127.0.0.1', () => {
        const port = (server.address() as AddressInfo).port;
        agent = new RawAgent(server, `http://127.0.0.1:${port}`);
        resolve(agent);
      });
    });
  }

  count(path: string) {
    return this.requests.filter((r) => r.path === path).length;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export const json = (res: ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** A simple bidder: fixed cost and eta; work doubles a number. */
export function fixedBidder(
  name: string,
  cost: number,
  etaMs: number,
  extra: Partial<AgentSpec<any, any>> = {},
): AgentSpec<any, any> {
  return {
    name,
    capabilities: ['math.double'],
    maxConcurrency: 8,
    bid: () => ({ type: 'propose', cost, etaMs }),
    execute: (input: { n: number }) => ({ doubled: input.n * 2, by: name }),
    ...extra,
  };
}
