import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

export { freePort } from '../../scripts/support/free-port.ts';

export type Child = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

/**
 * Runs a file of this repo in its own node process: TypeScript through the tsx loader, or
 * JavaScript (the compiled manager in dist/, as deployed) as it is.
 */
export function spawnTs(
  script: string,
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Child {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...loader, script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  void exited.then(() => children.delete(child));
  return { child, output: () => out, exited };
}

/** Resolves with the first stdout line that parses as JSON with `ready: true`. */
export async function waitReady<T>(c: Child, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    for (const line of c.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const v = JSON.parse(line) as T & { ready?: boolean };
        if (v.ready) return v;
      } catch {}
    }
    if (c.child.exitCode !== null) throw new Error(`child exited: ${c.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`child not ready after ${timeoutMs} ms: ${c.output()}`);
}

/** Resident set size of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Stops a child with SIGTERM (so a CPU profile is written), SIGKILL after `ms`. */
export async function stopChild(c: Child, ms = 15_000): Promise<void> {
  if (c.child.exitCode !== null) return;
  c.child.kill('SIGTERM');
  const t = setTimeout(() => c.child.kill('SIGKILL'), ms);
  await c.exited;
  clearTimeout(t);
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); 0 if it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** CPU used by a set of processes between two readings: `const stop = cpuMeter(pids); ...; stop()`. */
export function cpuMeter(pids: () => number[]): () => number {
  const start = new Map(pids().map((p) => [p, cpuMs(p)]));
  return () => pids().reduce((sum, p) => sum + cpuMs(p) - (start.get(p) ?? 0), 0);
}

/** Jiffies of the whole machine so far, all cores: [busy, total] (Linux /proc/stat). */
function machineJiffies(): [number, number] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal (guest is counted inside user)
  const [, user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return [total - idle - iowait, total];
}

/**
 * How busy all cores were between two readings, 0..1: whether a run was bound by the machine's
 * CPU (near 1) or by something else, such as one saturated thread (near 1 / cores).
 */
export function machineBusyMeter(): () => number {
  const [busy0, total0] = machineJiffies();
  return () => {
    const [busy, total] = machineJiffies();
    return total > total0 ? (busy - busy0) / (total - total0) : 0;
  };
}
