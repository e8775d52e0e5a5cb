import { createHash, createHmac, randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { settings } from '../db/schema.ts';

/**
 * An agent's token is derived from the manager secret, the agent id and a random key id, so the
 * database keeps only its hash and the key id while every manager sharing the secret can still
 * sign requests with it. A new key id (rotation) makes a new token and kills the old one; a
 * deregistered agent's hash is replaced, so its token matches nothing. Agents registered before
 * key ids existed have none (`kid` null) and keep the token derived from their id alone.
 */
export function deriveAgentToken(secret: string, agentId: string, kid: string | null): string {
  const mac = (what: string) => createHmac('sha256', secret).update(what).digest('base64url');
  return kid === null
    ? `cnp_${mac(`agent-token:${agentId}`)}`
    : `cnp_${kid}_${mac(`agent-token:${agentId}:${kid}`)}`;
}

/** A fresh key id: 128 random bits, hex (so it never holds the `_` that separates it). */
export const newTokenKid = (): string => randomBytes(16).toString('hex');

/** What a deregistered agent's token hash becomes: unique, and never the hash of any token. */
export const revokedHash = (agentId: string) => `revoked:${agentId}`;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * The manager secret: from configuration, or generated once and kept in the database so every
 * manager on it (and every restart) derives the same agent tokens.
 */
export async function loadManagerSecret(db: Db, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await db
    .insert(settings)
    .values({ key: 'manager_secret', value: randomBytes(32).toString('base64url') })
    .onConflictDoNothing();
  const [row] = await db.select().from(settings).where(eq(settings.key, sql`'manager_secret'`));
  return row!.value;
}
