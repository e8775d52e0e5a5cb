/**
 * npm run chaos: a bounded soak of the whole marketplace under faults. Managers run as real
 * processes on PostgreSQL (or one on PGlite); agents run as processes of their own, a share of
 * them faulty (scripts/chaos/agent-host.ts); clients submit and cancel tasks; the orchestrator
 * SIGKILLs managers and agents and brings them back. Then it checks in the database that every
 * task ended, none was awarded or completed twice, every award went to an agent offering the
 * capability and every audit trail is a path of the state machine; it prints the figures and
 * exits 1 on any violated invariant. It stops by itself (`--time-limit`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledEntry, ensureBuilt } from '../../bin/compiled.js';
import { requestText } from '../support/http-json.ts';
import { mulberry32 } from '../support/random.ts';
import { freePort, openChaosDatabase } from './chaos-db.ts';
import { checkInvariants, checkLedger, type Figures, gatherFigures, gatherMoney } from './invariants.ts';
import { chaosOptions } from './options.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const opts = chaosOptions();
const CLIENT_KEY = 'chaos-client-key';
const ABUSER_KEY = 'chaos-abuser-key';
const ADMIN_KEY = 'chaos-admin-key';
/** The honest clients can pay for every task; the abuser for some (the rest are 402: stored nothing). */
const CLIENT_CREDIT = 1_000_000_000;
const ABUSER_CREDIT = 2_000;

