/**
 * The opening handshake of a WebSocket over one HTTP/2 stream (RFC 8441, the "extended
 * CONNECT"), both roles, as pure functions over header objects in node:http2's shape
 * (lowercase names, pseudo-headers with their colon).
 *
 *   client                                                server
 *   waits for SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
 *   (RFC 8441 3; the Node layer)
 *   buildConnectRequest ──HEADERS :method CONNECT ─────►  isExtendedConnect
 *                                 :protocol websocket     validateConnectRequest
 *                                                           │ok                      │fail
 *                                                         connectAcceptHeaders,    connectRejectHeaders
 *                                                         or buildConnectResponse  (4xx/501 + text body)
 *                                                         ─► 'headers' listeners
 *                                                         ─► connectResponseHeaders
 *   validateConnectResponse ◄──HEADERS :status 200 ───────┘
 *   then RFC 6455 frames, unchanged (masking included), in the DATA frames of that stream.
 *
 * What differs from HTTP/1.1 (RFC 8441 4 and 5): no Upgrade, Connection, Sec-WebSocket-Key or
 * Sec-WebSocket-Accept; :authority carries what Host carried; success is a 2xx, not a 101. The
 * Origin, Sec-WebSocket-Version, -Protocol and -Extensions fields are read as over HTTP/1.1, by
 * the same code (server.ts validateWebSocketFields, client.ts validateNegotiated), so the two
 * transports cannot drift apart.
 *
 * As in server.ts and client.ts, what the peer sent is judged and failures come back as
 * values; what the caller asks us to send is checked and misuse throws UsageError.
 */
import type { HandshakeError } from '../core/errors.js';
import { UsageError } from '../core/errors.js';
import { checkOffer, hasOws, isTarget, type ValidateResponseResult, validateNegotiated } from './client.js';
import { type HandshakeErrorCode, handshakeError, unexpectedStatusError } from './errors.js';
import type { ExtensionList } from './header-lists.js';
import {
  originSet,
  type RequestHeaders,
  single,
  type ValidateRequestOptions,
  validateWebSocketFields,
} from './server.js';
import { isFieldValue, isToken } from './syntax.js';

/** Response headers as node:http2's `stream.respond()` takes them. */
export type Http2ResponseHeaders = Record<string, string | string[] | number>;

/**
 * RFC 9113 8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
 * connection-specific header fields", and a message containing them "MUST be treated as
 * malformed". TE is allowed with the value "trailers" only (checked apart).
 */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
]);

function isConnectionSpecific(name: string, value: unknown): boolean {
  return CONNECTION_SPECIFIC.has(name) || (name === 'te' && value !== 'trailers');
}

/**
 * True if the request is an extended CONNECT (RFC 8441 4: a CONNECT bearing the :protocol
 * pseudo-header), whatever its protocol. Other requests (GETs, a classic CONNECT to a proxy)
 * are not WebSocket handshakes and belong to the application's other handlers.
 */
export function isExtendedConnect(headers: RequestHeaders): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined;
}

export type ValidateConnectResult =
  | {
      ok: true;
      /** Offered subprotocols, in the client's order of preference ([] if none). */
      protocols: string[];
      /** Offered extensions, parsed ([] if none); negotiation is the extension's job. */
      extensions: ExtensionList;
      /** Origin (version 13) or Sec-WebSocket-Origin (version 8), as sent. */
      origin: string | undefined;
      version: 8 | 13;
      /** The :authority pseudo-header: what Host is over HTTP/1.1. */
      authority: string;
      /** The :path pseudo-header: path and query, like an HTTP/1.1 request-target. */
      path: string;
      scheme: 'http' | 'https';
    }
  | {
      ok: false;
      /** `status` is the status to answer with over HTTP/2 (see connectRejectHeaders). */
      error: HandshakeError;
      /** Extra response headers the refusal must carry (lowercase names, no :status). */
      headers: Record<string, string>;
    };

