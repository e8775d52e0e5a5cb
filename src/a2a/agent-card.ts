import { z } from 'zod';
import type { ErrorDetail } from '../errors/app-error.ts';
import { AgentRegistration, StandingOffer } from '../protocol/agent.ts';

/**
 * An A2A Agent Card as an agent registers with it (https://a2a-protocol.org, v1.0 with
 * `supportedInterfaces`, or v0.3 with a top-level `url`). Only what registration needs is
 * checked here; the rest of the card is kept as sent and shown with the agent.
 */
export const A2AAgentCard = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    url: z.string().optional(),
    supportedInterfaces: z
      .array(z.object({ url: z.string(), protocolBinding: z.string().optional() }).loose())
      .optional(),
    skills: z.array(
      z
        .object({
          id: z.string(),
          name: z.string().optional(),
          description: z.string().optional(),
          tags: z.array(z.string()).optional(),
        })
        .loose(),
    ),
  })
  .loose();
export type A2AAgentCard = z.infer<typeof A2AAgentCard>;

/**
 * An A2A registration: a bare card (`skills` at the top), or `{"card": {...}, "offer": {...}}`
 * with the standing offer the manager bids for it; null when the body is a profile.
 */
export function cardRegistration(
  body: unknown,
): { ok: true; card: unknown; offer: StandingOffer } | { ok: false; details: ErrorDetail[] } | null {
  if (isAgentCard(body)) return { ok: true, card: body, offer: StandingOffer.parse({}) };
  if (typeof body !== 'object' || body === null || !('card' in body)) return null;
  const { card, offer, ...rest } = body as { card: unknown; offer?: unknown };
  const extra = Object.keys(rest);
  if (extra.length)
    return {
      ok: false,
      details: extra.map((k) => ({ field: k, message: 'not a field of an A2A registration (card, offer)' })),
    };
  if (!isAgentCard(card))
    return { ok: false, details: [{ field: 'card', message: 'must be an A2A Agent Card (with skills)' }] };
  const parsed = StandingOffer.safeParse(offer ?? {});
  if (!parsed.success)
    return {
      ok: false,
      details: parsed.error.issues.map((i) => ({
        field: ['offer', ...i.path.map(String)].join('.'),
        message: i.message,
      })),
    };
  return { ok: true, card, offer: parsed.data };
}

/**
 * A registration body is a card when it has `skills` (PROTOCOL.md); a profile has a list of
 * `capabilities` (a card's `capabilities` is an object: streaming, push notifications).
 */
export const isAgentCard = (body: unknown): boolean =>
  typeof body === 'object' &&
  body !== null &&
  'skills' in body &&
  !Array.isArray((body as { capabilities?: unknown }).capabilities);

/** Where a card says it is reached: its JSON-RPC interface, else its first one, else `url` (v0.3). */
export function cardEndpoint(card: A2AAgentCard): string | undefined {
  const ifaces = card.supportedInterfaces ?? [];
  return (ifaces.find((i) => i.protocolBinding === 'JSONRPC') ?? ifaces[0])?.url ?? card.url;
}

/** Names a registration field by the card field it came from, so a 422 points at the card. */
export function cardField(path: readonly PropertyKey[], card: A2AAgentCard): string {
  const [head, i, leaf] = path;
  if (head === 'capabilities' && typeof i === 'number')
    return `skills.${i}.${leaf === 'name' ? 'id' : String(leaf ?? '')}`.replace(/\.$/, '');
  if (head === 'endpoint') return card.supportedInterfaces?.length ? 'supportedInterfaces.0.url' : 'url';
  return path.map(String).join('.') || 'body';
}

/**
 * The registration an A2A card stands for: its skills become capabilities (`id` the name), its
 * URL the endpoint, its name and description the agent's. Field errors name the card's fields.
 */
export function registrationFromCard(
  body: unknown,
): { ok: true; registration: AgentRegistration; card: A2AAgentCard } | { ok: false; details: ErrorDetail[] } {
  const card = A2AAgentCard.safeParse(body);
  if (!card.success)
    return {
      ok: false,
      details: card.error.issues.map((i) => ({
        field: i.path.map(String).join('.') || 'body',
        message: i.message,
      })),
    };
  const c = card.data;
  const registration = AgentRegistration.safeParse({
    name: c.name,
    endpoint: cardEndpoint(c),
    capabilities: c.skills.map((s) => ({
      name: s.id,
      ...((s.description ?? s.name) ? { description: (s.description ?? s.name)!.slice(0, 1000) } : {}),
      ...(s.tags?.length ? { tags: s.tags.slice(0, 32).map((t) => t.slice(0, 64)) } : {}),
    })),
    ...(c.description ? { description: c.description.slice(0, 2000) } : {}),
  });
  if (!registration.success)
    return {
      ok: false,
      details: registration.error.issues.map((i) => ({ field: cardField(i.path, c), message: i.message })),
    };
  return { ok: true, registration: registration.data, card: c };
}
