/**
 * The client side of the opening handshake (RFC 6455 4.1), as pure functions.
 *
 *   generateKey(randomFill) ─► buildUpgradeHeaders ─► (the Node layer's http.request sends them)
 *   the response's status and headers (node:http) ─► validateUpgradeResponse ─► protocol, extensions
 *
 * What the caller passes in is checked strictly (UsageError: a token list with a space, a
 * header value with CR/LF, ...). What the server sends back is a peer's input: failures are
 * returned as HandshakeError values with status 0, never thrown. Whether each extension the
 * server accepted was offered is left to the extension code (deflate), which knows its offer.
 */
import { type HandshakeError, UsageError } from '../core/errors.js';
import { acceptKey, isValidKey } from './accept.js';
import { clientHandshakeError, type HandshakeErrorCode, unexpectedStatusError } from './errors.js';
import { type ExtensionList, type HeaderValue, parseExtensionList, parseTokenList } from './header-lists.js';
import { isFieldValue, isOws, isToken, TARGET_CHAR } from './syntax.js';

export interface UpgradeHeadersOptions {
  /** From generateKey(). */
  key: string;
  /** The Sec-WebSocket-Version: 13 (RFC 6455, the default) or 8 (hybi-17, as ws offers it). */
  version?: 8 | 13;
  /** Subprotocols in order of preference: unique tokens. */
  protocols?: readonly string[];
  /** The extension offer, already formatted (formatExtensionList). */
  extensions?: string;
  /** The Origin (Sec-WebSocket-Origin with version 8): browsers always send one; others may. */
  origin?: string;
}

const HEADER_KEYS = new Set(['key', 'version', 'protocols', 'extensions', 'origin']);

function usage(message: string): UsageError {
  return new UsageError('WS_ERR_INVALID_OPTION', `buildUpgradeHeaders: ${message}`);
}

/**
 * The header fields that make a GET request a WebSocket opening handshake (RFC 6455 4.1), for
 * the HTTP client that sends it (node:http in the Node layer, which writes the request line,
 * Host and the user's own headers; these fields are set after them and take precedence, as ws
 * does). The names are written as ws writes them.
 */
export function buildUpgradeHeaders(opts: UpgradeHeadersOptions): Record<string, string> {
  if (opts === null || typeof opts !== 'object') throw usage('options must be an object');
  for (const k of Object.keys(opts)) {
    if (!HEADER_KEYS.has(k)) {
      throw usage(`unknown option ${JSON.stringify(k)} (expected ${[...HEADER_KEYS].join(', ')})`);
    }
  }
  const { key, version = 13, protocols = [], extensions, origin } = opts;
  if (!isValidKey(key)) throw usage('key must be the base64 encoding of 16 bytes (use generateKey)');
  if (version !== 13 && version !== 8) throw usage(`unsupported version ${String(version)} (13 or 8)`);
  checkOffer(protocols, extensions, origin, usage);
  // Item 9: "The request MUST include a header field with the name |Sec-WebSocket-Version|. The
  // value of this header field MUST be 13." Item 7: Sec-WebSocket-Key. Items 5-6: Upgrade
  // "websocket", Connection "Upgrade".
  const headers: Record<string, string> = {
    'Sec-WebSocket-Version': String(version),
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
  };
  // Item 10: the subprotocols, in order of preference (joined as ws joins them).
  if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  if (extensions !== undefined && extensions !== '') headers['Sec-WebSocket-Extensions'] = extensions;
  // Item 8: Origin (hybi-17 called it Sec-WebSocket-Origin).
  if (origin !== undefined) headers[version === 8 ? 'Sec-WebSocket-Origin' : 'Origin'] = origin;
  return headers;
}

/**
 * @internal The offer both opening handshakes send alike (subprotocols, extensions, Origin):
 * caller input, so a bad value throws through `usage`.
 */
export function checkOffer(
  protocols: readonly string[],
  extensions: string | undefined,
  origin: string | undefined,
  usage: (message: string) => UsageError,
): void {
  if (!Array.isArray(protocols)) throw usage('protocols must be an array of strings');
  const seen = new Set<string>();
  for (const p of protocols) {
    // RFC 6455 4.1 item 10: the elements "MUST be non-empty strings with characters in the
    // range U+0021 to U+007E not including separator characters ... and MUST all be unique".
    if (typeof p !== 'string' || !isToken(p)) {
      throw usage(`invalid subprotocol ${JSON.stringify(p)} (subprotocols must be HTTP tokens)`);
    }
    if (seen.has(p)) throw usage(`duplicate subprotocol ${JSON.stringify(p)}`);
    seen.add(p);
  }
  if (extensions !== undefined && extensions !== '') {
    if (typeof extensions !== 'string' || parseExtensionList(extensions) === null) {
      throw usage(`${JSON.stringify(extensions)} is not a valid Sec-WebSocket-Extensions value`);
    }
  }
  if (origin !== undefined && (typeof origin !== 'string' || origin === '' || !isFieldValue(origin))) {
    throw usage(`invalid origin ${JSON.stringify(origin)}`);
  }
}

/** @internal True if `s` holds a space or a tab (not allowed in a Host or :authority value). */
export function hasOws(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isOws(s.charCodeAt(i))) return true;
  return false;
}