function reject(code: HandshakeErrorCode, detail?: string): ValidateConnectResult & { ok: false } {
  switch (code) {
    case 'WS_ERR_HANDSHAKE_CONNECT_METHOD':
      // RFC 9110 15.5.6: "The origin server MUST generate an Allow header field in a 405".
      return { ok: false, error: handshakeError(code, detail), headers: { allow: 'CONNECT' } };
    case 'WS_ERR_HANDSHAKE_VERSION':
      // RFC 6455 4.4: the versions we speak. (Its "such as 426 Upgrade Required" could not
      // apply here anyway: a 426 "MUST send an Upgrade header field", RFC 9110 15.5.22, which
      // HTTP/2 forbids.)
      return {
        ok: false,
        error: handshakeError(code, detail),
        headers: { 'sec-websocket-version': '13, 8' },
      };
    default:
      return { ok: false, error: handshakeError(code, detail), headers: {} };
  }
}

/**
 * Judge an extended CONNECT (RFC 8441 4 and 5) the way validateUpgradeRequest judges an
 * HTTP/1.1 upgrade, with the same options. The first failure is reported, in this order:
 * method and :protocol, pseudo-headers, connection-specific fields, then the RFC 6455 fields
 * (version, path, subprotocols, extensions, origin) exactly as over HTTP/1.1.
 */
export function validateConnectRequest(
  headers: RequestHeaders,
  options?: ValidateRequestOptions,
): ValidateConnectResult {
  const allowed = originSet(options, 'validateConnectRequest');
  if (headers === null || typeof headers !== 'object') {
    throw new UsageError('WS_ERR_INVALID_OPTION', 'validateConnectRequest: headers must be an object');
  }
  // RFC 8441 4: "A new pseudo-header field :protocol MAY be included on request HEADERS
  // indicating the desired protocol to be spoken on the tunnel created by CONNECT."
  if (!isExtendedConnect(headers)) return reject('WS_ERR_HANDSHAKE_CONNECT_METHOD');
  // RFC 8441 5: "The :protocol pseudo-header field MUST be included in the CONNECT request,
  // and it MUST have a value of "websocket"".
  if (headers[':protocol'] !== 'websocket') return reject('WS_ERR_HANDSHAKE_CONNECT_PROTOCOL');

  // RFC 8441 4: "On requests that contain the :protocol pseudo-header field, the :scheme and
  // :path pseudo-header fields of the target URI ... MUST also be included." 5: the scheme
  // "MUST be "https" for "wss"-schemed WebSockets and "http" for "ws"-schemed WebSockets".
  const scheme = headers[':scheme'];
  const path = headers[':path'];
  const authority = single(headers[':authority']);
  if (scheme !== 'http' && scheme !== 'https') return reject('WS_ERR_HANDSHAKE_CONNECT_PSEUDO');
  // RFC 9113 8.3.1: :path "MUST NOT be empty for "http" or "https" URIs".
  if (typeof path !== 'string' || path.charCodeAt(0) !== 0x2f || !isTarget(path)) {
    return reject('WS_ERR_HANDSHAKE_CONNECT_PSEUDO');
  }
  // RFC 8441 4: "The Host information is conveyed as part of the :authority pseudo-header
  // field, which is required on every HTTP/2 transaction."
  if (typeof authority !== 'string' || authority === '' || hasOws(authority) || !isFieldValue(authority)) {
    return reject('WS_ERR_HANDSHAKE_CONNECT_PSEUDO');
  }

  // RFC 8441 4: "[RFC6455] requires the use of Connection and Upgrade header fields that are
  // not part of HTTP/2. They MUST NOT be included in the CONNECT request defined here."
  for (const name of Object.keys(headers)) {
    if (isConnectionSpecific(name, headers[name])) {
      return reject('WS_ERR_HANDSHAKE_MALFORMED', 'connection-specific header field in HTTP/2');
    }
  }
  // Sec-WebSocket-Key, if sent, is ignored: RFC 8441 4 "Implementations using this extended
  // CONNECT to bootstrap WebSockets do not do the processing of the Sec-WebSocket-Key and
  // Sec-WebSocket-Accept header fields of [RFC6455]".
  const fields = validateWebSocketFields(headers, allowed, options);
  if (!fields.ok) return reject(fields.error.code as HandshakeErrorCode);
  return {
    ok: true,
    protocols: fields.protocols,
    extensions: fields.extensions,
    origin: fields.origin,
    version: fields.version,
    authority,
    path,
    scheme,
  };
}

// ---------------------------------------------------------------------------------------
// Server responses

