import { createHash, createHmac, randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { settings } from '../db/schema.ts';

/**
 * An agent's token is derived from the manager secret and the agent id, so the database keeps
 * only its hash while every manager sharing the secret can still sign requests with it.
 */
export function deriveAgentToken(secret: string, agentId: string): string {
  return `cnp_${createHmac('sha256', secret).update(`agent-token:${agentId}`).digest('base64url')}`;
}

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
