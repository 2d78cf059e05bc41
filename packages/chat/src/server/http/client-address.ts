/**
 * The client address of a request, and the key the per-address limits (sign-in, sign-up) count it
 * under. Pure functions; accounts.ts applies them to a request.
 *
 * - Trusted proxies (startChatServer's `trustProxy`, --trust-proxy, CHAT_TRUST_PROXY): addresses
 *   and subnets of the reverse proxies in front of the chat. None by default, and then
 *   X-Forwarded-For is never read: any client can send it.
 * - The client: the socket's peer, unless the peer is trusted. Then X-Forwarded-For (every header
 *   line, in order, each a comma list) is read from right to left, since each proxy appends the
 *   address it received the request from: trusted hops are skipped and the first untrusted entry is
 *   the client. What a client writes in the header itself is left of that and never read. Every
 *   entry trusted: the left-most. An entry that is not an address (a misconfigured chain, or text
 *   a trusted hop passed on): the walk stops and the nearest hop to its right is used, so the key
 *   is never text the client chose.
 * - The key: an IPv4 address as is (also when a dual-stack listener shows it as ::ffff:a.b.c.d),
 *   an IPv6 address its /64, written canonically (`2001:db8:1:2::/64`): a client is usually given
 *   a whole /64, so counting full addresses would give it 2^64 buckets.
 *
 * `Forwarded` (RFC 7239) is not read: one header, one meaning.
 */
import { BlockList, isIP } from 'node:net';

/** A trust list that cannot be parsed; the message names the entry and what is wrong with it. */
export class TrustListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustListError';
  }
}

export interface TrustedProxies {
  /** How many addresses and subnets were given (0: X-Forwarded-For is never read). */
  readonly size: number;
  /** The addresses and subnets as given (trimmed, the comma lists split), for the start's log line. */
  readonly entries: readonly string[];
  /** Whether the address (any spelling parseAddress accepts) is one of the proxies. */
  has(address: string): boolean;
}

/**
 * The 8 16-bit groups of an IPv6 address (isIP(text) === 6, zone index already removed). An
 * embedded IPv4 tail (`::ffff:1.2.3.4`) becomes the last two groups.
 */
function ipv6Groups(text: string): number[] {
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const [a, b, c, d] = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    tail = [(a << 8) | b, (c << 8) | d];
    text = text.slice(0, lastColon + 1);
    // `::1.2.3.4` left `::`, `1::2:1.2.3.4` left `1::2:`: drop a single trailing colon.
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const hex = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const double = text.indexOf('::');
  if (double < 0) return [...hex(text), ...tail];
  const head = hex(text.slice(0, double));
  const rest = [...hex(text.slice(double + 2)), ...tail];
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

/** RFC 5952: lower-case hex without leading zeros, the first longest run of 2+ zero groups as `::`. */
function formatIPv6(groups: readonly number[]): string {
  let start = -1;
  let length = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > length) [start, length] = [i, end - i];
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (start < 0) return hex.join(':');
  return `${hex.slice(0, start).join(':')}::${hex.slice(start + length).join(':')}`;
}

const isMapped = (groups: readonly number[]) =>
  groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;

