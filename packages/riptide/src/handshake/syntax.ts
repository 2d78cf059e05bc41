/**
 * Character classes of RFC 9110 / RFC 9112 as 256-entry lookup tables, and the checks that
 * guard every header this library writes. Everything here is a table lookup per byte: no
 * regular expressions, so no input can make a check slower than linear.
 */
import { UsageError } from '../core/errors.js';

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

/**
 * RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 */
export const TCHAR = table(
  (c) =>
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)),
);

/** RFC 9110 5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB inside a field value. */
export const FIELD_VALUE_CHAR = table((c) => c === 0x09 || (c >= 0x20 && c <= 0x7e) || c >= 0x80);

/**
 * RFC 5234 B.1: CTL = %x00-1F / %x7F, without HTAB (allowed in field values), CR and LF (line
 * endings, decided apart). No part of an HTTP/1.1 head may hold one of these.
 */
export const HEAD_CTL = table((c) => (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f);

/** Bytes allowed in a request-target: VCHAR only (no SP, no CTL, no obs-text). */
export const TARGET_CHAR = table((c) => c >= 0x21 && c <= 0x7e);

/** RFC 9110 5.6.3: OWS = *( SP / HTAB ) */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** True if `s` is a non-empty RFC 9110 token. */
export function isToken(s: string): boolean {
  if (typeof s !== 'string' || s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] === 0) return false;
  }
  return true;
}

/** True if every character of `s` may appear in a field value (so no CR, LF or NUL). */
export function isFieldValue(s: string): boolean {
  if (typeof s !== 'string') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE_CHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Caller misuse guard for headers we write: a name must be a token and a value must hold no
 * CR, LF, NUL or other control character, so header injection is impossible.
 */
export function assertHeader(name: string, value: string, where: string): void {
  if (!isToken(name)) {
    throw new UsageError('WS_ERR_INVALID_HEADER', `${where}: invalid header name ${JSON.stringify(name)}`);
  }
  if (!isFieldValue(value)) {
    throw new UsageError(
      'WS_ERR_INVALID_HEADER',
      `${where}: invalid header value for ${JSON.stringify(name)} (control characters such as CR/LF, or characters above U+00FF, are not allowed)`,
    );
  }
}

/**
 * Validate a caller-supplied headers object (own enumerable string keys, string values) and
 * refuse the names this module writes itself.
 */
export function checkExtraHeaders(
  headers: Record<string, string> | undefined,
  reserved: ReadonlySet<string>,
  where: string,
): Array<[string, string]> {
  if (headers === undefined) return [];
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new UsageError('WS_ERR_INVALID_HEADER', `${where}: headers must be an object of strings`);
  }
  const out: Array<[string, string]> = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (typeof value !== 'string') {
      throw new UsageError(
        'WS_ERR_INVALID_HEADER',
        `${where}: the value of header ${JSON.stringify(name)} must be a string`,
      );
    }
    assertHeader(name, value, where);
    if (reserved.has(name.toLowerCase())) {
      throw new UsageError(
        'WS_ERR_INVALID_HEADER',
        `${where}: header ${JSON.stringify(name)} is set by the handshake itself and cannot be given in headers`,
      );
    }
    out.push([name, value]);
  }
  return out;
}
