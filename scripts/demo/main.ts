import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { compiledEntry, ensureBuilt } from '../../bin/compiled.js';
import { planPipeline, stageBody } from '../../src/cli/pipeline.ts';
import { table } from '../../src/cli/table.ts';
import type { Agent, Task, TaskEvent } from '../../src/protocol/index.ts';
import { freePort } from '../support/free-port.ts';
import { reconcileBooks } from './books.ts';
import { demoPipelines, demoWorkload } from './workload.ts';

/** The demo client's opening balance: more than its tasks' budgets, held at once, ever need. */
const DEMO_CREDIT = 10_000_000;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

const opts = new Command('demo')
  .description(
    'The whole marketplace in one command: a manager on PGlite, a fleet of sample agents, a batch of real tasks.',
  )
  .option(
    '--tasks <n>',
    'how many tasks to submit',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100_000)
        throw new InvalidArgumentError('expected a whole number from 1 to 100000');
      return n;
    },
    300,
  )
  .option(
    '--chaos',
    'add misbehaving agents: one fails half its awards, one hangs, one answers awards with garbage',
  )
  .option('--keep', 'leave the manager and agents running and print the URL')
  .option('--json', 'print the summary as JSON on stdout (progress goes to stderr)')
  .option('--seed <n>', 'workload seed', (v) => Number(v), 42)
  .parse()
  .opts<{ tasks: number; chaos?: boolean; keep?: boolean; json?: boolean; seed: number }>();

const out = opts.json ? process.stderr : process.stdout;
const say = (s: string) => out.write(`${s}\n`);
const children: ChildProcess[] = [];
const runDir = join(ROOT, '.data', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(runDir, { recursive: true });

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    say(`\n${sig}: stopping the fleet`);
    cleanup();
    process.exit(130);
  });
}

function spawnLogged(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  command = process.execPath,
) {
  const log = createWriteStream(join(runDir, `${name}.log`));
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  children.push(child);
  return child;
}

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

