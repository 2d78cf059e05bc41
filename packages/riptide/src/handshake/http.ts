/**
 * A linear-time HTTP/1.1 head parser, just enough for the opening handshake.
 *
 * Theory of operation:
 * - The caller buffers bytes and calls findHeadEnd() on each chunk; it resumes 3 bytes before
 *   the previous end so a "\r\n\r\n" split across chunks is found and no byte is scanned more
 *   than a few times. If no end is found once maxHeaderBytes are buffered, the caller rejects
 *   with WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE (headTooLarge() tells it when).
 * - A head that can never end, because its lines end in a bare LF (or hold a bare CR or a
 *   control character), is refused by findHeadEnd() on the chunk that brings the bad byte,
 *   not at the handshake deadline: Node's http server answers such a head 400 at once.
 * - parseRequestHead() takes the head (ending with the empty line) and makes
 *   ONE forward pass over its bytes with table lookups: no regular expressions, no
 *   backtracking, no rescans. Limits (size, then count) are checked before anything is
 *   allocated for the offending part.
 * - Peer errors are returned as values ({ ok: false, error }), never thrown. A bad `limits`
 *   argument is caller misuse and throws UsageError.
 *
 * Policy (stricter than RFC 9112 allows, never looser):
 * - Lines end with CRLF. A bare LF or a bare CR anywhere in the head is rejected (400):
 *   RFC 9112 2.2 lets a recipient accept a bare LF, but lenient line endings are a classic
 *   request-smuggling ingredient, and every WebSocket client sends CRLF.
 * - obs-fold (a header line starting with SP/HTAB) is rejected: RFC 9112 5.2 "A server that
 *   receives an obs-fold in a request message ... MUST either reject the message by sending
 *   a 400 (Bad Request) ... or replace each received obs-fold with one or more SP octets".
 * - Whitespace between a field name and the colon is rejected: RFC 9112 5.1 "A server MUST
 *   reject, with a response status code of 400 (Bad Request), any received request message
 *   that contains whitespace between a header field name and colon."
 * - More than one Host header is rejected: RFC 9112 3.2 "A server MUST respond with a 400
 *   (Bad Request) status code to any HTTP/1.1 request message that lacks a Host header field
 *   and to any that contains more than one Host header field line".
 * - More than one Content-Length line is rejected (RFC 9112 6.3 item 5 lets a recipient accept
 *   repeated identical values; a handshake has no body, so none is needed, see
 *   server.ts WS_ERR_HANDSHAKE_BODY).
 * - Field values may hold HTAB, SP, VCHAR and obs-text (decoded as latin1, like Node); any
 *   other control character, including NUL, is rejected.
 * - Only HTTP/1.x is accepted; other major versions get WS_ERR_HANDSHAKE_HTTP_VERSION.
 */
import type { HandshakeError } from '../core/errors.js';
import { UsageError } from '../core/errors.js';
import { handshakeError } from './errors.js';
import { FIELD_VALUE_CHAR, HEAD_CTL, isOws, TARGET_CHAR, TCHAR } from './syntax.js';

export interface HttpLimits {
  /** Maximum size of the head in bytes, start line and final empty line included. */
  maxHeaderBytes: number;
  /** Maximum number of header field lines. */
  maxHeaders: number;
}

/** Node's own defaults: 16 KiB (--max-http-header-size) and 100 headers (maxHeadersCount is 2000; 100 is plenty for a handshake). */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxHeaderBytes: 16384,
  maxHeaders: 100,
});

/** Headers as Node's IncomingMessage.headers shapes them (lowercase names). */
export type HttpHeaders = Record<string, string | string[]>;

export interface RequestHead {
  method: string;
  url: string;
  /** '1.0' or '1.1' (any HTTP/1.x); the upgrade validator requires 1.1 or higher. */
  httpVersion: string;
  headers: HttpHeaders;
  /** [name, value, name, value, ...] with the names' original case, as Node's rawHeaders. */
  rawHeaders: string[];
}

export type HeadResult<T> = { ok: true; value: T } | { ok: false; error: HandshakeError };

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const COLON = 0x3a;

/**
 * Index just past the first "\r\n\r\n" in `buf`; -1 while the head may still end in a later
 * chunk; or, when the bytes from `from` on show that no later chunk can end it, the error to
 * answer with (400, WS_ERR_HANDSHAKE_MALFORMED): an LF not preceded by CR, a CR followed by
 * anything but LF, or a control character (HTAB aside). Only bytes from `from - 3` are
 * searched: pass the previous buffer length as `from` after appending a chunk.
 *
 * RFC 9112 2.2 lets a recipient either take a bare LF as a line terminator or reject the
 * message; this parser rejects (see the policy above), and a head whose every line ends in a
 * bare LF never holds "\r\n\r\n", so without this check its client would wait for the
 * handshake deadline. Node's http server answers all of these 400 at once.
 *
 * Cost: a chunk that holds the end is not scanned again here (parseRequestHead() then makes
 * its one pass, which rejects the same bytes). Only the bytes of a chunk that does not end the
 * head, split heads and heads that never end, get the byte loop, each byte once.
 */
