import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSignature, signBody, verifySignature } from './signature.ts';

/** The test vector of docs/PROTOCOL.md, read from the document itself so the two cannot drift. */
function vector() {
  const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(.+)$`, 'm').exec(doc);
    if (!m) throw new Error(`docs/PROTOCOL.md has no "${name}:" line in its test vector`);
    return m[1]!;
  };
  return { token: field('token'), t: Number(field('t')), body: field('body'), header: field('header') };
}

describe('the signature of docs/PROTOCOL.md', () => {
  it('is what the manager signs and what the SDK verifies', () => {
    const v = vector();
    // The manager's signer.
    expect(signBody(v.token, v.body, v.t)).toBe(v.header);
    // The SDK's verifier, at that instant and within five minutes of it.
    expect(verifySignature(v.token, v.body, v.header, v.t)).toMatchObject({ ok: true, t: v.t });
    expect(verifySignature(v.token, v.body, v.header, v.t + 299_000).ok).toBe(true);
    expect(verifySignature(v.token, v.body, v.header, v.t + 301_000)).toEqual({ ok: false, reason: 'stale' });
    // One byte of the body, or another token, and it does not verify.
    expect(verifySignature(v.token, `${v.body} `, v.header, v.t)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(`${v.token}x`, v.body, v.header, v.t)).toEqual({ ok: false, reason: 'mismatch' });
    // Only the exact header form parses.
    expect(parseSignature(v.header)).not.toBeNull();
    expect(parseSignature(v.header.replace(',', ', '))).toBeNull();
    expect(parseSignature(v.header.toUpperCase())).toBeNull();
  });
});
