/**
 * Origins: what `connect --origin` may send, and which browser pages the server commands (echo,
 * listen, broadcast) accept WebSockets from.
 *
 * A browser lets any page open a WebSocket to any address, 127.0.0.1 included, and says whose page
 * it is only in the Origin header (cross-site WebSocket hijacking: a page the user visits talks to
 * their local `riptide listen`, reads what it prints and types into it). So the servers check
 * Origin before the handshake completes:
 *
 *   no Origin                      accepted: not a browser (riptide connect, ws, curl, scripts)
 *   --allow-origin '*'             every origin accepted
 *   an origin given --allow-origin accepted (`null` too, when given: sandboxed frames, file: pages)
 *   bound to loopback (default)    accepted when the origin's host is loopback (localhost,
 *                                  *.localhost, 127.x.x.x, [::1]), any scheme or port: the user's
 *                                  own local pages. Not the Host header: a DNS-rebinding page
 *                                  (evil.example resolving to 127.0.0.1) sends a matching Host
 *                                  but keeps its own name in Origin.
 *   bound to another address       accepted when the origin's host and port are the request's
 *                                  Host (the page `broadcast` serves, reached by any name)
 *   anything else                  403, and one log line naming the origin and the flag
 */
import { CliUsageError, type CommandSpec } from './args.js';

/**
 * RFC 6454 6.2's serialized origin: scheme "://" host [":" port], nothing after it (no path,
 * not even "/", no userinfo, query or fragment). The host is a registered name, an IPv4 address
 * or a bracketed IPv6 address, in ASCII as browsers send it (IDNA's punycode form).
 */
const SERIALIZED_ORIGIN =
  /^[a-z][a-z0-9+.-]*:\/\/(?:\[[0-9a-f:.]+\]|[a-z0-9._~!$&'()*+,;=%-]+)(?::(\d{1,5}))?$/i;

/**
 * A flag's value must be what a browser could send in Origin: a serialized origin, or `null` (the
 * opaque origin). Anything else (a path, spaces, line breaks, an empty value) is a mistake in the
 * command line: CliUsageError naming `--flag`. Returns the value as given.
 */
export function checkOrigin(origin: string, flag: string, spec: CommandSpec, extra = ''): string {
  if (origin === 'null') return origin;
  const shape = SERIALIZED_ORIGIN.exec(origin);
  let valid = shape !== null && (shape[1] === undefined || Number(shape[1]) <= 65535);
  if (valid) {
    try {
      // The WHATWG parser checks what the pattern cannot: IPv4 and IPv6 syntax, host code points.
      valid = new URL(origin).host !== '';
    } catch {
      valid = false;
    }
  }
  if (!valid) {
    throw new CliUsageError(
      `--${flag} must be an origin (scheme://host[:port], e.g. https://example.com) or null${extra}, got ${JSON.stringify(origin)}`,
      spec,
    );
  }
  return origin;
}

/** Case and default ports as a browser writes them: `HTTPS://Example.com:443` is `https://example.com`. */
function normalize(origin: string): string {
  if (origin === 'null') return origin;
  const url = new URL(origin);
  return `${url.protocol}//${url.host}`;
}

export interface OriginPolicy {
  /** `--allow-origin '*'` */
  any: boolean;
  /** the other --allow-origin values, normalized */
  allowed: Set<string>;
  /** the server listens on a loopback address only */
  loopback: boolean;
}

/** The policy of a server listening on `host`, from its --allow-origin values (checked here). */
export function originPolicy(values: readonly string[], host: string, spec: CommandSpec): OriginPolicy {
  const policy: OriginPolicy = { any: false, allowed: new Set(), loopback: isLoopbackBind(host) };
  for (const value of values) {
    if (value === '*') policy.any = true;
    else policy.allowed.add(normalize(checkOrigin(value, 'allow-origin', spec, ", or '*' for any")));
  }
  return policy;
}

function isLoopbackBind(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** A URL hostname (IPv6 in brackets, as URL writes it) that only ever names this machine. */
function isLoopbackName(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    hostname === '[::1]' ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname)
  );
}

/**
 * Whether a WebSocket request with this Origin (undefined: none) and Host header is accepted:
 * null if it is, else why not (for the 403 and the log line).
 */
export function refusal(
  policy: OriginPolicy,
  origin: string | undefined,
  host: string | undefined,
): string | null {
  if (origin === undefined || policy.any) return null;
  let normalized: string;
  let url: URL | null = null;
  try {
    normalized = normalize(origin);
    if (origin !== 'null') url = new URL(origin);
  } catch {
    return NOT_AN_ORIGIN;
  }
  if (policy.allowed.has(normalized)) return null;
  if (url === null) return 'an opaque origin (a sandboxed frame or a file: page)';
  if (policy.loopback) {
    return isLoopbackName(url.hostname) ? null : 'not a local page';
  }
  if (host !== undefined) {
    try {
      // The Host as the origin would write it (its scheme's default port left out).
      if (new URL(`${url.protocol}//${host}`).host === url.host) return null;
    } catch {
      // a Host no URL takes matches nothing
    }
  }
  return 'not a page of this host';
}

/** What `refusal` says of an Origin header that is no origin at all (no flag can accept it). */
export const NOT_AN_ORIGIN = 'not an origin';

/** The server's log line for a refused request from `peer`. */
export function refusalLine(peer: string, origin: string, why: string): string {
  const hint = why === NOT_AN_ORIGIN ? '' : ` (--allow-origin ${origin} accepts it)`;
  return `refused ${peer}: origin ${origin}, ${why}${hint}`;
}