async function until<T>(
  what: string,
  ms: number,
  fn: () => Promise<T | null | undefined | false>,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; logs in ${runDir}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const KEEP_TASKS_PER_SECOND = 2;

/** The Python the demo's Python agent runs on: `$PYTHON`, else python3, if it is 3.10 or later. */
const PYTHON = process.env.PYTHON ?? 'python3';
const havePython = () =>
  spawnSync(PYTHON, ['-c', 'import sys; assert sys.version_info >= (3, 10)'], { stdio: 'ignore' }).status ===
  0;

/** With --keep: more of the same workload, a few tasks a second, until the demo is stopped. */
async function trickle(url: string, withPython: boolean): Promise<never> {
  for (let seed = opts.seed + 1; ; seed++) {
    for (const t of demoWorkload(50, seed, { python: withPython })) {
      await new Promise((r) => setTimeout(r, 1000 / KEEP_TASKS_PER_SECOND));
      await fetch(`${url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(t),
      }).then(
        (res) => res.body?.cancel(),
        () => undefined, // the manager is stopping: the signal handler ends the demo
      );
    }
  }
}

async function main() {
  const started = Date.now();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dbNote = process.env.DATABASE_URL
    ? 'PostgreSQL (DATABASE_URL)'
    : `PGlite in ${join(runDir, 'pglite')}`;
  say(`Contract Net demo: manager on ${dbNote}, ${opts.tasks} tasks${opts.chaos ? ', with chaos' : ''}`);
  ensureBuilt(say);
  const server = compiledEntry('src/server.ts');
  spawnLogged('manager', server ? [server] : ['--import', 'tsx', 'src/server.ts'], {
    PORT: String(port),
    PGLITE_DATA_DIR: join(runDir, 'pglite'),
    LOG_LEVEL: 'warn',
    REAUCTION_CAP_MS: '2000',
    BREAKER_HALF_OPEN_MS: '2000',
    DUE_GRACE_MS: '2000',
    // The market keeps books: each task's budget is held from the client's account and settled.
    ACCOUNTS: 'true',
  });
  await until('the manager', 30_000, async () => (await fetch(`${url}/readyz`)).ok);
  // Keys are off, so this client is `anonymous`, and may credit it as the operator.
  const credit = await fetch(`${url}/v1/accounts/anonymous/movements`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'credit', amount: DEMO_CREDIT, memo: 'the demo client' }),
  });
  if (credit.status !== 200) throw new Error(`could not credit the demo client: ${await credit.text()}`);

  const fleet: [string, string[]][] = [
    ['summarizer', []],
    ['summarizer-budget', []],
    ['calculator', []],
    ['calculator-cheap', []],
    ['statistician', []],
    ['hasher', []],
    ['queue-worker', []],
  ];
  if (opts.chaos) {
    fleet.push(['calculator', ['--as', 'calculator-flaky', '--fail-rate', '0.5']]);
    fleet.push(['summarizer', ['--as', 'summarizer-hung', '--hang']]);
    fleet.push(['hasher', ['--as', 'hasher-garbage', '--garbage']]);
  }
  for (const [kind, extra] of fleet) {
    const name = extra[0] === '--as' ? extra[1]! : kind;
    spawnLogged(`agent-${name}`, ['bin/cnet.js', '--manager', url, 'agent', kind, ...extra]);
  }
  // An agent built only with the official A2A SDK, which knows nothing of the contract net:
  // registered by its Agent Card, with the standing offer the manager bids for it.
  const a2aPort = await freePort();
  const a2aUrl = `http://127.0.0.1:${a2aPort}`;
  spawnLogged('agent-units-converter', [
    '--import',
    'tsx',
    'agents/a2a-converter.ts',
    '--port',
    String(a2aPort),
  ]);
  const card = await until('the A2A agent', 30_000, () =>
    get<Record<string, unknown>>(`${a2aUrl}/.well-known/agent-card.json`),
  );
  const registered = await fetch(`${url}/v1/agents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ card, offer: { default: { cost: 2, etaMs: 300 } } }),
  });
  if (registered.status !== 201) throw new Error(`the A2A agent was refused: ${await registered.text()}`);
  // An agent written with the Python SDK (packages/python), when there is a Python to run it.
  const python = havePython();
  if (python)
    spawnLogged(
      'agent-readability-py',
      ['examples/python/readability_agent.py', '--manager', url, '--no-token-file'],
      { PYTHONPATH: join(ROOT, 'packages', 'python', 'src'), PYTHONUNBUFFERED: '1' },
      PYTHON,
    );
  else say(`no Python 3.10+ at "${PYTHON}": the demo goes on without its Python agent (text.readability)`);
  const expected = fleet.length + 1 + (python ? 1 : 0);
  await until(
    'the agents to register',
    60_000,
    async () => (await get<{ items: Agent[] }>(`${url}/v1/agents?limit=200`)).items.length >= expected,
  );
  say(
    `manager ${url} and ${expected} agents up (one an A2A agent, spoken to in A2A${python ? '; one written in Python' : ''}) in ${((Date.now() - started) / 1000).toFixed(1)} s; submitting`,
  );
  say(`dashboard: ${url}/ (open it in a browser to watch the rounds live)`);

  const workload = demoWorkload(opts.tasks, opts.seed, { python });
  const ids: string[] = [];
  for (let i = 0; i < workload.length; i += 50) {
    const batch = await Promise.all(
      workload.slice(i, i + 50).map(async (t) => {
        const res = await fetch(`${url}/v1/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(t),
        });
        if (res.status !== 202) throw new Error(`submission refused: ${res.status} ${await res.text()}`);
        return ((await res.json()) as Task).id;
      }),
    );
    ids.push(...batch);
  }
  // A few pipelines among them: each stage is submitted with dependsOn the one before.
  const pipelines = demoPipelines(opts.tasks, opts.seed);
  for (const pipeline of pipelines) {
    const stageIds = new Map<string, string>();
    for (const stage of planPipeline(pipeline)) {
      const res = await fetch(`${url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(stageBody(stage, stageIds)),
      });
      if (res.status !== 202) throw new Error(`pipeline stage refused: ${res.status} ${await res.text()}`);
      const id = ((await res.json()) as Task).id;
      stageIds.set(stage.name, id);
      ids.push(id);
    }
  }
  say(`${workload.length} tasks and ${pipelines.length} three-stage pipelines submitted`);

  const tty = out.isTTY && !opts.json;
  let lastLine = 0;
  const mine = new Set(ids);
  /** Counts the states of this run's tasks only (the database may hold others). */
  const states = async () => {
    const count: Record<string, number> = {};
    let seen = 0;
    for (let cursor: string | null = null; seen < mine.size; ) {
      const page: { items: Task[]; nextCursor: string | null } = await get(
        `${url}/v1/tasks?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
      );
      for (const t of page.items) {
        if (!mine.has(t.id)) continue;
        seen++;
        count[t.state] = (count[t.state] ?? 0) + 1;
      }
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    return (state: string) => count[state] ?? 0;
  };
  const progress = async () => {
    const count = await states();
    const agents = (await get<{ items: Agent[] }>(`${url}/v1/agents?limit=200`)).items;
    const done = count('completed') + count('failed') + count('cancelled');
    const width = 30;
    const filled = Math.round((done / ids.length) * width);
    const line =
      `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${ids.length}  ` +
      `bidding ${count('bidding')}  awarded ${count('awarded')}  queued ${count('queued')}  ` +
      `completed ${count('completed')}  failed ${count('failed')}  circuits open ${agents.filter((a) => a.circuit !== 'closed').length}`;
    if (tty) out.write(`\r${line}`);
    else if (Date.now() - lastLine > 2000 || done === ids.length) {
      say(line);
      lastLine = Date.now();
    }
    return done;
  };
  await until('every task to end', 300_000, async () => (await progress()) >= ids.length);
  if (tty) out.write('\n');

  // The summary, from the manager's own records.
  const tasks = await Promise.all(ids.map((id) => get<Task>(`${url}/v1/tasks/${id}`)));
  const agents = (await get<{ items: Agent[] }>(`${url}/v1/agents?limit=200`)).items;
  const events: TaskEvent[] = [];
  for (let after = 0; ; ) {
    const page = await get<{ items: TaskEvent[] }>(`${url}/v1/events?after=${after}&limit=1000`);
    if (!page.items.length) break;
    events.push(...page.items);
    after = Number(page.items.at(-1)!.id);
  }
  const books = await reconcileBooks((path) => get(`${url}${path}`));
  const earned = new Map(books.accounts.map((a) => [a.id, a.balance]));
  const typeCount = (type: string) => events.filter((e) => e.type === type).length;
  const outcomes: Record<string, number> = {};
  for (const t of tasks) {
    const key = t.state === 'failed' ? `failed: ${t.error?.code}` : t.state;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  const summary = {
    tasks: ids.length,
    pipelines: pipelines.length,
    python,
    terminal: tasks.filter((t) => TERMINAL.has(t.state)).length,
    outcomes,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    rounds: typeCount('round.opened'),
    awardsMoved: typeCount('award.moved'),
    requeued: typeCount('task.queued'),
    servedFromQueue: typeCount('task.claimed'),
    circuitsOpened: typeCount('agent.circuit_opened'),
    agents: agents
      .map((a) => ({
        agent: a.name,
        bids: a.stats.proposals,
        wins: a.stats.awards,
        completions: a.stats.completions,
        failures: a.stats.failures,
        earned: earned.get(`agent:${a.id}`) ?? 0,
        reputation: Math.round(a.stats.reputation * 100) / 100,
        circuit: a.circuit,
      }))
      .sort((x, y) => x.agent.localeCompare(y.agent)),
    books: {
      accounts: books.accounts.length,
      clientSpent: DEMO_CREDIT - (books.client?.balance ?? 0),
      clientRefunded: books.client?.refunded ?? 0,
      reconciled: books.problems.length === 0,
      problems: books.problems,
    },
    manager: url,
    logs: runDir,
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    say('\nPer agent');
    say(table(summary.agents));
    say('\nPer outcome');
    say(table(Object.entries(outcomes).map(([outcome, n]) => ({ outcome, tasks: n }))));
    say(
      `\n${summary.terminal}/${summary.tasks} tasks ended in ${summary.seconds} s over ${summary.rounds} rounds; ` +
        `awards moved to the next-best bid ${summary.awardsMoved}x, tasks requeued ${summary.requeued}x, ` +
        `served from the fallback queue ${summary.servedFromQueue}, circuits opened ${summary.circuitsOpened}.`,
    );
    say(
      books.problems.length
        ? `\nThe books do not add up:\n  ${books.problems.join('\n  ')}`
        : `\nBooks: ${books.accounts.length} accounts reconciled. The client was credited ${DEMO_CREDIT}, paid ${summary.books.clientSpent} for its completed tasks and got ${summary.books.clientRefunded} back from their escrows; nothing is held; each agent holds what its awards paid, less its subtasks.`,
    );
    say(`Logs: ${runDir}`);
  }
  const ok = summary.terminal === summary.tasks && books.problems.length === 0;
  if (opts.keep) {
    say(`\n--keep: the market stays up. Dashboard: ${url}/ (or: node bin/cnet.js --manager ${url} agents).`);
    say(`A trickle of ${KEEP_TASKS_PER_SECOND} tasks a second keeps it moving; Ctrl-C stops everything.`);
    await trickle(url, python);
  }
  cleanup();
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : err}`);
  cleanup();
  process.exit(1);
});