const random = mulberry32(opts.seed);
const started = Date.now();
const deadline = started + opts.timeLimit * 1000;
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1);
const say = (s: string) => console.log(`[${elapsed().padStart(6)} s] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runDir = join(ROOT, '.data', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(runDir, { recursive: true });

function node(script: string, args: string[], env: Record<string, string>): ChildProcess {
  const compiled = compiledEntry(script);
  const child = spawn(
    process.execPath,
    compiled ? [compiled, ...args] : ['--import', 'tsx', script, ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

const children = new Set<ChildProcess>();
// Whatever ends this process (the time limit, an error, ^C) ends the fleet with it.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

ensureBuilt(say);
const db = await openChaosDatabase(opts.db, runDir);

// ---- managers ---------------------------------------------------------------------------
type ManagerSlot = {
  url: string;
  port: number;
  proc: ChildProcess | null;
  up: boolean;
  /** The process this run itself killed: its exit is expected. */
  killed?: ChildProcess;
};
/** Manager exits this run did not cause (a crash): each is a failure of the run. */
const managerCrashes: string[] = [];
let running = true;
const managers: ManagerSlot[] = [];
for (let i = 0; i < opts.managers; i++) {
  const port = await freePort();
  managers.push({ url: `http://127.0.0.1:${port}`, port, proc: null, up: false });
}
async function startManager(m: ManagerSlot): Promise<void> {
  m.proc = node('src/server.ts', [], {
    PORT: String(m.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    MANAGER_SECRET: 'chaos-secret-chaos-secret-chaos-secret-0123',
    REAUCTION_CAP_MS: '2000',
    BREAKER_HALF_OPEN_MS: '2000',
    RESTART_GRACE_MS: '3000',
    ...(process.env.CHAOS_MANAGER_ENV
      ? Object.fromEntries(process.env.CHAOS_MANAGER_ENV.split(',').map((kv) => kv.split('=')))
      : {}),
    ROUND_LEASE_MS: '2000',
    // Two client keys: the honest clients' and, beside them, an abusive one's.
    API_KEYS: `${CLIENT_KEY},${ABUSER_KEY}`,
    ...(opts.accounts ? { ACCOUNTS: 'true', ADMIN_KEYS: ADMIN_KEY } : {}),
    ...db.managerEnv,
  });
  const proc = m.proc;
  // Keep the last of its error output: a crash says why.
  let errorTail = '';
  proc.stderr?.on('data', (d: Buffer) => {
    errorTail = (errorTail + d.toString()).slice(-2000);
  });
  proc.stdout?.on('data', () => {});
  proc.on('exit', (code, signal) => {
    if (m.killed === proc || !running || m.proc !== proc) return;
    m.up = false;
    managerCrashes.push(
      `${m.url} exited (${signal ?? code}): ${errorTail.trim().split('\n').slice(-3).join(' | ')}`,
    );
    say(`manager ${m.url} exited on its own (${signal ?? code}); bringing it back`);
    // As a supervisor would; the run still fails for it.
    setTimeout(() => running && startManager(m).catch(() => {}), 300);
  });
  for (;;) {
    try {
      const r = await fetch(`${m.url}/readyz`);
      if (r.ok) break;
    } catch {}
    if (m.proc.exitCode !== null) throw new Error(`manager on ${m.url} exited with ${m.proc.exitCode}`);
    await sleep(100);
  }
  m.up = true;
}
await Promise.all(managers.map(startManager));
say(`${managers.length} manager(s) up on ${db.describe}`);

// ---- agents -----------------------------------------------------------------------------
const faults = new Map<string, number>();
let agentRestarts = 0;
type AgentSlot = {
  name: string;
  faulty: boolean;
  abusive?: boolean;
  capabilities: string[];
  proc: ChildProcess | null;
  ready: boolean;
};
const faultyCount = Math.round(opts.agents * opts.faulty);
const agents: AgentSlot[] = Array.from({ length: opts.agents }, (_, i) => ({
  name: `chaos-${i}`,
  faulty: i < faultyCount,
  // Every capability is offered by several agents; chaos.rare only by the last two (one healthy).
  capabilities:
    i >= opts.agents - 2
      ? ['chaos.a', 'chaos.b', 'chaos.rare']
      : i % 2
        ? ['chaos.a']
        : ['chaos.a', 'chaos.b'],
  proc: null,
  ready: false,
}));
// Beside them an abusive agent: offers chaos.a and holds every round it is invited to until its
// window ends (a deferred bid it never sends), or declines the message as too large.
if (opts.abuse)
  agents.push({
    name: 'chaos-abusive',
    faulty: false,
    abusive: true,
    capabilities: ['chaos.a', 'chaos.defer'],
    proc: null,
    ready: false,
  });
function startAgent(a: AgentSlot): void {
  a.ready = false;
  const proc = node(
    'scripts/chaos/agent-host.ts',
    [
      '--manager',
      managers.map((m) => m.url).join(','),
      '--name',
      a.name,
      '--capabilities',
      a.capabilities.join(','),
      '--fault-rate',
      String(a.faulty ? opts.faultRate : 0),
      '--seed',
      String(opts.seed),
      '--state',
      join(runDir, `${a.name}.json`),
      ...(a.abusive ? ['--abusive'] : []),
    ],
    {},
  );
  a.proc = proc;
  let buf = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const msg = JSON.parse(line) as { fault?: string; ready?: boolean };
        if (msg.fault) faults.set(msg.fault, (faults.get(msg.fault) ?? 0) + 1);
        if (msg.ready) a.ready = true;
      } catch {}
    }
  });
  proc.stderr?.on('data', () => {});
  proc.on('exit', () => {
    if (a.proc !== proc || !running) return;
    // Killed (by itself or by us): come back, as a supervisor would bring it back.
    agentRestarts++;
    setTimeout(() => running && startAgent(a), 300);
  });
}
agents.forEach(startAgent);
while (!agents.every((a) => a.ready)) {
  if (Date.now() > deadline) throw new Error('agents did not register in time');
  await sleep(100);
}
say(`${agents.length} agents registered, ${faultyCount} of them faulty (fault rate ${opts.faultRate})`);

// ---- clients ----------------------------------------------------------------------------
const pool = new http.Agent({ keepAlive: true, maxSockets: opts.clients * 2 });
const call = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) =>
  requestText(pool, method, url, body, { authorization: `Bearer ${CLIENT_KEY}`, ...headers });