/** @internal True if `s` is a request-target of visible ASCII only. */
export function isTarget(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TARGET_CHAR[c] === 0) return false;
  }
  return true;
}

export interface UpgradeResponse {
  statusCode: number;
  /** Lowercase names (http.ts ResponseHead or node:http IncomingMessage). */
  headers: Record<string, string | string[] | undefined>;
}

export interface ExpectedResponse {
  /** The Sec-WebSocket-Key that was sent. */
  key: string;
  /** The subprotocols that were offered ([] if none). */
  protocols: readonly string[];
}

export type ValidateResponseResult =
  | {
      ok: true;
      /** The subprotocol the server selected, '' if none (like WebSocket#protocol). */
      protocol: string;
      /** The extensions the server accepted, parsed ([] if none). */
      extensions: ExtensionList;
    }
  | { ok: false; error: HandshakeError };

function fail(code: HandshakeErrorCode): { ok: false; error: HandshakeError } {
  return { ok: false, error: clientHandshakeError(code) };
}

function single(value: string | string[] | undefined): string | undefined | null {
  if (value === undefined || typeof value === 'string') return value;
  return value.length === 1 && typeof value[0] === 'string' ? value[0] : null;
}

/**
 * RFC 6455 4.1: the client's checks of the server's handshake; on any failure "the client
 * MUST _Fail the WebSocket Connection_". The checks run in the RFC's order.
 */
export function validateUpgradeResponse(
  res: UpgradeResponse,
  expect: ExpectedResponse,
): ValidateResponseResult {
  if (
    expect === null ||
    typeof expect !== 'object' ||
    !isValidKey(expect.key) ||
    !Array.isArray(expect.protocols)
  ) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      'validateUpgradeResponse: expect must be { key: the Sec-WebSocket-Key sent, protocols: the subprotocols offered }',
    );
  }
  // 1. "If the status code received from the server is not 101, the client handles the
  // response per HTTP [RFC2616] procedures." For us that ends the handshake (the Node layer
  // may emit 'unexpected-response' first).
  if (res.statusCode !== 101) {
    return { ok: false, error: unexpectedStatusError(res.statusCode) };
  }

  const { headers } = res;
  // 2. "If the response lacks an |Upgrade| header field or the |Upgrade| header field contains
  // a value that is not an ASCII case-insensitive match for the value "websocket", the client
  // MUST _Fail the WebSocket Connection_."
  const upgrade = single(headers.upgrade);
  if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket')
    return fail('WS_ERR_HANDSHAKE_UPGRADE');

  // 3. "If the response lacks a |Connection| header field or the |Connection| header field
  // doesn't contain a token that is an ASCII case-insensitive match for the value "Upgrade",
  // the client MUST _Fail the WebSocket Connection_."
  const connection = parseTokenList(headers.connection as HeaderValue);
  if (connection === null || !connection.includes('upgrade')) return fail('WS_ERR_HANDSHAKE_CONNECTION');

  // 4. "If the response lacks a |Sec-WebSocket-Accept| header field or the
  // |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of the
  // concatenation of the |Sec-WebSocket-Key| ... the client MUST _Fail the WebSocket Connection_."
  const accept = single(headers['sec-websocket-accept']);
  if (typeof accept !== 'string' || accept !== acceptKey(expect.key)) return fail('WS_ERR_HANDSHAKE_ACCEPT');

  return validateNegotiated(headers, expect.protocols);
}

/**
 * @internal Items 5 and 6 of RFC 6455 4.1's checks (the extensions and the subprotocol the
 * server selected), shared with the HTTP/2 extended CONNECT: RFC 8441 5 uses the
 * Sec-WebSocket-Protocol and Sec-WebSocket-Extensions response header fields "as defined in
 * [RFC6455]".
 */
export function validateNegotiated(
  headers: UpgradeResponse['headers'],
  offered: readonly string[],
): ValidateResponseResult {
  // 5. "If the response includes a |Sec-WebSocket-Extensions| header field and this header
  // field indicates the use of an extension that was not present in the client's handshake
  // ..., the client MUST _Fail the WebSocket Connection_." Syntax here; "was it offered" is
  // the extension code's check.
  let extensions: ExtensionList = [];
  if (headers['sec-websocket-extensions'] !== undefined) {
    const list = parseExtensionList(headers['sec-websocket-extensions']);
    if (list === null) return fail('WS_ERR_HANDSHAKE_EXTENSION_RESPONSE');
    extensions = list;
  }

  // 6. "If the response includes a |Sec-WebSocket-Protocol| header field and this header
  // field indicates the use of a subprotocol that was not present in the client's handshake
  // ..., the client MUST _Fail the WebSocket Connection_." With no subprotocol offered, any
  // subprotocol in the response fails. With some offered, ws 8 also fails a response that
  // selects none (browsers open with protocol ''); code written for ws relies on it.
  let protocol = '';
  const selected = headers['sec-websocket-protocol'];
  if (selected !== undefined) {
    if (offered.length === 0) return fail('WS_ERR_HANDSHAKE_UNREQUESTED_PROTOCOL');
    const value = single(selected);
    if (typeof value !== 'string' || !offered.includes(value)) {
      return fail('WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL');
    }
    protocol = value;
  } else if (offered.length > 0) {
    return fail('WS_ERR_HANDSHAKE_NO_PROTOCOL');
  }

  return { ok: true, protocol, extensions };
}
