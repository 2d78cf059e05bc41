/**
 * The list-valued handshake headers: Connection, Upgrade, Sec-WebSocket-Protocol and
 * Sec-WebSocket-Extensions.
 *
 * Every parser here is a single forward scan with an index (each character is looked at a
 * bounded number of times), so its cost is linear in the input whatever the input is; ws's
 * CVE-2021-32640 was a regular expression that backtracked on long runs of spaces in
 * Sec-WebSocket-Protocol. Syntax errors give `null`, never an exception: header values come
 * from the peer.
 *
 * List syntax (RFC 9110 5.6.1): elements separated by commas with optional whitespace (OWS)
 * around them; "a recipient MUST accept empty list elements" ("a, , b" is the list a, b).
 * A header given as an array of values (Node's shape for repeated headers) is read as the
 * values joined with ", ", which RFC 9110 5.3 says is equivalent.
 */
import { UsageError } from '../core/errors.js';
import { isOws, isToken, TCHAR } from './syntax.js';

export type HeaderValue = string | readonly string[] | undefined;

export type ExtensionParam = [name: string, value: string | true];

export interface ExtensionOffer {
  name: string;
  params: ExtensionParam[];
}

export type ExtensionList = ExtensionOffer[];

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const SLASH = 0x2f;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function joinValue(value: HeaderValue): string | null {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(', ');
  return null;
}

function isTchar(c: number): boolean {
  return c < 0x100 && TCHAR[c] === 1;
}

/** Index of the first non-OWS character at or after `i`. */
function skipOws(s: string, i: number): number {
  while (i < s.length && isOws(s.charCodeAt(i))) i++;
  return i;
}