/**
 * The success response as header object, for a server with no 'headers' listener; like
 * acceptResponseText(), the inputs must already be valid (`protocol` one the client offered,
 * `extensions` what the extension negotiation formatted).
 */
export function connectAcceptHeaders(protocol?: string, extensions?: string): Http2ResponseHeaders {
  // RFC 8441 5.1's example answers ":status = 200" (RFC 9110 9.3.6: a 2xx to a CONNECT
  // switches the stream to tunnel mode).
  const out: Http2ResponseHeaders = { ':status': 200 };
  if (protocol !== undefined && protocol !== '') out['sec-websocket-protocol'] = protocol;
  if (extensions !== undefined && extensions !== '') out['sec-websocket-extensions'] = extensions;
  return out;
}

/** The first line of buildConnectResponse()'s lines, standing where the 101 status line stands. */
export const CONNECT_STATUS_LINE = 'HTTP/2 200';

/**
 * The success response as lines ("HTTP/2 200", then "name: value"), the shape a 'headers'
 * listener receives over HTTP/1.1, so code written for ws that pushes "Set-Cookie: ..." works
 * unchanged over HTTP/2. connectResponseHeaders() turns them into the header object.
 */
export function buildConnectResponse(opts: { protocol?: string; extensions?: string }): string[] {
  if (opts === null || typeof opts !== 'object') {
    throw new UsageError('WS_ERR_INVALID_OPTION', 'buildConnectResponse: options must be an object');
  }
  const { protocol, extensions } = opts;
  const lines = [CONNECT_STATUS_LINE];
  if (protocol !== undefined && protocol !== '') {
    if (!isToken(protocol)) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `buildConnectResponse: the subprotocol ${JSON.stringify(protocol)} is not a token`,
      );
    }
    lines.push(`sec-websocket-protocol: ${protocol}`);
  }
  if (extensions !== undefined && extensions !== '') {
    checkOffer(
      [],
      extensions,
      undefined,
      (m) => new UsageError('WS_ERR_INVALID_OPTION', `buildConnectResponse: ${m}`),
    );
    lines.push(`sec-websocket-extensions: ${extensions}`);
  }
  return lines;
}

/**
 * Lines (from buildConnectResponse, maybe extended by 'headers' listeners) to the header object
 * for `stream.respond()`. Names are lowercased (RFC 9113 8.2.1: "A field name MUST NOT contain
 * characters in the ranges 0x41 to 0x5a"); a repeated name (Set-Cookie) becomes an array. A line
 * that responseField() refuses, or a changed status line, is caller misuse and throws.
 */
export function connectResponseHeaders(lines: readonly string[]): Http2ResponseHeaders {
  if (!Array.isArray(lines) || lines[0] !== CONNECT_STATUS_LINE) {
    throw new UsageError(
      'WS_ERR_INVALID_HEADER',
      `connectResponseHeaders: expected the lines of buildConnectResponse, starting with "${CONNECT_STATUS_LINE}"`,
    );
  }
  const out: Http2ResponseHeaders = { ':status': 200 };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const field =
      typeof line === 'string'
        ? responseField(line)
        : `invalid response line ${JSON.stringify(line)} (expected "Name: value")`;
    if (typeof field === 'string') {
      throw new UsageError('WS_ERR_INVALID_HEADER', `connectResponseHeaders: ${field}`);
    }
    appendHeader(out, field[0], field[1]);
  }
  return out;
}

/**
 * @internal The lines a 'headers' listener left after the status line, as the header object for
 * `stream.respond()`, in one pass: the lines connectResponseHeaders() takes, the others left out
 * instead of thrown, as over HTTP/1.1 (server.ts headerLines). A value that is not a string is
 * read as its `String()`, as ws joins the lines.
 */
export function sendableConnectHeaders(fields: readonly unknown[]): Http2ResponseHeaders {
  const out: Http2ResponseHeaders = { ':status': 200 };
  for (const line of fields) {
    const field = responseField(typeof line === 'string' ? line : String(line));
    if (typeof field !== 'string') appendHeader(out, field[0], field[1]);
  }
  return out;
}

/**
 * One response line as the field to send over HTTP/2, [lowercased name, trimmed value], or why
 * it cannot be sent: it is not one line of a response (control characters), not "Name: value",
 * or fieldProblem() refuses its field. The one verdict for both readers above.
 */
