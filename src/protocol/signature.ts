import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header every manager-to-agent request carries. */
export const SIGNATURE_HEADER = 'x-cnp-signature';

/** How far a signature's timestamp may be from the receiver's clock. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

/** `t=<unix ms>,v1=<hex HMAC-SHA256 over "<t>.<raw body>">` keyed by the agent's token. */
export function signBody(secret: string, body: string, now = Date.now()): string {
  const mac = createHmac('sha256', secret).update(`${now}.${body}`).digest('hex');
  return `t=${now},v1=${mac}`;
}

export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

/** Verifies a signature header over the raw body; rejects stale or replayed-late timestamps. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined | null,
  now = Date.now(),
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isSafeInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1))
    return { ok: false, reason: 'malformed' };
  if (Math.abs(now - t) > SIGNATURE_TOLERANCE_MS) return { ok: false, reason: 'stale' };
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex')) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