/** Index just past the token starting at `i` (equal to `i` if there is none). */
function scanToken(s: string, i: number): number {
  while (i < s.length && isTchar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Connection / Upgrade: `#token`, where an Upgrade element may be a product
 * (token "/" token, RFC 9110 7.8). Returns the elements lowercased (both headers compare
 * case-insensitively), `[]` for an absent or empty header, `null` on a syntax error.
 */
export function parseTokenList(value: HeaderValue): string[] | null {
  const s = joinValue(value);
  if (s === null) return null;
  const out: string[] = [];
  const n = s.length;
  let i = 0;
  for (;;) {
    i = skipOws(s, i);
    if (i === n) return out;
    if (s.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const start = i;
    i = scanToken(s, i);
    if (i === start) return null;
    if (s.charCodeAt(i) === SLASH) {
      const versionStart = ++i;
      i = scanToken(s, i);
      if (i === versionStart) return null;
    }
    out.push(s.slice(start, i).toLowerCase());
    i = skipOws(s, i);
    if (i === n) return out;
    if (s.charCodeAt(i) !== COMMA) return null;
    i++;
  }
}

/**
 * Whether the list parseTokenList(value) would return contains `token` (given in lowercase):
 * true/false, or null where parseTokenList returns null. The opening handshake checks Upgrade
 * and Connection this way on every connection; a single-token value builds no list.
 */
export function tokenListHas(value: HeaderValue, token: string): boolean | null {
  if (typeof value === 'string') {
    // The usual value is one bare token ("websocket", "Upgrade"): compare it in place.
    const n = value.length;
    if (n > 0 && scanToken(value, 0) === n) return n === token.length && equalsLowercase(value, 0, token);
  }
  const list = parseTokenList(value);
  return list === null ? null : list.includes(token);
}

/** s[start, start + lower.length) equals `lower` ASCII case-insensitively (`lower` is lowercase). */
function equalsLowercase(s: string, start: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    let c = s.charCodeAt(start + k);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * Sec-WebSocket-Protocol (RFC 6455 4.1: "The elements that comprise this value MUST be
 * non-empty strings with characters in the range U+0021 to U+007E not including separator
 * characters ... and MUST all be unique strings"): `1#token`, unique, case preserved
 * (subprotocol names compare case-sensitively). `null` on bad syntax, duplicates, or no
 * element at all.
 */
export function parseProtocolList(value: HeaderValue): string[] | null {
  const s = joinValue(value);
  if (s === null) return null;
  const out: string[] = [];
  const seen = new Set<string>();
  const n = s.length;
  let i = 0;
  for (;;) {
    i = skipOws(s, i);
    if (i === n) break;
    if (s.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const start = i;
    i = scanToken(s, i);
    if (i === start) return null;
    const token = s.slice(start, i);
    if (seen.has(token)) return null;
    seen.add(token);
    out.push(token);
    i = skipOws(s, i);
    if (i === n) break;
    if (s.charCodeAt(i) !== COMMA) return null;
    i++;
  }
  return out.length === 0 ? null : out;
}

/**
 * Sec-WebSocket-Extensions, RFC 6455 9.1:
 *
 *   extension-list = 1#extension
 *   extension      = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" (token | quoted-string) ]
 *       ; When using the quoted-string syntax variant, the value after quoted-string
 *       ; unescaping MUST conform to the 'token' ABNF.
 *
 * OWS is allowed around ",", ";" and "=". Names and values keep their case; repeated
 * extensions and repeated parameters are kept (what they mean is the extension's business,
 * e.g. RFC 7692 7 rejects repeated parameters). `null` on any syntax error or an empty list.
 */
export function parseExtensionList(value: HeaderValue): ExtensionList | null {
  const s = joinValue(value);
  if (s === null) return null;
  const out: ExtensionList = [];
  const n = s.length;
  let i = 0;
  for (;;) {
    i = skipOws(s, i);
    if (i === n) break;
    if (s.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const nameStart = i;
    i = scanToken(s, i);
    if (i === nameStart) return null;
    const ext: ExtensionOffer = { name: s.slice(nameStart, i), params: [] };
    i = skipOws(s, i);
    while (s.charCodeAt(i) === SEMICOLON) {
      i = skipOws(s, i + 1);
      const paramStart = i;
      i = scanToken(s, i);
      if (i === paramStart) return null;
      const paramName = s.slice(paramStart, i);
      i = skipOws(s, i);
      if (s.charCodeAt(i) !== EQUALS) {
        ext.params.push([paramName, true]);
        continue;
      }
      i = skipOws(s, i + 1);
      let paramValue: string;
      if (s.charCodeAt(i) === DQUOTE) {
        const q = scanQuotedToken(s, i);
        if (q === null) return null;
        paramValue = q.value;
        i = q.end;
      } else {
        const valueStart = i;
        i = scanToken(s, i);
        if (i === valueStart) return null;
        paramValue = s.slice(valueStart, i);
      }
      ext.params.push([paramName, paramValue]);
      i = skipOws(s, i);
    }
    out.push(ext);
    if (i === n) break;
    if (s.charCodeAt(i) !== COMMA) return null;
    i++;
  }
  return out.length === 0 ? null : out;
}

/**
 * A quoted-string starting at `i` (the opening DQUOTE), unescaped. Because the unescaped value
 * must be a token (RFC 6455 9.1), every character is checked as it is read and the scan stops
 * at the first one that is not a tchar: no quoted-string content beyond tchars and escapes of
 * tchars is ever needed.
 */
function scanQuotedToken(s: string, i: number): { value: string; end: number } | null {
  const n = s.length;
  i++;
  const start = i;
  let escaped = false;
  for (;;) {
    if (i >= n) return null; // unterminated
    let c = s.charCodeAt(i);
    if (c === DQUOTE) break;
    if (c === BACKSLASH) {
      escaped = true;
      i++;
      if (i >= n) return null;
      c = s.charCodeAt(i);
    }
    if (!isTchar(c)) return null;
    i++;
  }
  const end = i + 1;
  if (i === start) return null; // "" is not a token
  const raw = s.slice(start, i);
  if (!escaped) return { value: raw, end };
  // Drop each backslash (each one escapes the next char). Every kept char is an ASCII tchar,
  // so the result is written into bytes: no string is created per character.
  const bytes = Buffer.allocUnsafe(raw.length);
  let m = 0;
  for (let k = 0; k < raw.length; k++) {
    if (raw.charCodeAt(k) === BACKSLASH) k++;
    bytes[m++] = raw.charCodeAt(k);
  }
  return { value: bytes.toString('latin1', 0, m), end };
}

/**
 * Serialize an extension list for a Sec-WebSocket-Extensions header ("a; p=1; q, b").
 * Names and values must be tokens (what RFC 6455 9.1 allows after unescaping), so nothing is
 * ever quoted; anything else is caller misuse and throws UsageError.
 */
export function formatExtensionList(list: readonly ExtensionOffer[]): string {
  if (!Array.isArray(list)) {
    throw new UsageError('WS_ERR_INVALID_EXTENSION', 'formatExtensionList: expected an array of extensions');
  }
  const parts: string[] = [];
  for (const ext of list) {
    if (ext === null || typeof ext !== 'object' || !isToken(ext.name) || !Array.isArray(ext.params)) {
      throw new UsageError(
        'WS_ERR_INVALID_EXTENSION',
        `formatExtensionList: invalid extension ${safeJson(ext)} (the name must be a token and params an array)`,
      );
    }
    let part = ext.name;
    for (const param of ext.params) {
      const [name, value] = Array.isArray(param) ? param : [undefined, undefined];
      if (typeof name !== 'string' || !isToken(name)) {
        throw new UsageError(
          'WS_ERR_INVALID_EXTENSION',
          `formatExtensionList: invalid parameter name ${safeJson(name)} in ${ext.name}`,
        );
      }
      if (value === true) {
        part += `; ${name}`;
      } else if (typeof value === 'string' && isToken(value)) {
        part += `; ${name}=${value}`;
      } else {
        throw new UsageError(
          'WS_ERR_INVALID_EXTENSION',
          `formatExtensionList: the value of ${ext.name}; ${name} must be true or a token, got ${safeJson(value)}`,
        );
      }
    }
    parts.push(part);
  }
  return parts.join(', ');
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
