import dns, { type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent as Dispatcher } from 'undici';
import { allowList, type OutboundPolicy, refusal } from './outbound-policy.ts';

/** A call the outbound policy does not allow (never sent). */
export class OutboundRefusedError extends Error {
  override name = 'OutboundRefusedError';
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * Applies the outbound policy where it counts: after DNS resolution, at connect time (a name
 * that resolved to a public address at registration may resolve to 127.0.0.1 later: DNS
 * rebinding). Names go through `lookup`, which drops refused addresses; IP literals, which
 * net.connect does not look up, are checked by `refuseLiteral` before the request.
 */
export class OutboundGuard {
  constructor(readonly policy: OutboundPolicy = { allowLoopback: true, allow: allowList([]) }) {}

  /** For undici's connector (net.connect's `lookup` option). */
  readonly lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const allowed = list.filter((a) => refusal(a.address, this.policy) === null);
      if (!allowed.length) {
        const why = refusal(list[0]?.address ?? hostname, this.policy) ?? 'no address';
        return callback(
          Object.assign(new OutboundRefusedError(`${hostname}: ${why}`), { code: 'EREFUSED_POLICY' }),
          [],
        );
      }
      if (options.all) return callback(null, allowed);
      const first = allowed[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };

  /** A keep-alive dispatcher whose every connection passes the policy. */
  dispatcher(opts: ConstructorParameters<typeof Dispatcher>[0] = {}): Dispatcher {
    return new Dispatcher({ ...opts, connect: { ...(opts.connect as object), lookup: this.lookup } });
  }

  /**
   * Why a URL whose host is an IP literal may not be called, or null. Asked on every agent call
   * with the same few URLs, so the answer is remembered by URL (the policy is fixed): a call
   * does not parse its URL twice (undici parses it too).
   */
  refuseLiteral(url: string): string | null {
    const known = this.literalRefusals.get(url);
    if (known !== undefined) return known;
    let host: string;
    try {
      host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return 'not a URL';
    }
    const why = isIP(host) ? refusal(host, this.policy) : null;
    if (this.literalRefusals.size >= 10_000) this.literalRefusals.clear();
    this.literalRefusals.set(url, why);
    return why;
  }
  private readonly literalRefusals = new Map<string, string | null>();

  /** Resolves a URL's host now and says why it may not be called, or null (registration, submission). */
  async check(url: string): Promise<string | null> {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) return refusal(host, this.policy);
    try {
      const addresses = await dns.promises.lookup(host, { all: true });
      for (const a of addresses) {
        const why = refusal(a.address, this.policy);
        if (why) return `${host} resolves to ${why}`;
      }
      return null;
    } catch {
      return `${host} does not resolve`;
    }
  }
}
