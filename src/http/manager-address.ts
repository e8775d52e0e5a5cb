import type { Config } from '../config.ts';

/**
 * Where this manager is reached: PUBLIC_URL (for agents, in `resultUrl`), and its own loopback
 * URL (its card's probes of itself). With PORT=0 the port is known only once the server has bound
 * it; the server says so (`bound`) before the manager starts any work that sends the URL out.
 */
export class ManagerAddress {
  private port: number;

  constructor(private readonly config: Pick<Config, 'HOST' | 'PORT' | 'PUBLIC_URL'>) {
    this.port = config.PORT;
  }

  bound(port: number): void {
    this.port = port;
  }

  publicUrl(): string {
    return this.config.PUBLIC_URL ?? `http://${this.config.HOST}:${this.port}`;
  }

  selfUrl(): string {
    const host = ['0.0.0.0', '::', ''].includes(this.config.HOST) ? '127.0.0.1' : this.config.HOST;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }
}