function responseField(line: string): [name: string, value: string] | string {
  const colon = line.indexOf(':');
  if (colon <= 0) return `invalid response line ${JSON.stringify(line)} (expected "Name: value")`;
  if (!isFieldValue(line)) {
    return `invalid response line ${JSON.stringify(line)} (control characters such as CR/LF, or characters above U+00FF, are not allowed)`;
  }
  const name = line.slice(0, colon).toLowerCase();
  const value = line.slice(colon + 1).trim();
  return fieldProblem(name, value) ?? [name, value];
}

/**
 * Why a field we are asked to send cannot be: a name that is not a token, a value with control
 * characters (header injection), or a field HTTP/2 forbids. Undefined: it can.
 */
function fieldProblem(name: string, value: string): string | undefined {
  if (!isToken(name)) return `invalid header name ${JSON.stringify(name)}`;
  if (!isFieldValue(value)) {
    return `invalid header value for ${JSON.stringify(name)} (control characters such as CR/LF, or characters above U+00FF, are not allowed)`;
  }
  if (isConnectionSpecific(name, value)) {
    return `${JSON.stringify(name)} is a connection-specific header field, which HTTP/2 forbids (RFC 9113 8.2.2)`;
  }
  return undefined;
}

/** A field we are asked to send (fieldProblem()): caller misuse throws. */
function checkField(name: string, value: string, where: string): void {
  const problem = fieldProblem(name, value);
  if (problem !== undefined) throw new UsageError('WS_ERR_INVALID_HEADER', `${where}: ${problem}`);
}

function addHeader(out: Http2ResponseHeaders, name: string, value: string, where: string): void {
  checkField(name, value, where);
  appendHeader(out, name, value);
}

function appendHeader(out: Http2ResponseHeaders, name: string, value: string): void {
  const prev = out[name];
  if (prev === undefined) out[name] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[name] = [String(prev), value];
}

/** Names a refusal's extra headers may not set: the ones connectRejectHeaders writes itself. */
const REJECT_RESERVED = new Set(['content-type', 'content-length']);

/**
 * The response headers refusing a handshake with `status` (the body, sent by the caller, is the
 * error message as UTF-8 text, never HTML). `headers` are extra fields (the `headers` of a failed
 * validateConnectRequest, or what a verifyClient callback passed); names are lowercased.
 */