export function findHeadEnd(buf: Buffer, from: number): number | HandshakeError {
  const start = from > 3 ? from - 3 : 0;
  const i = buf.indexOf(CRLFCRLF, start);
  if (i !== -1) return i + 4;
  return neverEnds(buf, Math.max(from, 0));
}

/** The error for the first byte from `from` on that no head may hold there, or -1. */
function neverEnds(buf: Buffer, from: number): -1 | HandshakeError {
  const n = buf.length;
  let afterCr = from > 0 && buf[from - 1] === CR;
  for (let i = from; i < n; i++) {
    const b = buf[i];
    if (afterCr) {
      if (b !== LF) return malformed('bare CR', 400).error;
      afterCr = false;
    } else if (b === LF) {
      return malformed('bare LF line ending', 400).error;
    } else if (b === CR) {
      afterCr = true;
    } else if (HEAD_CTL[b] === 1) {
      return malformed('control character', 400).error;
    }
  }
  return -1;
}

/**
 * True when `buffered` bytes without a head end already exceed the limit, i.e. the caller
 * must reject now (WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE) instead of buffering more.
 */
export function headTooLarge(buffered: number, limits?: Partial<HttpLimits>): boolean {
  return buffered > resolveLimits(limits).maxHeaderBytes;
}

/** Validate a limits argument (caller misuse throws) and fill in the defaults. */
export function resolveLimits(limits?: Partial<HttpLimits>): HttpLimits {
  if (limits === undefined || limits === DEFAULT_HTTP_LIMITS) return DEFAULT_HTTP_LIMITS;
  if (limits === null || typeof limits !== 'object') {
    throw new UsageError('WS_ERR_INVALID_OPTION', 'HTTP limits must be an object');
  }
  for (const key of Object.keys(limits)) {
    if (key !== 'maxHeaderBytes' && key !== 'maxHeaders') {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `Unknown HTTP limit ${JSON.stringify(key)} (expected maxHeaderBytes, maxHeaders)`,
      );
    }
  }
  const out = { ...DEFAULT_HTTP_LIMITS };
  for (const key of ['maxHeaderBytes', 'maxHeaders'] as const) {
    const v = limits[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw new UsageError('WS_ERR_INVALID_OPTION', `HTTP limit ${key} must be a positive integer, got ${v}`);
    }
    out[key] = v;
  }
  return out;
}

/** Parse a request head: `head` is everything up to and including the empty line. */
export function parseRequestHead(head: Buffer, limits?: Partial<HttpLimits>): HeadResult<RequestHead> {
  const lim = resolveLimits(limits);
  const pre = precheck(head, lim, 400);
  if (pre) return pre;
  const n = head.length;

  // RFC 9112 3: request-line = method SP request-target SP HTTP-version CRLF
  let i = 0;
  while (i < n && TCHAR[head[i]] === 1) i++;
  if (i === 0 || head[i] !== SP) return malformed('invalid request line', 400);
  // GET, the one method a handshake uses, is not decoded into a new string each time.
  const method =
    i === 3 && head[0] === 0x47 && head[1] === 0x45 && head[2] === 0x54
      ? 'GET'
      : head.toString('latin1', 0, i);
  const targetStart = ++i;
  while (i < n && TARGET_CHAR[head[i]] === 1) i++;
  if (i === targetStart || head[i] !== SP) return malformed('invalid request line', 400);
  const url = head.toString('latin1', targetStart, i);
  i++;
  const version = parseVersion(head, i, 400);
  if (typeof version !== 'string') return version;
  i += 8;
  if (head[i] !== CR || head[i + 1] !== LF) return malformed('invalid request line', 400);
  i += 2;

  const fields = parseFields(head, i, lim, 400, true);
  if (!fields.ok) return fields;
  return {
    ok: true,
    value: { method, url, httpVersion: version, headers: fields.headers, rawHeaders: fields.rawHeaders },
  };
}

function malformed(detail: string, status: number): { ok: false; error: HandshakeError } {
  return { ok: false, error: handshakeError('WS_ERR_HANDSHAKE_MALFORMED', detail, status) };
}

