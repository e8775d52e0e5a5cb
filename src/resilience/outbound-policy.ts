import { BlockList, isIP } from 'node:net';

/**
 * Which addresses the manager may call (agents' endpoints, clients' callbacks). It is an HTTP
 * client that strangers point at URLs of their choosing, so without this it would be an open
 * proxy into whatever network it runs in (SSRF): cloud metadata, admin ports, a port scanner.
 * Link-local and metadata, unspecified, multicast and reserved addresses are never called;
 * loopback only when allowed (by default: while the manager itself listens on loopback, as in
 * development and every test); private ranges only when allowed. Pure: decides on addresses,
 * the callers resolve names.
 */
export type AddressClass = 'public' | 'loopback' | 'private' | 'forbidden';

const ranges = (list: [string, number][], family: 'ipv4' | 'ipv6', into: BlockList) => {
  for (const [net, prefix] of list) into.addSubnet(net, prefix, family);
  return into;
};
const FORBIDDEN = ranges(
  [
    ['0.0.0.0', 8],
    ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, broadcast
  ],
  'ipv4',
  ranges(
    [
      ['::', 128],
      ['fe80::', 10], // link-local
      ['ff00::', 8], // multicast
      ['fd00:ec2::', 32], // AWS metadata over IPv6
      ['2001:db8::', 32],
    ],
    'ipv6',
    new BlockList(),
  ),
);
const LOOPBACK = ranges([['127.0.0.0', 8]], 'ipv4', ranges([['::1', 128]], 'ipv6', new BlockList()));
const PRIVATE = ranges(
  [
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['100.64.0.0', 10], // carrier-grade NAT
  ],
  'ipv4',
  ranges([['fc00::', 7]], 'ipv6', new BlockList()),
);

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it carries. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const a = address.replace(/^\[|\]$/g, '');
  const mapped = a.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (mapped) return { address: mapped[1] as string, family: 'ipv4' };
  const v = isIP(a);
  return v === 4 ? { address: a, family: 'ipv4' } : v === 6 ? { address: a, family: 'ipv6' } : null;
}

export function classify(address: string): AddressClass {
  const n = normalise(address);
  if (!n) return 'forbidden';
  if (FORBIDDEN.check(n.address, n.family)) return 'forbidden';
  if (LOOPBACK.check(n.address, n.family)) return 'loopback';
  if (PRIVATE.check(n.address, n.family)) return 'private';
  return 'public';
}

export type OutboundPolicy = {
  allowLoopback: boolean;
  /** Networks (CIDR) and single addresses allowed although private or loopback. */
  allow: BlockList;
};

/** Parses `OUTBOUND_ALLOW`-style entries: `10.0.0.0/8`, `192.168.1.20`, `fd00::/8`. */
export function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [net, bits] = e.split('/');
    const n = normalise(net ?? '');
    if (!n) throw new Error(`"${e}" is not an IP address or CIDR network`);
    const max = n.family === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw new Error(`"${e}" has a bad prefix length`);
    list.addSubnet(n.address, prefix, n.family);
  }
  return list;
}

/** Null when the manager may call `address`, else why not (for the 422 or the failed call). */
export function refusal(address: string, policy: OutboundPolicy): string | null {
  const kind = classify(address);
  if (kind === 'public') return null;
  if (kind === 'forbidden') return `${address} is a link-local, metadata, multicast or reserved address`;
  const n = normalise(address);
  if (n && policy.allow.check(n.address, n.family)) return null;
  if (kind === 'loopback')
    return policy.allowLoopback
      ? null
      : `${address} is loopback, and this manager does not listen on loopback`;
  return `${address} is a private address not in OUTBOUND_ALLOW`;
}

/** Whether a listen address is loopback (so is everything that can reach the manager). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || classify(h) === 'loopback';
}
