import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compiledEntry } from '../../bin/compiled.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every child a test starts; killed when the test worker exits, even after a timed-out test. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

export type Proc = {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
};

/**
 * Runs an entry point of this repo as one child process (no wrapper process, so signals reach
 * it) with the given environment: its compiled JavaScript when dist/ is fresh (the global setup
 * builds it), else the TypeScript source through the tsx loader.
 */
export function runTs(script: string, args: string[], env: Record<string, string>): Proc {
  const compiled = compiledEntry(script);
  const argv = compiled ? [compiled, ...args] : ['--import', 'tsx', script, ...args];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // SDK agents keep their tokens where the test run says, never in the user's home.
      ...(process.env.CNET_AGENT_HOME ? { CNET_AGENT_HOME: process.env.CNET_AGENT_HOME } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Resolves with the URL a manager process logs once it listens. */
export async function waitForListening(p: Proc, ms = 30_000): Promise<string> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const m = p.stdout().match(/manager listening on (http:\/\/\S+?)"/);
    if (m) return m[1]!;
    if (p.child.exitCode !== null) throw new Error(`manager exited ${p.child.exitCode}: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`manager did not start: ${p.stdout()} ${p.stderr()}`);
}

export { freePort } from '../../scripts/support/free-port.ts';

/** A manager as its own process (`src/server.ts`), as users run it. */
export async function startManagerProcess(env: Record<string, string>): Promise<{ url: string; proc: Proc }> {
  const proc = runTs('src/server.ts', [], { LOG_LEVEL: 'info', ...env });
  const url = await waitForListening(proc);
  return { url, proc };
}