function precheck(
  head: Buffer,
  lim: HttpLimits,
  status: number,
): { ok: false; error: HandshakeError } | null {
  if (!Buffer.isBuffer(head)) throw new UsageError('WS_ERR_INVALID_OPTION', 'head must be a Buffer');
  // Size first: nothing is decoded or allocated for a head over the limit.
  if (head.length > lim.maxHeaderBytes) {
    return {
      ok: false,
      error: handshakeError(
        'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE',
        `above ${lim.maxHeaderBytes} bytes`,
        status === 0 ? 0 : undefined,
      ),
    };
  }
  const n = head.length;
  if (n < 4 || head[n - 4] !== CR || head[n - 3] !== LF || head[n - 2] !== CR || head[n - 1] !== LF) {
    return malformed('the head must end with an empty line', status);
  }
  return null;
}

/** RFC 9112 2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT; only major version 1 is spoken here. */
function parseVersion(
  head: Buffer,
  i: number,
  status: number,
): string | { ok: false; error: HandshakeError } {
  if (
    head[i] !== 0x48 || // H
    head[i + 1] !== 0x54 || // T
    head[i + 2] !== 0x54 || // T
    head[i + 3] !== 0x50 || // P
    head[i + 4] !== 0x2f || // /
    !(head[i + 5] >= 0x30 && head[i + 5] <= 0x39) ||
    head[i + 6] !== 0x2e || // .
    !(head[i + 7] >= 0x30 && head[i + 7] <= 0x39)
  ) {
    return malformed('invalid HTTP version', status);
  }
  if (head[i + 5] !== 0x31) {
    return {
      ok: false,
      error: handshakeError('WS_ERR_HANDSHAKE_HTTP_VERSION', undefined, status === 0 ? 0 : undefined),
    };
  }
  // 1.1 and 1.0 as constants (no new string per request).
  const minor = head[i + 7];
  return minor === 0x31 ? '1.1' : minor === 0x30 ? '1.0' : head.toString('latin1', i + 5, i + 8);
}

type FieldsResult =
  | { ok: true; headers: HttpHeaders; rawHeaders: string[] }
  | { ok: false; error: HandshakeError };

/**
 * RFC 9112 5: field-line = field-name ":" OWS field-value OWS, each followed by CRLF, then an
 * empty line. One forward pass; the value's trailing OWS is found by remembering the last
 * non-OWS byte, never by scanning back.
 */
function parseFields(
  head: Buffer,
  i: number,
  lim: HttpLimits,
  status: number,
  isRequest: boolean,
): FieldsResult {
  const n = head.length;
  // No prototype (a field named __proto__ or constructor is data), in V8's fast mode:
  // Object.create(null) starts as a hash table, about 280 B for a WebSocket request's five
  // fields against 97 B, allocated on every handshake. Past about 19 fields V8 switches it to a
  // hash table anyway.
  const headers: HttpHeaders = Object.setPrototypeOf({}, null);
  const rawHeaders: string[] = [];
  let count = 0;
  for (;;) {
    const c = head[i];
    if (c === CR) {
      // The empty line: it must be the last two bytes (precheck guaranteed they are CRLF).
      if (i + 2 !== n) return malformed('bytes after the empty line', status);
      return { ok: true, headers, rawHeaders };
    }
    if (isOws(c)) return malformed('obs-fold line folding is not allowed', status);
    const nameStart = i;
    while (i < n && TCHAR[head[i]] === 1) i++;
    if (i === nameStart) return malformed('invalid header name', status);
    if (head[i] !== COLON) {
      return malformed(
        isOws(head[i]) ? 'whitespace before the colon of a header' : 'invalid header name',
        status,
      );
    }
    // Count before allocating anything for this field.
    if (++count > lim.maxHeaders) {
      return {
        ok: false,
        error: handshakeError(
          'WS_ERR_HANDSHAKE_TOO_MANY_HEADERS',
          `above ${lim.maxHeaders}`,
          status === 0 ? 0 : undefined,
        ),
      };
    }
    const nameEnd = i;
    i++;
    while (i < n && isOws(head[i])) i++;
    const valueStart = i;
    let valueEnd = i;
    while (i < n) {
      const b = head[i];
      if (FIELD_VALUE_CHAR[b] === 0) break;
      i++;
      if (!isOws(b)) valueEnd = i;
    }
    if (head[i] !== CR) {
      return malformed(
        head[i] === LF ? 'bare LF line ending' : 'invalid character in a header value',
        status,
      );
    }
    if (head[i + 1] !== LF) return malformed('bare CR', status);
    i += 2;
    const known = knownName(head, nameStart, nameEnd);
    let name: string;
    let lname: string;
    if (known === null) {
      name = head.toString('latin1', nameStart, nameEnd);
      lname = name.toLowerCase();
    } else {
      name = known.exact ? known.name : head.toString('latin1', nameStart, nameEnd);
      lname = known.lower;
    }
    const value = knownValue(head, valueStart, valueEnd) ?? head.toString('latin1', valueStart, valueEnd);
    rawHeaders.push(name, value);
    const refused = addHeader(headers, lname, value, isRequest);
    if (refused !== null) return malformed(refused, status);
  }
}

