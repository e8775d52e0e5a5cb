import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header every manager-to-agent request carries. */
export const SIGNATURE_HEADER = 'x-cnp-signature';

/** How far a signature's timestamp may be from the receiver's clock. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

/** `t=<unix ms>,v1=<hex HMAC-SHA256 over "<t>.<raw body>">` keyed by the agent's token. */
export function signBody(secret: string, body: string, now = Date.now()): string {
  const mac = createHmac('sha256', secret).update(`${now}.`).update(body).digest('hex');
  return `t=${now},v1=${mac}`;
}

export type SignatureCheck =
  | { ok: true; t: number; mac: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

/**
 * The header's two fields, in exactly the form signBody writes: `t=<digits>,v1=<64 hex>`, nothing
 * around, between or after them. A lenient parser let one signature be written many ways
 * (spaces, order, extra fields), each new to a replay guard that remembered header text.
 */
const HEADER = /^t=([1-9]\d{0,15}),v1=([0-9a-f]{64})$/;

export function parseSignature(header: string | undefined | null): { t: number; mac: string } | null {
  const m = header ? HEADER.exec(header) : null;
  if (!m) return null;
  const t = Number(m[1]);
  return Number.isSafeInteger(t) ? { t, mac: m[2] as string } : null;
}

/** Verifies a signature header over the raw body; rejects malformed headers and stale timestamps. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined | null,
  now = Date.now(),
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const sig = parseSignature(header);
  if (!sig) return { ok: false, reason: 'malformed' };
  if (Math.abs(now - sig.t) > SIGNATURE_TOLERANCE_MS) return { ok: false, reason: 'stale' };
  const expected = createHmac('sha256', secret).update(`${sig.t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(sig.mac, 'hex'))
    ? { ok: true, ...sig }
    : { ok: false, reason: 'mismatch' };
}
