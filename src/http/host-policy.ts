import { isLoopbackHost } from '../resilience/outbound-policy.ts';

/** How many distinct Host headers a policy remembers its answer for. */
export const KNOWN_HOSTS_MAX = 64;

/**
 * Which `Host` headers the manager answers. A manager on loopback answers only loopback names
 * (and its PUBLIC_URL's host, and ALLOWED_HOSTS): a web page whose DNS name was rebound to
 * 127.0.0.1 sends its own name as Host, and is refused instead of reading the API. A manager
 * listening beyond loopback answers any Host unless ALLOWED_HOSTS lists them (keys guard it).
 */
export type HostPolicy = (hostHeader: string | undefined) => boolean;

/** The host name of a Host header, without port or IPv6 brackets, lower-cased. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export function hostPolicy(opts: {
  listenHost: string;
  publicUrl?: string;
  allowedHosts?: readonly string[];
}): HostPolicy {
  const listed = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  if (listed.has('*')) return () => true;
  if (opts.publicUrl) listed.add(hostName(new URL(opts.publicUrl).host));
  const onLoopback = isLoopbackHost(opts.listenHost);
  if (!onLoopback && !opts.allowedHosts?.length) return () => true;
  // Answers by header: classifying a name as loopback (BlockList, SocketAddress) on every request
  // was 1% of the manager's CPU. The caller picks the header, so only the first few are kept.
  const known = new Map<string, boolean>();
  return (header) => {
    // HTTP/1.0 clients may send none; a browser always does, so rebinding cannot hide behind it.
    if (header === undefined) return true;
    const seen = known.get(header);
    if (seen !== undefined) return seen;
    const name = hostName(header);
    const ok = listed.has(name) || isLoopbackHost(name) || name.endsWith('.localhost');
    if (known.size < KNOWN_HOSTS_MAX) known.set(header, ok);
    return ok;
  };
}
