import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentRegistration } from '../protocol/agent.ts';
import { ManagerClient, ManagerError } from './manager-client.ts';

/** How long messages signed with a rotated-away token are still accepted (the signature's own window). */
const ROTATION_OVERLAP_MS = 5 * 60_000;

type Saved = { manager: string; agentId: string; token: string };

export type SessionOptions = {
  manager: string;
  tokenFile?: string;
  registrationKey?: string;
  reportAttempts?: number;
};

/**
 * The agent's standing with the manager: its id and token (kept in `tokenFile` across
 * restarts), the client that speaks for it, and the heartbeat that re-registers it when the
 * manager has forgotten it (a reset database).
 */
export class AgentSession {
  private heartbeat: NodeJS.Timeout | undefined;
  /** How often the manager asked to be sent heartbeats (absent from older managers). */
  heartbeatMs: number | undefined;

  private constructor(
    readonly manager: ManagerClient,
    private readonly profile: AgentRegistration,
    private readonly opts: SessionOptions,
    public id: string,
    public token: string,
  ) {}

  /** Registers (again, with the saved token if there is one) and saves the token. */
  static async open(profile: AgentRegistration, opts: SessionOptions): Promise<AgentSession> {
    const manager = new ManagerClient(opts.manager, { reportAttempts: opts.reportAttempts });
    const saved = opts.tokenFile ? await readSaved(opts.tokenFile, opts.manager) : undefined;
    manager.token = saved?.token;
    let registered: { id: string; token: string; heartbeatMs?: number };
    try {
      registered = await register(manager, profile, opts.registrationKey, saved?.token);
    } catch (err) {
      if (err instanceof ManagerError && err.code === 'name_taken') {
        throw new Error(
          `agent name "${profile.name}" is registered already and this agent has no token for it${opts.tokenFile ? ` in ${opts.tokenFile}` : ''}; use another name or the original token file`,
          { cause: err },
        );
      }
      throw err;
    }
    const session = new AgentSession(manager, profile, opts, registered.id, registered.token);
    session.heartbeatMs = registered.heartbeatMs;
    await session.save();
    return session;
  }

  /** Heartbeats every `everyMs` with the running count; re-registers when the manager answers 403/404. */
  startHeartbeat(everyMs: number, running: () => number) {
    this.heartbeat = setInterval(() => {
      this.manager.heartbeat(this.id, running()).catch(async (err) => {
        if (err instanceof ManagerError && (err.status === 403 || err.status === 404)) {
          await this.reregister().catch(() => {});
        }
      });
    }, everyMs);
    this.heartbeat.unref();
  }

  async close({ deregister }: { deregister: boolean }) {
    clearInterval(this.heartbeat);
    if (deregister) await this.manager.deregister(this.id).catch(() => {});
  }

  /** Tokens that signed recently (rotated away): still verify the manager's in-flight messages. */
  private previous: { token: string; until: number }[] = [];

  /** The tokens a message from the manager may be signed with: the current one first. */
  signingTokens(now = Date.now()): string[] {
    this.previous = this.previous.filter((p) => p.until > now);
    return [this.token, ...this.previous.map((p) => p.token)];
  }

  async rotateToken() {
    const { token } = await this.manager.rotateToken(this.id);
    this.previous.push({ token: this.token, until: Date.now() + ROTATION_OVERLAP_MS });
    this.token = token;
    this.manager.token = token;
    await this.save();
  }

  private async reregister() {
    const { id, token } = await register(this.manager, this.profile, this.opts.registrationKey, this.token);
    this.id = id;
    this.token = token;
    await this.save();
  }

  private async save() {
    const file = this.opts.tokenFile;
    if (!file) return;
    await mkdir(dirname(file), { recursive: true });
    const saved: Saved = { manager: this.opts.manager, agentId: this.id, token: this.token };
    await writeFile(file, JSON.stringify(saved, null, 2), { mode: 0o600 });
  }
}

/** One registration call; a re-registration with a known token gets no new one and keeps it. */
async function register(
  manager: ManagerClient,
  profile: AgentRegistration,
  registrationKey: string | undefined,
  knownToken: string | undefined,
) {
  const res = await manager.register(profile, registrationKey);
  const token = res.token ?? knownToken;
  if (!token) throw new Error('the manager registered this agent without giving it a token');
  manager.token = token;
  return { id: res.agent.id, token, heartbeatMs: res.heartbeatMs };
}

async function readSaved(file: string, managerUrl: string): Promise<Saved | undefined> {
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as Saved;
    return saved.manager === managerUrl ? saved : undefined;
  } catch {
    return undefined;
  }
}