/**
 * Field names of nearly every upgrade request (RFC 6455 4.1, and what browsers add), in their
 * usual spelling. A name that matches one is not decoded into two new strings (the name and its
 * lowercase form) on every request: both come from here. Indexed by length.
 */
const KNOWN_NAMES: { name: string; lower: string }[][] = [];
for (const name of [
  'Host',
  'Upgrade',
  'Connection',
  'Sec-WebSocket-Key',
  'Sec-WebSocket-Version',
  'Sec-WebSocket-Extensions',
  'Sec-WebSocket-Protocol',
  'Origin',
  'User-Agent',
  'Pragma',
  'Cache-Control',
  'Accept-Encoding',
  'Accept-Language',
  'Cookie',
  'Authorization',
]) {
  (KNOWN_NAMES[name.length] ??= []).push({ name, lower: name.toLowerCase() });
}
const KNOWN_EXACT = { name: '', lower: '', exact: true };
const KNOWN_OTHER_CASE = { name: '', lower: '', exact: false };

/**
 * The known field name head[start, end) spells, ASCII case-insensitively, or null. `exact`:
 * spelled as in KNOWN_NAMES, or all lowercase (then `name` is that spelling). The result object
 * is reused: read it before the next call.
 */
function knownName(
  head: Buffer,
  start: number,
  end: number,
): { name: string; lower: string; exact: boolean } | null {
  const candidates = KNOWN_NAMES[end - start];
  if (candidates === undefined) return null;
  // The first byte is read once for all candidates (most names match none).
  const b0 = head[start];
  const folded0 = b0 >= 0x41 && b0 <= 0x5a ? b0 | 0x20 : b0;
  for (let c = 0; c < candidates.length; c++) {
    const { name, lower } = candidates[c];
    if (folded0 !== lower.charCodeAt(0)) continue;
    let asName = b0 === name.charCodeAt(0);
    let asLower = b0 === folded0;
    let i = 1;
    for (; i < name.length; i++) {
      const b = head[start + i];
      const folded = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
      if (folded !== lower.charCodeAt(i)) break;
      if (b !== name.charCodeAt(i)) asName = false;
      if (b !== folded) asLower = false;
    }
    if (i < name.length) continue;
    const out = asName || asLower ? KNOWN_EXACT : KNOWN_OTHER_CASE;
    out.name = asName ? name : lower;
    out.lower = lower;
    return out;
  }
  return null;
}

/**
 * Field values every upgrade request repeats (RFC 6455 4.1's Upgrade, Connection and version,
 * as clients spell them), indexed by length: a value spelled exactly so is not decoded into a
 * new string. Values are data: only an exact, byte-for-byte match counts.
 */
const KNOWN_VALUES: string[][] = [];
for (const value of ['websocket', 'Upgrade', '13', 'keep-alive, Upgrade', 'Keep-Alive, Upgrade']) {
  (KNOWN_VALUES[value.length] ??= []).push(value);
}

function knownValue(head: Buffer, start: number, end: number): string | null {
  const candidates = KNOWN_VALUES[end - start];
  if (candidates === undefined) return null;
  for (let c = 0; c < candidates.length; c++) {
    const value = candidates[c];
    let i = 0;
    while (i < value.length && head[start + i] === value.charCodeAt(i)) i++;
    if (i === value.length) return value;
  }
  return null;
}

/**
 * Fields Node keeps only the first of (IncomingMessage's rules); for these a second line
 * would be ambiguous, so the first one wins.
 */
const SINGLE_VALUED = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * Combine like Node's IncomingMessage.headers: set-cookie is always an array, cookie lines
 * are joined with '; ', single-valued fields keep the first, the rest are joined with ', '
 * (RFC 9110 5.3). Returns why a request must be refused, or null: a second Host line (RFC 9112
 * 3.2), or a second Content-Length line (RFC 9112 6.3: the framing would be ambiguous, and
 * keeping the first, as for other single-valued fields, could hide a body).
 */
function addHeader(headers: HttpHeaders, lname: string, value: string, isRequest: boolean): string | null {
  const prev = headers[lname];
  if (lname === 'set-cookie') {
    if (prev === undefined) headers[lname] = [value];
    else (prev as string[]).push(value);
    return null;
  }
  if (prev === undefined) {
    headers[lname] = value;
    return null;
  }
  if (SINGLE_VALUED.has(lname)) {
    if (isRequest && lname === 'host') return 'more than one Host header';
    if (isRequest && lname === 'content-length') return 'more than one Content-Length header';
    return null;
  }
  headers[lname] = `${prev}${lname === 'cookie' ? '; ' : ', '}${value}`;
  return null;
}
