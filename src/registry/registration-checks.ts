import { sql } from 'drizzle-orm';
import { compileSchema } from '../capabilities/json-schema.ts';
import type { Tx } from '../db/client.ts';
import { agents } from '../db/schema.ts';
import { AppError } from '../errors/app-error.ts';
import type { Capability } from '../protocol/agent.ts';
import type { OutboundGuard } from '../resilience/outbound-guard.ts';
import { sameSecret } from '../security/same-secret.ts';
import type { AgentRow } from './agent-view.ts';
import { NAME_RELEASE_TTLS } from './liveness.ts';

/** What a registration must pass before anything is stored: each refusal names what to fix. */
export const nameTaken = (name: string) =>
  new AppError(
    409,
    'name_taken',
    `an agent named "${name}" is already registered; send its token as "Authorization: Bearer <token>" to update it, or pick another name`,
  );

/** 422 naming each capability schema that does not compile (json-schema.ts says why). */
export function checkSchemas(capabilities: readonly Capability[]): void {
  const details: { field: string; message: string }[] = [];
  for (const [i, c] of capabilities.entries())
    for (const key of ['inputSchema', 'outputSchema'] as const) {
      const schema = c[key];
      if (!schema) continue;
      const compiled = compileSchema(schema);
      if (!compiled.ok) details.push({ field: `capabilities.${i}.${key}`, message: compiled.message });
    }
  if (details.length)
    throw new AppError(422, 'invalid_request', 'a capability schema cannot be used', details);
}

/** An inactive agent silent for NAME_RELEASE_TTLS × AGENT_TTL_MS: its name may be taken. */
export function releasable(row: AgentRow, ttl: number | undefined): boolean {
  return (
    ttl !== undefined &&
    row.status === 'inactive' &&
    Date.now() - row.lastSeenAt.getTime() >= NAME_RELEASE_TTLS * ttl
  );
}

/** A new agent only while fewer than MAX_AGENTS are registered and not deregistered. */
export async function checkRoom(tx: Tx, max: number | undefined): Promise<void> {
  if (max === undefined) return;
  const [row] = await tx
    .select({ n: sql<number>`count(*)` })
    .from(sql`(select 1 from ${agents} where ${agents.status} <> 'deregistered' limit ${max}) x`);
  if (Number(row?.n ?? 0) >= max)
    throw new AppError(
      429,
      'too_many_agents',
      `${max} agents are registered already, the most this manager takes (MAX_AGENTS); deregister one first`,
      undefined,
      { retryAfterS: 60 },
    );
}

export function checkRegistrationKey(
  c: { bearer?: string; registrationKey?: string },
  key: string | undefined,
): void {
  if (!key) return;
  const given = c.registrationKey ?? c.bearer;
  if (!given) {
    throw new AppError(
      401,
      'unauthorized',
      'registration needs the registration key: send "Authorization: Bearer <key>"',
    );
  }
  if (!sameSecret(given, key)) throw new AppError(403, 'forbidden', 'the registration key is wrong');
}

export async function checkEndpoint(
  endpoint: string,
  hosts: string[] | undefined,
  guard: OutboundGuard | undefined,
): Promise<void> {
  const host = new URL(endpoint).hostname.toLowerCase();
  if (hosts?.length && !hosts.includes(host)) {
    throw new AppError(422, 'invalid_request', 'endpoint host is not allowed', [
      { field: 'endpoint', message: `host must be one of: ${hosts.join(', ')}` },
    ]);
  }
  const refused = await guard?.check(endpoint);
  if (refused) {
    throw new AppError(422, 'invalid_request', 'the manager will not call this endpoint', [
      { field: 'endpoint', message: refused },
    ]);
  }
}
