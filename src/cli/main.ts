import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SAMPLE_AGENTS, sampleAgentSpec } from '../../agents/catalog.ts';
import { serveMcpOverStdio } from '../mcp/stdio.ts';
import type { Account, Agent, LedgerEntry, Task, TaskEvent } from '../protocol/index.ts';
import { isEnded } from '../protocol/states.ts';
import { defineAgent } from '../sdk/index.ts';
import { runServer } from '../server.ts';
import { apiClient, CliError } from './api-client.ts';
import { planPipeline, stageBody } from './pipeline.ts';
import { table } from './table.ts';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, error: 1, usage: 2, taskFailed: 3, stillRunning: 4 } as const;

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
};
const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};
const jsonArg = (v: string) => {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new InvalidArgumentError('expected JSON');
  }
};

function readJsonSource(path: string): Record<string, unknown> {
  const text = readFileSync(path === '-' ? 0 : path, 'utf8');
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`${path === '-' ? 'stdin' : path} is not valid JSON`, EXIT.usage);
  }
}

export function buildProgram() {
  /** Set by commands whose outcome is not just success (submit --wait). */
  let exitCode: number = EXIT.ok;
  const program = new Command('cnet')
    .description('Contract Net: a task marketplace where agents bid for work')
    .version('0.1.0')
    .addOption(
      new Option('-m, --manager <url>', 'manager URL').env('CNET_MANAGER').default('http://127.0.0.1:8080'),
    )
    .addOption(new Option('--api-key <key>', 'client API key').env('CNET_API_KEY'))
    .exitOverride()
    .showHelpAfterError(false);
  const api = () => {
    const o = program.opts<{ manager: string; apiKey?: string }>();
    return apiClient(o.manager, o.apiKey);
  };
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

  program
    .command('serve')
    .description('run the manager (configured by environment variables; see the README)')
    .action(async () => {
      await runServer();
      await new Promise(() => {}); // runs until a signal stops it
    });

  program
    .command('agent')
    .description(`run a sample agent: ${Object.keys(SAMPLE_AGENTS).join(', ')}`)
    .argument('<name>', 'which sample agent')
    .option('--as <name>', 'register under another name (to run several of one kind)')
    .option('--port <port>', 'port to listen on (default: any free one)', int, 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--public-url <url>', 'URL the manager should call')
    .option(
      '--token-file <path>',
      'where to keep the agent token across restarts (default: ~/.contract-net/agents/<name>@<manager>.json, or under $CNET_AGENT_HOME)',
    )
    .option('--registration-key <key>', "the manager's registration key")
    .option('--pull', 'also pull from the fallback work queue')
    .option('--fail-rate <p>', 'fail this share (0..1) of awarded tasks', num)
    .option('--hang', 'never answer (cfp or award)')
    .option('--garbage', 'bid, then answer every award with broken JSON')
    .action(async (name: string, o) => {
      const sample = SAMPLE_AGENTS[name];
      if (!sample)
        throw new CliError(
          `no sample agent "${name}"; choose one of: ${Object.keys(SAMPLE_AGENTS).join(', ')}`,
          EXIT.usage,
        );
      if (o.failRate !== undefined && (o.failRate < 0 || o.failRate > 1))
        throw new CliError('--fail-rate must be between 0 and 1', EXIT.usage);
      const spec = sampleAgentSpec(o.as ?? name, sample, {
        failRate: o.failRate,
        hang: o.hang,
        garbage: o.garbage,
      });
      const running = await defineAgent(spec).start({
        manager: program.opts().manager,
        port: o.port,
        host: o.host,
        publicUrl: o.publicUrl,
        // A restarted agent keeps its registration (id and token) instead of finding its name
        // taken; the SDK logs where it listens, and deregisters on SIGINT and SIGTERM.
        ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}),
        registrationKey: o.registrationKey,
        pull: o.pull || sample.pullOnly ? { leaseMs: 30_000, waitMs: 20_000 } : undefined,
        pullOnly: sample.pullOnly,
      });
      void running;
      await new Promise(() => {});
    });

  program
    .command('mcp')
    .description(
      'serve the market to an MCP client over stdio (desktop assistants, IDE agents), as a bridge to the manager',
    )
    .action(async () => {
      const o = program.opts<{ manager: string; apiKey?: string }>();
      await serveMcpOverStdio(o.manager, o.apiKey);
      await new Promise(() => {}); // until the client closes stdin
    });

  program
    .command('submit')
    .description('submit a task from flags, a JSON file or stdin (--file -)')
    .option('-c, --capability <name>', 'the capability the task needs')
    .option('-i, --input <json>', 'the task input, as JSON', jsonArg)
    .option('-f, --file <path>', 'a JSON file with the whole task ("-" for stdin)')
    .option('--budget <n>', 'most the client will pay', num)
    .option('--deadline <iso>', 'ISO 8601 time by which it must be done')
    .option('--priority <n>', 'higher goes first in the queue', int)
    .option('--bid-window <ms>', 'how long agents have to bid', int)
    .option('--max-attempts <n>', 'awards to try before failing', int)
    .option('--idempotency-key <key>', 'resubmitting with the same key returns the same task')
    .option('-w, --wait [ms]', 'wait for the result (default 60000 ms)', int)
    .option('--json', 'print the whole task as JSON')
    .action(async (o) => {
      const body: Record<string, unknown> = o.file ? readJsonSource(o.file) : {};
      if (o.capability) body.capability = o.capability;
      if (o.input !== undefined) body.input = o.input;
      body.input ??= {};
      if (!body.capability)
        throw new CliError('submit needs --capability (or a --file with one)', EXIT.usage);
      for (const [flag, field] of [
        ['budget', 'budget'],
        ['deadline', 'deadline'],
        ['priority', 'priority'],
        ['bidWindow', 'bidWindowMs'],
        ['maxAttempts', 'maxAttempts'],
      ] as const) {
        if (o[flag] !== undefined) body[field] = o[flag];
      }
      const call = api();
      const headers: Record<string, string> = o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {};
      let task = await call<Task>('POST', '/v1/tasks', body, headers);
      if (o.wait === undefined) {
        if (o.json) print(task);
        else console.log(task.id);
        return;
      }
      const until = Date.now() + (o.wait === true ? 60_000 : o.wait);
      while (!isEnded(task.state) && Date.now() < until) {
        const waitMs = Math.max(1, Math.min(60_000, until - Date.now()));
        task = await call<Task>('GET', `/v1/tasks/${task.id}?waitMs=${waitMs}`);
      }
      if (o.json) print(task);
      else if (task.state === 'completed') print(task.output);
      else
        console.error(
          `task ${task.id} ${task.state}${task.error ? `: ${task.error.code}: ${task.error.message}` : ''}`,
        );
      exitCode =
        task.state === 'completed' ? EXIT.ok : isEnded(task.state) ? EXIT.taskFailed : EXIT.stillRunning;
    });

  program
    .command('pipeline')
    .description('submit a pipeline: tasks that depend on each other, from a JSON file ("-" for stdin)')
    .argument('<file>', '{"tasks": [{"name", "capability", "input", "dependsOn": ["<stage name>"]}, ...]}')
    .option('-w, --wait [ms]', 'wait for every stage to end and print their outputs (default 60000 ms)', int)
    .action(async (file: string, o: { wait?: number | true }) => {
      const stages = planPipeline(readJsonSource(file));
      const call = api();
      const ids = new Map<string, string>();
      for (const s of stages) {
        const task = await call<Task>('POST', '/v1/tasks', stageBody(s, ids));
        ids.set(s.name, task.id);
        console.log(`${s.name}\t${task.id}\t${task.state}`);
      }
      if (o.wait === undefined) return;
      const until = Date.now() + (o.wait === true ? 60_000 : o.wait);
      const outputs: Record<string, unknown> = {};
      let failed = false;
      for (const s of stages) {
        let task = await call<Task>('GET', `/v1/tasks/${ids.get(s.name)}`);
        while (!isEnded(task.state) && Date.now() < until)
          task = await call<Task>(
            'GET',
            `/v1/tasks/${task.id}?waitMs=${Math.max(1, Math.min(60_000, until - Date.now()))}`,
          );
        outputs[s.name] = task.state === 'completed' ? task.output : { state: task.state, error: task.error };
        failed ||= task.state !== 'completed';
      }
      print(outputs);
      exitCode = failed ? EXIT.taskFailed : EXIT.ok;
    });

  program
    .command('tasks')
    .description('list tasks, newest first')
    .option('--state <state>', 'pending, bidding, awarded, queued, completed, failed or cancelled')
    .option('--capability <name>', 'only this capability')
    .option('--limit <n>', 'how many', int, 20)
    .option('--json', 'print JSON')
    .action(async (o) => {
      const q = new URLSearchParams({ limit: String(o.limit) });
      if (o.state) q.set('state', o.state);
      if (o.capability) q.set('capability', o.capability);
      const page = await api()<{ items: Task[] }>('GET', `/v1/tasks?${q}`);
      if (o.json) {
        print(page.items);
        return;
      }
      console.log(
        table(
          page.items.map((t) => ({
            id: t.id,
            capability: t.capability,
            state: t.state,
            attempts: t.attempts,
            agent: t.award?.agentId.slice(-12) ?? null,
            cost: t.award?.cost ?? null,
            created: t.createdAt.slice(0, 19),
          })),
        ),
      );
    });

  program
    .command('task')
    .description('one task and its audit trail')
    .argument('<id>', 'task id')
    .option('--json', 'print JSON')
    .action(async (id: string, o) => {
      const call = api();
      const task = await call<Task>('GET', `/v1/tasks/${id}`);
      const events = await call<{ items: TaskEvent[] }>('GET', `/v1/tasks/${id}/events`);
      if (o.json) {
        print({ task, events: events.items });
        return;
      }
      console.log(
        `${task.id}  ${task.capability}  ${task.state}  attempts ${task.attempts}/${task.maxAttempts}`,
      );
      if (task.output !== null) console.log(`output: ${JSON.stringify(task.output)}`);
      if (task.error) console.log(`error: ${task.error.code}: ${task.error.message}`);
      console.log(
        table(
          events.items.map((e) => ({
            at: e.createdAt.slice(11, 23),
            event: e.type,
            agent: e.agentId?.slice(-12) ?? null,
          })),
        ),
      );
    });

  program
    .command('agents')
    .description('registered agents with their stats')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const page = await api()<{ items: Agent[] }>('GET', '/v1/agents?limit=200');
      if (o.json) {
        print(page.items);
        return;
      }
      console.log(
        table(
          page.items.map((a) => ({
            name: a.name,
            status: a.status,
            circuit: a.circuit,
            capabilities: a.capabilities.map((c) => c.name).join(','),
            proposals: a.stats.proposals,
            awards: a.stats.awards,
            done: a.stats.completions,
            failed: a.stats.failures,
            reputation: a.stats.reputation,
          })),
        ),
      );
    });

  program
    .command('accounts')
    .description('your account and its statement (ACCOUNTS=true); with --all, every account (admin key)')
    .option('--all', 'every account, with an admin key')
    .option('--account <id>', "another account's statement, with an admin key")
    .option('--limit <n>', 'how many entries', int, 20)
    .option('--json', 'print JSON')
    .action(async (o) => {
      const call = api();
      if (o.all) {
        const page = await call<{ items: Account[] }>('GET', '/v1/accounts?limit=200');
        if (o.json) {
          print(page.items);
          return;
        }
        console.log(
          table(
            page.items.map(({ id, kind, balance, held, earned, refunded }) => ({
              id,
              kind,
              balance,
              held,
              earned,
              refunded,
            })),
          ),
        );
        return;
      }
      const base = o.account ? `/v1/accounts/${encodeURIComponent(o.account)}` : '/v1/accounts/me';
      const account = await call<Account>('GET', base);
      const entries = await call<{ items: LedgerEntry[] }>('GET', `${base}/entries?limit=${o.limit}`);
      if (o.json) {
        print({ account, entries: entries.items });
        return;
      }
      console.log(
        `${account.id} (${account.kind}): balance ${account.balance}, held ${account.held}, earned ${account.earned}, refunded ${account.refunded}` +
          (account.maxPerTask !== null ? `, at most ${account.maxPerTask} a task` : '') +
          (account.maxPerDay !== null ? `, ${account.heldToday} of ${account.maxPerDay} held today` : ''),
      );
      console.log(
        table(
          entries.items.map((e) => ({
            at: e.createdAt.slice(0, 19),
            kind: e.kind,
            amount: e.amount,
            counterparty: e.counterparty,
            task: e.taskId,
          })),
        ),
      );
    });

  program
    .command('watch')
    .description('stream task and agent events as they happen')
    .option('--capability <name>', 'only this capability')
    .option('--agent <id>', 'only this agent')
    .option('--json', 'print each event as JSON')
    .action(async (o) => {
      const { manager, apiKey } = program.opts<{ manager: string; apiKey?: string }>();
      const q = new URLSearchParams();
      if (o.capability) q.set('capability', o.capability);
      if (o.agent) q.set('agent', o.agent);
      q.set('after', String(await latestEventId(manager, apiKey)));
      const res = await fetch(`${manager}/v1/events?${q}`, {
        headers: { accept: 'text/event-stream', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      }).catch((err) => {
        throw new CliError(`cannot reach the manager at ${manager}: ${err.cause ?? err.message}`);
      });
      if (!res.ok || !res.body) throw new CliError(`${res.status}: ${await res.text()}`);
      let buf = '';
      for await (const chunk of res.body) {
        buf += new TextDecoder().decode(chunk as Uint8Array);
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const e = JSON.parse(data.slice(6)) as TaskEvent;
          if (o.json) console.log(JSON.stringify(e));
          else
            console.log(
              `${e.createdAt.slice(11, 23)}  ${e.type.padEnd(22)} task ${e.taskId ?? '-'}  agent ${e.agentId ?? '-'}${e.data.state ? `  -> ${e.data.state}` : ''}`,
            );
        }
      }
    });

  return { program, exitCode: () => exitCode };
}

async function latestEventId(manager: string, apiKey?: string): Promise<number> {
  // Start from now: page to the end of the feed.
  let after = 0;
  for (;;) {
    const res = await apiClient(manager, apiKey)<{ items: TaskEvent[] }>(
      'GET',
      `/v1/events?after=${after}&limit=1000`,
    );
    if (res.items.length === 0) return after;
    after = Number(res.items.at(-1)!.id);
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv = process.argv): Promise<number> {
  const { program, exitCode } = buildProgram();
  try {
    await program.parseAsync(argv);
    return exitCode();
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
        ? EXIT.ok
        : EXIT.usage;
    }
    if (err instanceof CliError) {
      console.error(`cnet: ${err.message}`);
      return err.exitCode;
    }
    console.error(`cnet: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.error;
  }
}