const mappedIPv4 = (groups: readonly number[]) =>
  `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;

/**
 * One spelling per address: IPv4 dotted (an IPv4-mapped IPv6 address included), IPv6 as RFC 5952
 * writes it, without a zone index (`%eth0`). null when the text is not a bare IP address.
 */
export function parseAddress(text: string): string | null {
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return null;
  const zone = text.indexOf('%');
  const groups = ipv6Groups(zone < 0 ? text : text.slice(0, zone));
  return isMapped(groups) ? mappedIPv4(groups) : formatIPv6(groups);
}

const PORT = /^\d{1,5}$/;
const validPort = (text: string | undefined) =>
  text === undefined || (PORT.test(text) && Number(text) <= 65535);

/**
 * An entry of X-Forwarded-For: a bare address (what nginx writes), an IPv6 address in brackets with
 * or without a port, or an IPv4 address with a port (Azure's Application Gateway appends
 * `a.b.c.d:port`; one colon is never an IPv6 address, so this reading cannot be wrong). null for
 * anything else (`unknown`, a host name, an empty entry).
 */
export function parseForwardedEntry(entry: string): string | null {
  const text = entry.trim();
  const bracketed = /^\[([^\]]*)\](?::([^:]*))?$/.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]) !== 6 || !validPort(bracketed[2])) return null;
    return parseAddress(bracketed[1]);
  }
  const withPort = /^([\d.]+):([^:]*)$/.exec(text);
  if (withPort) return isIP(withPort[1]) === 4 && validPort(withPort[2]) ? withPort[1] : null;
  return parseAddress(text);
}

interface TrustEntry {
  family: 4 | 6;
  address: string;
  /** A subnet's prefix length; none for one address. */
  prefix?: number;
}

/** One entry of a trust list (trimmed, not empty): an address or a subnet, or a TrustListError. */
function trustEntry(entry: string): TrustEntry {
  const slash = entry.indexOf('/');
  const text = slash < 0 ? entry : entry.slice(0, slash);
  const family = text.includes('%') ? 0 : isIP(text);
  if (family !== 4 && family !== 6)
    throw new TrustListError(
      `${JSON.stringify(entry)} is not an IP address or subnet (a.b.c.d or a:b::c, either with /prefix)`,
    );
  const max = family === 4 ? 32 : 128;
  let prefix: number | undefined;
  if (slash >= 0) {
    const digits = entry.slice(slash + 1);
    prefix = /^\d{1,3}$/.test(digits) ? Number(digits) : Number.NaN;
    if (!(prefix <= max))
      throw new TrustListError(
        `${JSON.stringify(entry)}: the prefix length of an IPv${family} subnet is 0 to ${max}`,
      );
  }
  if (family === 6) {
    const groups = ipv6Groups(text);
    if (!isMapped(groups)) return { family, address: text, prefix };
    if (prefix !== undefined && prefix < 96)
      throw new TrustListError(
        `${JSON.stringify(entry)}: an IPv4-mapped subnet needs a prefix length of 96 to 128 (or write it as IPv4)`,
      );
    return { family: 4, address: mappedIPv4(groups), prefix: prefix === undefined ? undefined : prefix - 96 };
  }
  return { family, address: text, prefix };
}

/**
 * Parses trust lists: each string a comma list of IP addresses and CIDR subnets, IPv4 or IPv6
 * (`127.0.0.1,::1`, `10.0.0.0/8,fd00::/8`). Spaces around entries are ignored and a blank string
 * is an empty list; anything else that is not an address or a subnet throws a TrustListError naming
 * it. An IPv4-mapped IPv6 entry (`::ffff:10.0.0.1`, `::ffff:10.0.0.0/104`) means its IPv4 address
 * or subnet, since a mapped peer is matched as IPv4.
 */
export function parseTrustList(lists: string | readonly string[]): TrustedProxies {
  // One list per family: an IPv4 address is never matched against an IPv6 subnet or the reverse.
  const v4 = new BlockList();
  const v6 = new BlockList();
  const entries: string[] = [];
  for (const list of typeof lists === 'string' ? [lists] : lists) {
    if (list.trim() === '') continue;
    for (const raw of list.split(',')) {
      if (raw.trim() === '')
        throw new TrustListError(
          `empty entry in ${JSON.stringify(list)} (two commas in a row, or one at an end)`,
        );
      const { family, address, prefix } = trustEntry(raw.trim());
      const blocks = family === 4 ? v4 : v6;
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) blocks.addAddress(address, type);
      else blocks.addSubnet(address, prefix, type);
      entries.push(raw.trim());
    }
  }
  return {
    size: entries.length,
    entries,
    has(text) {
      const address = parseAddress(text);
      if (address === null) return false;
      return isIP(address) === 4 ? v4.check(address, 'ipv4') : v6.check(address, 'ipv6');
    },
  };
}

/** Trusts nobody: the client is always the socket's peer. */
export const NO_TRUSTED_PROXIES: TrustedProxies = parseTrustList([]);

/**
 * The client's address: `peer` (the socket's remote address) unless it is a trusted proxy, else
 * from `forwardedFor` (the X-Forwarded-For header: one string, lines joined with commas as node
 * does, or one string per line) as the header comment says. In parseAddress's spelling when it is
 * an address; a peer that is not one (a closed socket's `''`) is returned as it is.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | readonly string[] | undefined,
  trusted: TrustedProxies,
): string {
  const from = parseAddress(peer) ?? peer;
  if (trusted.size === 0 || forwardedFor === undefined || !trusted.has(from)) return from;
  const entries = (typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor).flatMap((line) =>
    line.split(','),
  );
  let nearest = from;
  for (let i = entries.length - 1; i >= 0; i--) {
    const address = parseForwardedEntry(entries[i]);
    if (address === null) return nearest;
    if (!trusted.has(address)) return address;
    nearest = address;
  }
  return nearest;
}

/**
 * The key of an address in the per-address buckets: IPv4 as is (mapped IPv6 included), IPv6 its
 * /64 (`2001:db8:1:2::/64`). Text that is not an address is returned as it is.
 */
export function rateLimitKey(address: string): string {
  const parsed = parseAddress(address);
  if (parsed === null) return address;
  if (isIP(parsed) === 4) return parsed;
  const groups = ipv6Groups(parsed);
  return `${formatIPv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}
