import { createHash, getHashes } from 'node:crypto';
import { z } from 'zod';

const ALGORITHMS = ['sha256', 'sha512', 'sha1', 'md5', 'sha3-256', 'blake2b512'] as const;

export const HashInput = z
  .object({
    text: z.string().max(10_000_000),
    algorithm: z.enum(ALGORITHMS).default('sha256'),
    encoding: z.enum(['hex', 'base64']).default('hex'),
  })
  // An example the manager's card and the dashboard's form show.
  .meta({ examples: [{ text: 'hello', algorithm: 'sha256' }] });
export type HashInput = z.infer<typeof HashInput>;

/** The digest of a UTF-8 text with one of the algorithms this Node build offers. */
export function hashText(input: HashInput): { algorithm: string; digest: string; bytes: number } {
  if (!getHashes().includes(input.algorithm)) throw new Error(`this runtime has no ${input.algorithm}`);
  const digest = createHash(input.algorithm).update(input.text, 'utf8').digest(input.encoding);
  return { algorithm: input.algorithm, digest, bytes: Buffer.byteLength(input.text, 'utf8') };
}