if (opts.accounts) {
  // The admin credits both client keys' accounts before anyone submits.
  const base = managers[0]!.url;
  for (const [key, amount] of [
    [CLIENT_KEY, CLIENT_CREDIT],
    [ABUSER_KEY, ABUSER_CREDIT],
  ] as const) {
    const me = await call('GET', `${base}/v1/accounts/me`, undefined, { authorization: `Bearer ${key}` });
    const { id } = JSON.parse(me.text) as { id: string };
    const r = await call(
      'POST',
      `${base}/v1/accounts/${id}/movements`,
      { kind: 'credit', amount, memo: 'chaos run' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    if (r.status !== 200) throw new Error(`could not credit ${id}: ${r.status} ${r.text}`);
  }
  say(`accounts on: clients credited ${CLIENT_CREDIT} and ${ABUSER_CREDIT} (the abuser)`);
}

const upManager = () => {
  const up = managers.filter((m) => m.up);
  return up.length ? up[Math.floor(random() * up.length)] : undefined;
};

/**
 * Tasks by state, from a manager's /metrics (the run's database is the managers' while they run);
 * null when unknown. A scrape during a database cut answers an error or no task samples at all:
 * that is not "no task left" (taken for it, the run once stopped waiting with 108 unfinished).
 */
async function states(): Promise<Record<string, number> | null> {
  const m = upManager();
  if (!m) return null;
  try {
    const r = await call('GET', `${m.url}/metrics`);
    if (r.status !== 200) return null;
    const out: Record<string, number> = {};
    for (const match of r.text.matchAll(/^cnp_tasks\{state="(\w+)"\} (\d+)/gm))
      out[match[1] as string] = Number(match[2]);
    return Object.keys(out).length ? out : null;
  } catch {
    return null;
  }
}
async function unfinished(): Promise<number> {
  const s = await states();
  if (!s) return Number.POSITIVE_INFINITY;
  return Object.entries(s)
    .filter(([k]) => !['completed', 'failed', 'cancelled'].includes(k))
    .reduce((a, [, n]) => a + n, 0);
}

let submitted = 0;
let cancelled = 0;
let next = 0;
/** One submission, retried (same Idempotency-Key) until a manager takes it: no task is lost in transit. */
async function submitOne(n: number): Promise<void> {
  const roll = random();
  const capability = roll < 0.1 ? 'chaos.rare' : roll < 0.55 ? 'chaos.b' : 'chaos.a';
  const body = {
    capability,
    input: { n },
    bidWindowMs: 400 + Math.floor(random() * 400),
    maxAttempts: 4,
    // Above every chaos agent's price (1-10): with accounts on, held from the client's account.
    budget: 10 + Math.floor(random() * 20),
    ...(random() < 0.1 ? { deadline: new Date(Date.now() + 5_000 + random() * 20_000).toISOString() } : {}),
  };
  const key = `chaos-${opts.seed}-${n}`;
  while (Date.now() < deadline) {
    const m = upManager();
    if (!m) {
      await sleep(100);
      continue;
    }
    try {
      const r = await call('POST', `${m.url}/v1/tasks`, body, { 'idempotency-key': key });
      if (r.status === 202 || r.status === 200) {
        submitted++;
        // A few clients change their mind.
        if (random() < 0.03) {
          const id = (JSON.parse(r.text) as { id: string }).id;
          setTimeout(() => {
            const c = upManager();
            if (c)
              call('POST', `${c.url}/v1/tasks/${id}/cancel`).then(
                (x) => x.status === 200 && cancelled++,
                () => {},
              );
          }, random() * 2000);
        }
        return;
      }
      // Backpressure (the manager's round queue is full, or a rate limit): wait and submit again.
      if (r.status === 429) {
        await sleep(500);
        continue;
      }
      if (r.status < 500) throw new Error(`submission refused: ${r.status} ${r.text.slice(0, 200)}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('submission refused')) throw err;
    }
    await sleep(100);
  }
}

// ---- the run ----------------------------------------------------------------------------
const killAt = (count: number) =>
  Array.from({ length: count }, (_, i) => Math.round(((i + 1) / (count + 1)) * opts.tasks)).sort(
    (a, b) => a - b,
  );
const managerKills = killAt(opts.managerKills);
const agentKills = killAt(opts.agentKills);
const dbDrops = killAt(opts.db === 'postgres' ? opts.dbDrops : 0);
let managerKillsDone = 0;
let agentKillsDone = 0;
let dbDropsDone = 0;

async function chaosMonkey(): Promise<void> {
  while (running && Date.now() < deadline) {
    if (managerKillsDone < managerKills.length && submitted >= (managerKills[managerKillsDone] ?? Infinity)) {
      const m = managers[managerKillsDone % managers.length] as ManagerSlot;
      managerKillsDone++;
      m.up = false;
      if (m.proc) m.killed = m.proc;
      m.proc?.kill('SIGKILL');
      say(`SIGKILL manager ${m.url} (${managerKillsDone}/${managerKills.length})`);
      await sleep(500 + random() * 1000);
      await startManager(m);
      say(`manager ${m.url} back`);
    }
    if (agentKillsDone < agentKills.length && submitted >= (agentKills[agentKillsDone] ?? Infinity)) {
      const a = agents[Math.floor(random() * agents.length)] as AgentSlot;
      agentKillsDone++;
      a.proc?.kill('SIGKILL');
      say(`SIGKILL agent ${a.name} (${agentKillsDone}/${agentKills.length})`);
    }
    if (dbDropsDone < dbDrops.length && submitted >= (dbDrops[dbDropsDone] ?? Infinity)) {
      dbDropsDone++;
      const cut = await db.dropConnections();
      say(`cut all ${cut} connections to the database (${dbDropsDone}/${dbDrops.length})`);
    }
    await sleep(50);
  }
}
const monkey = chaosMonkey();

// ---- the abusive client -------------------------------------------------------------------
const abuse = { requests: 0, refused: 0, stored: 0 };
let abusing = opts.abuse;
/**
 * One client key doing what the abuse audit found, as fast as the managers answer: tasks at
 * priority 1000 with ten-minute bid windows for the deferring agent, tasks for a capability no
 * one offers, large inputs cancelled at once, long-polls held. Each of its tasks has a deadline,
 * so every one of them ends too.
 */
async function abusiveClient(kind: number): Promise<void> {
  const as = { authorization: `Bearer ${ABUSER_KEY}` };
  const ids: string[] = [];
  for (let i = 0; abusing && Date.now() < deadline; i++) {
    const m = upManager();
    if (!m) {
      await sleep(100);
      continue;
    }
    const deadlineAt = new Date(Date.now() + 10_000 + random() * 10_000).toISOString();
    abuse.requests++;
    try {
      const r =
        kind === 3 && ids.length
          ? await call('GET', `${m.url}/v1/tasks/${ids[i % ids.length]}?waitMs=20000`, undefined, as)
          : await call(
              'POST',
              `${m.url}/v1/tasks`,
              kind === 0
                ? {
                    capability: 'chaos.defer',
                    input: { i },
                    bidWindowMs: 600_000,
                    priority: 1000,
                    budget: 5,
                    deadline: deadlineAt,
                  }
                : kind === 1
                  ? {
                      capability: 'chaos.nobody',
                      input: { i },
                      priority: 1000,
                      budget: 5,
                      deadline: deadlineAt,
                    }
                  : {
                      capability: 'chaos.nobody',
                      input: { big: 'x'.repeat(200_000) },
                      priority: 1000,
                      budget: 5,
                      deadline: deadlineAt,
                    },
              as,
            );
      if (r.status === 429) {
        abuse.refused++;
        await sleep(200);
      } else if (r.status === 202) {
        abuse.stored++;
        const id = (JSON.parse(r.text) as { id: string }).id;
        if (kind === 2) await call('POST', `${m.url}/v1/tasks/${id}/cancel`, undefined, as);
        else ids.push(id);
      }
    } catch {
      await sleep(100);
    }
  }
}
const abusers = opts.abuse ? [0, 0, 1, 2, 3, 3].map((k) => abusiveClient(k)) : [];

let lastReport = Date.now();
await Promise.all(
  Array.from({ length: opts.clients }, async () => {
    while (next < opts.tasks && Date.now() < deadline) {
      await submitOne(next++);
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        say(`${submitted}/${opts.tasks} submitted; ${JSON.stringify(await states())}`);
      }
    }
  }),
);
abusing = false;
await Promise.all(abusers);
say(`${submitted} tasks submitted; waiting for every task to end`);
while (Date.now() < deadline && (managerKillsDone < managerKills.length || (await unfinished()) > 0)) {
  if (Date.now() - lastReport > 5000) {
    lastReport = Date.now();
    say(`waiting: ${JSON.stringify(await states())}`);
  }
  await sleep(500);
}
running = false;
await monkey;

// ---- stop, then check in the database -----------------------------------------------------
for (const a of agents) a.proc?.kill('SIGTERM');
await Promise.all(
  managers.map(
    (m) =>
      new Promise<void>((resolve) => {
        if (!m.proc || m.proc.exitCode !== null) return resolve();
        m.proc.once('exit', () => resolve());
        m.proc.kill('SIGTERM');
        setTimeout(() => m.proc?.kill('SIGKILL'), 15_000);
      }),
  ),
);
pool.destroy();

const violations = await checkInvariants(db);
if (opts.accounts) violations.push(...(await checkLedger(db)));
const figures: Figures = await gatherFigures(db);
const money = opts.accounts ? await gatherMoney(db) : null;
violations.push({
  name: 'no manager exited on its own',
  count: managerCrashes.length,
  examples: managerCrashes.slice(0, 3),
});

await db.close();

const seconds = (Date.now() - started) / 1000;
console.log('\n## chaos run');
console.log(`command: npm run chaos -- ${process.argv.slice(2).join(' ')}`.trimEnd());
console.log(
  `db ${opts.db}, ${opts.managers} manager(s), ${opts.agents} agents (${faultyCount} faulty, fault rate ${opts.faultRate})${opts.abuse ? ' and 1 abusive, beside an abusive client' : ''}, seed ${opts.seed}, ${seconds.toFixed(0)} s`,
);
console.log('\n| figure | value |\n| --- | --- |');
const row = (k: string, v: unknown) => console.log(`| ${k} | ${v} |`);
row('tasks submitted (accepted by a manager)', `${submitted}/${opts.tasks}`);
row('tasks by final state', JSON.stringify(figures.byState));
row('failed tasks by reason', JSON.stringify(figures.failedBy));
row('cancelled by clients', cancelled);
if (opts.abuse) {
  row(
    'the abusive client: requests, answered 429, tasks stored',
    `${abuse.requests}, ${abuse.refused}, ${abuse.stored}`,
  );
  row('honest tasks by final state', JSON.stringify(figures.honestByState));
}
row('faults injected by kind', JSON.stringify(Object.fromEntries([...faults].sort())));
row(
  'faults injected in all',
  [...faults.values()].reduce((a, b) => a + b, 0),
);
row('manager SIGKILLs', `${managerKillsDone}`);
row('agent restarts (SIGKILLed by us or themselves)', agentRestarts);
row('database connection drops (every connection cut)', dbDropsDone);
row('manager exits the run did not cause', managerCrashes.length);
row('circuits opened', figures.circuitsOpened);
row('awards by status', JSON.stringify(figures.awardsBy));
row('bids by outcome', JSON.stringify(figures.bidsBy));
row('round takeovers', figures.takeovers);
if (money) row('money moved by kind (units)', JSON.stringify(money));
row('time to terminal p50 / p99 / max ms', `${figures.p50} / ${figures.p99} / ${figures.max}`);
console.log('\n| invariant | violations |\n| --- | --- |');
for (const v of violations)
  console.log(`| ${v.name} | ${v.count}${v.examples.length ? ` (e.g. ${v.examples.join('; ')})` : ''} |`);
const broken = violations.filter((v) => v.count > 0);
const lost = submitted < opts.tasks;
if (lost) console.log(`\nnot every task was submitted before the time limit (${submitted}/${opts.tasks})`);
console.log(broken.length ? `\nFAILED: ${broken.map((v) => v.name).join(', ')}` : '\nevery invariant holds');
console.log(`logs and data: ${runDir}`);
process.exit(broken.length || lost ? 1 : 0);