export function connectRejectHeaders(status: number, headers?: Record<string, string>): Http2ResponseHeaders {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      `connectRejectHeaders: status must be an integer 200-599, got ${status}`,
    );
  }
  const out: Http2ResponseHeaders = { ':status': status, 'content-type': 'text/plain; charset=utf-8' };
  if (headers === undefined) return out;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new UsageError(
      'WS_ERR_INVALID_HEADER',
      'connectRejectHeaders: headers must be an object of strings',
    );
  }
  for (const key of Object.keys(headers)) {
    const name = key.toLowerCase();
    if (REJECT_RESERVED.has(name)) {
      throw new UsageError(
        'WS_ERR_INVALID_HEADER',
        `connectRejectHeaders: header ${JSON.stringify(key)} is set by the handshake itself and cannot be given in headers`,
      );
    }
    const value = headers[key];
    if (typeof value !== 'string') {
      throw new UsageError(
        'WS_ERR_INVALID_HEADER',
        `connectRejectHeaders: the value of header ${JSON.stringify(key)} must be a string`,
      );
    }
    addHeader(out, name, value, 'connectRejectHeaders');
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Client

export interface ConnectRequestOptions {
  /** :authority, what Host is over HTTP/1.1: "example.com", "example.com:8443", "[::1]:8443". */
  authority: string;
  /** :path: path and query, "/chat?room=1". */
  path: string;
  /** RFC 8441 5: "https" for wss:// URIs, "http" for ws:// URIs. */
  scheme: 'http' | 'https';
  /** Subprotocols in order of preference: unique tokens. */
  protocols?: readonly string[];
  /** The extension offer, already formatted (formatExtensionList). */
  extensions?: string;
  origin?: string;
  /**
   * Extra headers (names are lowercased). "Host" replaces the authority; the WebSocket fields,
   * pseudo-headers and connection-specific fields cannot be given here.
   */
  headers?: Record<string, string>;
}

const REQUEST_KEYS = new Set(['authority', 'path', 'scheme', 'protocols', 'extensions', 'origin', 'headers']);
const REQUEST_RESERVED = new Set([
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/** The extended CONNECT request's headers, for `session.request(headers, { endStream: false })`. */
export function buildConnectRequest(opts: ConnectRequestOptions): Record<string, string> {
  const usage = (message: string) =>
    new UsageError('WS_ERR_INVALID_OPTION', `buildConnectRequest: ${message}`);
  if (opts === null || typeof opts !== 'object') throw usage('options must be an object');
  for (const k of Object.keys(opts)) {
    if (!REQUEST_KEYS.has(k)) {
      throw usage(`unknown option ${JSON.stringify(k)} (expected ${[...REQUEST_KEYS].join(', ')})`);
    }
  }
  const { path, scheme, protocols = [], extensions, origin } = opts;
  let { authority } = opts;
  if (scheme !== 'http' && scheme !== 'https')
    throw usage(`invalid scheme ${JSON.stringify(scheme)} (http or https)`);
  if (typeof path !== 'string' || path.charCodeAt(0) !== 0x2f || !isTarget(path)) {
    throw usage(`invalid path ${JSON.stringify(path)} (must start with "/" and contain only visible ASCII)`);
  }
  checkOffer(protocols, extensions, origin, usage);
  const extra: Record<string, string> = {};
  if (opts.headers !== undefined) {
    if (opts.headers === null || typeof opts.headers !== 'object' || Array.isArray(opts.headers)) {
      throw usage('headers must be an object of strings');
    }
    for (const key of Object.keys(opts.headers)) {
      const name = key.toLowerCase();
      const value = opts.headers[key];
      if (typeof value !== 'string')
        throw usage(`the value of header ${JSON.stringify(key)} must be a string`);
      if (REQUEST_RESERVED.has(name)) {
        throw usage(
          `header ${JSON.stringify(key)} is set by the handshake itself and cannot be given in headers`,
        );
      }
      if (name === 'host') {
        // RFC 9113 8.3.1: a client "MUST NOT generate a request with a Host header field that
        // differs from the :authority": a Host given for HTTP/1.1 becomes the :authority.
        authority = value;
        continue;
      }
      // An Origin given here replaces the origin option (the user's headers win over options, as over HTTP/1.1).
      checkField(name, value, 'buildConnectRequest');
      extra[name] = value;
    }
  }
  if (typeof authority !== 'string' || authority === '' || !isFieldValue(authority) || hasOws(authority)) {
    throw usage(`invalid authority ${JSON.stringify(authority)}`);
  }
  // RFC 8441 5.1's example, field for field.
  const out: Record<string, string> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': scheme,
    ':path': path,
    ':authority': authority,
  };
  if (protocols.length > 0) out['sec-websocket-protocol'] = protocols.join(', ');
  // RFC 8441 5: Sec-WebSocket-Version is used "as defined in [RFC6455]" (4.1 item 9: "MUST be 13").
  out['sec-websocket-version'] = '13';
  if (extensions !== undefined && extensions !== '') out['sec-websocket-extensions'] = extensions;
  if (origin !== undefined) out.origin = origin;
  Object.assign(out, extra);
  return out;
}

export interface ConnectResponse {
  /** The :status pseudo-header. */
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
}

/**
 * The client's checks of the server's answer (RFC 8441 5 with RFC 6455 4.1 items 5 and 6); a
 * failure means the client MUST fail the WebSocket connection. There is no Sec-WebSocket-Accept
 * to check (RFC 8441 4).
 */
export function validateConnectResponse(
  res: ConnectResponse,
  expect: { protocols: readonly string[] },
): ValidateResponseResult {
  if (expect === null || typeof expect !== 'object' || !Array.isArray(expect.protocols)) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      'validateConnectResponse: expect must be { protocols: the subprotocols offered }',
    );
  }
  // RFC 9110 9.3.6: "Any 2xx (Successful) response indicates that the sender (and all inbound
  // proxies) will switch to tunnel mode immediately after the response header section".
  const status = res.status;
  if (!Number.isInteger(status) || status < 200 || status > 299) {
    return { ok: false, error: unexpectedStatusError(status) };
  }
  return validateNegotiated(res.headers as Record<string, string | string[] | undefined>, expect.protocols);
}
