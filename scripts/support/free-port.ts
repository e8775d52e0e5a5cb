import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port the kernel hands out as a client socket's source port (Linux; else its default). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * A loopback port free a moment ago, for a process started on it later (a manager that must come
 * back on the same port). Taken below the kernel's ephemeral range: a port from `listen(0)` is one
 * any client socket nearby may take as its source port before the process listens (EADDRINUSE,
 * seen in CI); below the range only a listener could, and our listeners all ask for port 0.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let i = 0; i < 200; i++) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between 10000 and ${low}`);
}
