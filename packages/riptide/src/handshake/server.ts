/**
 * The server side of the opening handshake (RFC 6455 4.2), as pure functions.
 *
 *   request head ──► validateUpgradeRequest ──ok──► buildAcceptResponse ──► ('headers' event
 *   (parsed by       (RFC 6455 4.2.1 checks,        (101 lines)             may append lines)
 *   http.ts or by     in RFC order)                                          │
 *   node:http)             │                                                 ▼
 *                          └─fail─► buildErrorResponse(error)           serializeResponse
 *                                   (4xx with Connection: close)        (bytes to write)
 *
 * Before calling validateUpgradeRequest, a server that also serves plain HTTP uses
 * isUpgradeRequest(): a request that does not ask for websocket at all is not a broken
 * handshake but a plain request, answered 426 (WS_ERR_HANDSHAKE_UPGRADE_REQUIRED) or passed
 * on to the HTTP handler.
 *
 * Peer errors come back as values; caller misuse (bad options, header injection attempts in
 * what the caller asks us to write) throws UsageError.
 */
import type { HandshakeError } from '../core/errors.js';
import { UsageError } from '../core/errors.js';
import { ACCEPT_LENGTH, acceptKey, isValidKey, writeAcceptKey } from './accept.js';
import { handshakeError } from './errors.js';
import {
  type ExtensionList,
  type HeaderValue,
  parseExtensionList,
  parseProtocolList,
  tokenListHas,
} from './header-lists.js';
import { checkExtraHeaders, isFieldValue, isToken } from './syntax.js';

export type RequestHeaders = Record<string, string | string[] | undefined>;

export interface UpgradeRequest {
  /** Optional only so node:http's IncomingMessage (method?: string) fits; missing fails as 405. */
  method?: string;
  /** As node:http reports it: '1.1', '1.0', '2.0'. */
  httpVersion: string;
  url?: string;
  /** Lowercase names, as node:http's IncomingMessage.headers or http.ts's RequestHead. */
  headers: RequestHeaders;
}

export interface ValidateRequestOptions {
  /**
   * Origins allowed to connect ("https://example.com", "http://localhost:8080", "null").
   * When given (not null/undefined), a request whose Origin header is missing or not on the
   * list is refused with 403. Schemes and hosts compare case-insensitively, ports exactly
   * (a scheme's default port may be written or left out).
   */
  allowedOrigins?: readonly string[] | null;
  /**
   * Check the Sec-WebSocket-Extensions header's syntax (default true). A server that accepts no
   * extension passes false: the header is then ignored, as ws ignores it without permessage-deflate.
   */
  extensions?: boolean;
  /**
   * The server's path check (ws's shouldHandle()), run where ws runs it; false: 400 Bad Request.
   * validateUpgradeRequest passes it the request it validates (validateConnectRequest: nothing).
   */
  shouldHandle?: (req?: UpgradeRequest) => boolean;
}

/**
 * ValidateRequestOptions checked and prepared once (the allowed origins in canonical form), for
 * a server that validates every request with the same options: validateUpgradeRequest then does
 * no per-request work on them and allocates nothing for them (no options object, no origin set).
 * The allowed origins are read here, once: a later change to the array is not seen.
 */
export class ValidateSettings {
  readonly options: ValidateRequestOptions;
  /** @internal The canonical allowed origins, or null for no origin check. */
  readonly allowed: ReadonlySet<string> | null;

  constructor(options: ValidateRequestOptions) {
    this.allowed = originSet(options, 'ValidateSettings');
    this.options = options;
  }
}

export type ValidateRequestResult =
  | {
      ok: true;
      key: string;
      /** Offered subprotocols, in the client's order of preference ([] if none, frozen). */
      protocols: string[];
      /** Offered extensions, parsed ([] if none, frozen); negotiation is the extension's job. */
      extensions: ExtensionList;
      /** Origin (version 13) or Sec-WebSocket-Origin (version 8), as sent. */
      origin: string | undefined;
      version: 8 | 13;
    }
  | {
      ok: false;
      error: HandshakeError;
      /** Headers the rejection must carry (e.g. Allow: GET for 405); see rejectionHeaders(). */
      headers: Record<string, string>;
    };

/**
 * One value of a header that must appear once; arrays (repeated lines) count as invalid.
 * @internal
 */
export function single(value: string | string[] | undefined): string | undefined | null {
  if (value === undefined || typeof value === 'string') return value;
  return value.length === 1 && typeof value[0] === 'string' ? value[0] : null;
}

/**
 * True if the request asks for a protocol upgrade: an Upgrade header and the "upgrade" token in
 * Connection (RFC 9110 7.8), node:http's rule for its 'upgrade' event. Such a request goes to
 * the handshake, which answers 400 if it is not a valid WebSocket one; any other request is a
 * plain HTTP request (426 from a WebSocket-only port), as with ws over node:http.
 */
export function isUpgradeRequest(headers: RequestHeaders): boolean {
  return headers.upgrade !== undefined && tokenListHas(headers.connection as HeaderValue, 'upgrade') === true;
}

const VALIDATE_OPTION_KEYS = new Set(['allowedOrigins', 'extensions', 'shouldHandle']);

/**
 * RFC 6455 4.2.1: "The client's opening handshake consists of the following parts. If the
 * server, while reading the handshake, finds that the client did not send a handshake that
 * matches the description below ..., the server MUST stop processing the client's handshake
 * and return an HTTP response with an appropriate error code (such as 400 Bad Request)."
 * The checks run in ws 8's order (method, Upgrade, key, version, path, subprotocols,
 * extensions), with riptide's stricter RFC checks where they belong; the first failure is
 * reported, so a request broken in two ways gets the same answer from both servers.
 */
export function validateUpgradeRequest(
  req: UpgradeRequest,
  options?: ValidateRequestOptions | ValidateSettings,
): ValidateRequestResult {
  let allowed: ReadonlySet<string> | null;
  if (options instanceof ValidateSettings) {
    allowed = options.allowed;
    options = options.options;
  } else {
    allowed = originSet(options, 'validateUpgradeRequest');
  }
  const { headers } = req;

  // 1. "An HTTP/1.1 or higher GET request". RFC 9110 15.5.6: a 405 "MUST generate an Allow
  // header field".
  if (req.method !== 'GET') return reject('WS_ERR_HANDSHAKE_METHOD');
  if (!isHttp11OrHigher(req.httpVersion)) return reject('WS_ERR_HANDSHAKE_HTTP_VERSION');

  // 2. "A |Host| header field containing the server's authority."
  const host = single(headers.host);
  if (host === undefined || host === null || host === '') return reject('WS_ERR_HANDSHAKE_MISSING_HOST');

  // 3. "An |Upgrade| header field containing the value "websocket", treated as an ASCII
  // case-insensitive value."
  if (tokenListHas(headers.upgrade as HeaderValue, 'websocket') !== true)
    return reject('WS_ERR_HANDSHAKE_UPGRADE');

  // 4. "A |Connection| header field that includes the token "Upgrade", treated as an ASCII
  // case-insensitive value." (e.g. "keep-alive, Upgrade" from Firefox)
  if (tokenListHas(headers.connection as HeaderValue, 'upgrade') !== true) {
    return reject('WS_ERR_HANDSHAKE_CONNECTION');
  }

  // 5. "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded,
  // is 16 bytes in length."
  const key = single(headers['sec-websocket-key']);
  if (!isValidKey(key)) return reject('WS_ERR_HANDSHAKE_KEY');

  // The result itself (with the key): no second object per handshake.
  const fields = validateWebSocketFields(headers, allowed, options, req, key);
  if (!fields.ok) return fields;

  // Last, so every request ws 8 refuses gets ws's answer: no body. The bytes after the head are
  // the connection's first frames once the 101 is sent, so a body would be parsed as frames and
  // fail the connection with 1002 (ws does exactly that); refusing here says why, in HTTP.
  const body = requestBody(headers);
  if (body !== null) return reject('WS_ERR_HANDSHAKE_BODY', body);
  return fields;
}

/**
 * The offers of a request that makes none: shared by every such result (frozen), so a handshake
 * without them allocates no empty arrays.
 */
const NO_PROTOCOLS: string[] = Object.freeze([]) as unknown as string[];
const NO_EXTENSIONS: ExtensionList = Object.freeze([]) as unknown as ExtensionList;

/** What validateWebSocketFields reads from a request: version, offers and origin. */
export interface WebSocketFields {
  ok: true;
  /** The Sec-WebSocket-Key it was given (HTTP/1.1), or '' (HTTP/2 has none). */
  key: string;
  /** Offered subprotocols, in the client's order of preference ([] if none). */
  protocols: string[];
  /** Offered extensions, parsed ([] if none). */
  extensions: ExtensionList;
  /** Origin (version 13) or Sec-WebSocket-Origin (version 8), as sent. */
  origin: string | undefined;
  version: 8 | 13;
}

/**
 * @internal The header fields both opening handshakes read alike: RFC 6455 4.2.1 items 6, 8,
 * 9 and 7, in that order, with the path check (options.shouldHandle) where ws makes it. RFC
 * 8441 5 keeps them for the HTTP/2 extended CONNECT: "The Origin [RFC6454],
 * Sec-WebSocket-Version, Sec-WebSocket-Protocol, and Sec-WebSocket-Extensions header fields are
 * used in the CONNECT request and response header fields as defined in [RFC6455]." `allowed`
 * comes from originSet(options); `req` (HTTP/1.1 only) is what shouldHandle is given.
 */
export function validateWebSocketFields(
  headers: RequestHeaders,
  allowed: ReadonlySet<string> | null,
  options: ValidateRequestOptions | undefined,
  req?: UpgradeRequest,
  key = '',
): WebSocketFields | (ValidateRequestResult & { ok: false }) {
  // 6. "A |Sec-WebSocket-Version| header field, with a value of 13." RFC 6455 4.4: a server
  // that does not speak the requested version answers with "a |Sec-WebSocket-Version| header
  // field containing all versions it is willing to use". Like ws we also accept 8 (the
  // hybi-17 draft: the same framing, its origin in Sec-WebSocket-Origin).
  // The value is compared as a string, exactly "13" or "8" (ws 8.23.1; 8.23.0 read `+value` and
  // took "13.0", "0xd", "013"). A request built in code rather than parsed may carry the number
  // (@fastify/websocket's injectWS() does): the numbers 13 and 8 count as those values, where
  // ws 8.23.1 answers 400 (a deliberate difference, docs/node-layer.md). A header read from the
  // wire is always a string, so this takes nothing more from the network.
  const raw: unknown = headers['sec-websocket-version'];
  const versionValue = typeof raw === 'number' ? String(raw) : single(headers['sec-websocket-version']);
  const version = versionValue === '13' ? 13 : versionValue === '8' ? 8 : 0;
  if (version === 0) return reject('WS_ERR_HANDSHAKE_VERSION');

  if (options?.shouldHandle !== undefined && !options.shouldHandle(req))
    return reject('WS_ERR_HANDSHAKE_PATH');

  // 8. "Optionally, a |Sec-WebSocket-Protocol| header field, with a list of values
  // indicating which protocols the client would like to speak, ordered by preference."
  let protocols = NO_PROTOCOLS;
  if (headers['sec-websocket-protocol'] !== undefined) {
    const list = parseProtocolList(headers['sec-websocket-protocol']);
    if (list === null) return reject('WS_ERR_HANDSHAKE_PROTOCOL');
    protocols = list;
  }

  // 9. "Optionally, a |Sec-WebSocket-Extensions| header field" (syntax of RFC 6455 9.1).
  let extensions = NO_EXTENSIONS;
  if (headers['sec-websocket-extensions'] !== undefined && options?.extensions !== false) {
    const list = parseExtensionList(headers['sec-websocket-extensions']);
    if (list === null) return reject('WS_ERR_HANDSHAKE_EXTENSIONS');
    extensions = list;
  }

  // 7. Origin, checked last so a syntactically broken request is reported as such first.
  // RFC 6455 4.2.2 item 4: "If the server does not wish to accept this connection, it MUST
  // return an appropriate HTTP error code (e.g., 403 Forbidden)". 10.2: the Origin header
  // protects against browser scripts of unauthorized origins.
  const origin = single(version === 8 ? headers['sec-websocket-origin'] : headers.origin) ?? undefined;
  if (allowed !== null) {
    const canonical = origin === undefined ? null : canonicalOrigin(origin);
    if (canonical === null || !allowed.has(canonical)) return reject('WS_ERR_HANDSHAKE_ORIGIN');
  }
  return { ok: true, key, protocols, extensions, origin, version };
}

/**
 * The header announcing a request body (RFC 9112 6.1-6.3), or null for none: any
 * Transfer-Encoding, or a Content-Length other than 0 (an invalid or repeated one included,
 * since its framing is unknown). `Content-Length: 0` is no body and is accepted.
 */
function requestBody(headers: RequestHeaders): string | null {
  if (headers['transfer-encoding'] !== undefined) return 'Transfer-Encoding';
  const length = headers['content-length'];
  if (length === undefined) return null;
  const value = single(length);
  if (typeof value !== 'string' || value === '') return 'Content-Length';
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) !== 0x30) return 'Content-Length';
  }
  return null;
}

function reject(
  code: Parameters<typeof handshakeError>[0],
  detail?: string,
): ValidateRequestResult & { ok: false } {
  const error = handshakeError(code, detail);
  return { ok: false, error, headers: rejectionHeaders(error) };
}

function isHttp11OrHigher(version: string): boolean {
  if (typeof version !== 'string') return false;
  const dot = version.indexOf('.');
  if (dot <= 0 || dot === version.length - 1) return false;
  const major = Number(version.slice(0, dot));
  const minor = Number(version.slice(dot + 1));
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return false;
  return major > 1 || (major === 1 && minor >= 1);
}

/**
 * Extra headers a rejection must carry for its error code:
 * - 405: RFC 9110 15.5.6 "The origin server MUST generate an Allow header field".
 * - 426: RFC 9110 15.5.22 "The server MUST send an Upgrade header field in a 426 response".
 * - an unsupported version: RFC 6455 4.4, "a |Sec-WebSocket-Version| header field indicating
 *   the version(s) the server is capable of understanding" (ws's value, 13 first).
 */
export function rejectionHeaders(error: HandshakeError): Record<string, string> {
  switch (error.code) {
    case 'WS_ERR_HANDSHAKE_METHOD':
      return { Allow: 'GET' };
    case 'WS_ERR_HANDSHAKE_VERSION':
      return { 'Sec-WebSocket-Version': '13, 8' };
    case 'WS_ERR_HANDSHAKE_UPGRADE_REQUIRED':
      return { Upgrade: 'websocket' };
    default:
      return {};
  }
}

/** The full rejection for a server-side handshake error (status, message, headers). */
export function buildErrorResponse(error: HandshakeError): Buffer {
  return buildRejectResponse(error.status, error.message, rejectionHeaders(error));
}

// ---------------------------------------------------------------------------------------
// Origins

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

/**
 * "scheme://host:port" with scheme and host lowercased and the default port filled in, or
 * 'null' for the opaque origin, or null when `s` is not a serialized origin (RFC 6454 6.2:
 * scheme "://" host [ ":" port ], no path, query, fragment or userinfo; a trailing "/" is
 * tolerated). Parsing uses the WHATWG URL parser, which is linear.
 */
export function canonicalOrigin(s: string): string | null {
  if (typeof s !== 'string') return null;
  if (s === 'null') return 'null';
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return null;
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
  if (url.pathname !== '/' && url.pathname !== '') return null;
  if (s.endsWith('?') || s.endsWith('#') || url.hostname === '') return null;
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const port = url.port !== '' ? url.port : (DEFAULT_PORTS[scheme] ?? '');
  return `${scheme}://${url.hostname.toLowerCase()}:${port}`;
}

/**
 * @internal The canonical allowed origins of validateUpgradeRequest's (or
 * validateConnectRequest's) options, or null for no origin check.
 */
export function originSet(options: ValidateRequestOptions | undefined, where: string): Set<string> | null {
  if (options === undefined) return null;
  if (options === null || typeof options !== 'object') {
    throw new UsageError('WS_ERR_INVALID_OPTION', `${where}: options must be an object`);
  }
  for (const k of Object.keys(options)) {
    if (!VALIDATE_OPTION_KEYS.has(k)) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `${where}: unknown option ${JSON.stringify(k)} (expected allowedOrigins, extensions or shouldHandle)`,
      );
    }
  }
  const list = options.allowedOrigins;
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) {
    throw new UsageError('WS_ERR_INVALID_OPTION', 'allowedOrigins must be an array of origins or null');
  }
  const set = new Set<string>();
  for (const entry of list) {
    const canonical = canonicalOrigin(entry);
    if (canonical === null) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `allowedOrigins: ${JSON.stringify(entry)} is not an origin (expected e.g. "https://example.com:8443")`,
      );
    }
    set.add(canonical);
  }
  return set;
}

// ---------------------------------------------------------------------------------------
// Responses

export interface AcceptResponseOptions {
  /** The validated Sec-WebSocket-Key of the request. */
  key: string;
  /** The selected subprotocol (one the client offered), if any. */
  protocol?: string;
  /** The accepted extensions, already formatted (formatExtensionList), if any. */
  extensions?: string;
  /** Extra headers (names we write ourselves are refused). */
  headers?: Record<string, string>;
}

const ACCEPT_KEYS = new Set(['key', 'protocol', 'extensions', 'headers']);
const ACCEPT_RESERVED = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * The 101 response as header lines (no CRLFs), first line the status line, so a 'headers'
 * listener can append lines before serializeResponse(). RFC 6455 4.2.2 item 5.
 */
export function buildAcceptResponse(opts: AcceptResponseOptions): string[] {
  if (opts === null || typeof opts !== 'object') {
    throw new UsageError('WS_ERR_INVALID_OPTION', 'buildAcceptResponse: options must be an object');
  }
  for (const k of Object.keys(opts)) {
    if (!ACCEPT_KEYS.has(k)) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `buildAcceptResponse: unknown option ${JSON.stringify(k)}`,
      );
    }
  }
  const { key, protocol, extensions } = opts;
  if (!isValidKey(key)) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      'buildAcceptResponse: key must be a valid Sec-WebSocket-Key',
    );
  }
  const extra = checkExtraHeaders(opts.headers, ACCEPT_RESERVED, 'buildAcceptResponse');
  const lines = [
    // 5.1 "A Status-Line with a 101 response code"
    'HTTP/1.1 101 Switching Protocols',
    // 5.2 "An |Upgrade| header field with value "websocket""
    'Upgrade: websocket',
    // 5.3 "A |Connection| header field with value "Upgrade""
    'Connection: Upgrade',
    // 5.4 "A |Sec-WebSocket-Accept| header field"
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
  ];
  if (protocol !== undefined && protocol !== '') {
    // 5.5 the selected subprotocol: a single token
    if (!isToken(protocol)) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `buildAcceptResponse: the subprotocol ${JSON.stringify(protocol)} is not a token`,
      );
    }
    lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  }
  if (extensions !== undefined && extensions !== '') {
    // 5.6 the extensions in use; must follow the 9.1 grammar we would accept ourselves.
    if (typeof extensions !== 'string' || parseExtensionList(extensions) === null) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `buildAcceptResponse: ${JSON.stringify(extensions)} is not a valid Sec-WebSocket-Extensions value`,
      );
    }
    lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  }
  for (const [name, value] of extra) lines.push(`${name}: ${value}`);
  return lines;
}

/**
 * The 101 response as one latin1 string: the bytes serializeResponse(buildAcceptResponse(...))
 * produces, without the line array, its checks and a Buffer. For a server with no 'headers'
 * listener; the inputs must already be valid: `key` from validateUpgradeRequest, `protocol` one
 * of the subprotocols it returned, `extensions` what the extension negotiation formatted.
 */
export function acceptResponseText(key: string, protocol?: string, extensions?: string): string {
  let text = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (protocol !== undefined && protocol !== '') text += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions !== undefined && extensions !== '') text += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return `${text}\r\n`;
}

const ACCEPT_HEAD = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ',
  'latin1',
);
const PROTOCOL_FIELD = '\r\nSec-WebSocket-Protocol: ';
const EXTENSIONS_FIELD = '\r\nSec-WebSocket-Extensions: ';

/**
 * acceptResponseText()'s bytes, written straight into one Buffer: no response string is built
 * (and flattened) on the way, for every handshake of a server without 'headers' listeners. The
 * same preconditions: the inputs come from validateUpgradeRequest and the negotiation; the
 * subprotocol and the extensions are tokens and parameters, ASCII.
 */
export function acceptResponseBytes(key: string, protocol?: string, extensions?: string): Buffer {
  // The accept value is written in place (no string); a key that is not valid (never one from
  // validateUpgradeRequest) takes acceptKey's general path.
  const accept = isValidKey(key) ? null : acceptKey(key);
  const withProtocol = protocol !== undefined && protocol !== '';
  const withExtensions = extensions !== undefined && extensions !== '';
  let length = ACCEPT_HEAD.length + (accept === null ? ACCEPT_LENGTH : accept.length) + 4;
  if (withProtocol) length += PROTOCOL_FIELD.length + protocol.length;
  if (withExtensions) length += EXTENSIONS_FIELD.length + extensions.length;
  // Every byte is written below (allocUnsafe's old bytes never leave).
  const out = Buffer.allocUnsafe(length);
  let at = ACCEPT_HEAD.copy(out, 0);
  if (accept === null) {
    writeAcceptKey(key, out, at);
    at += ACCEPT_LENGTH;
  } else {
    at += out.write(accept, at, 'latin1');
  }
  if (withProtocol) {
    at += out.write(PROTOCOL_FIELD, at, 'latin1');
    at += out.write(protocol, at, 'latin1');
  }
  if (withExtensions) {
    at += out.write(EXTENSIONS_FIELD, at, 'latin1');
    at += out.write(extensions, at, 'latin1');
  }
  at += out.write('\r\n\r\n', at, 'latin1');
  if (at !== length) throw new Error('acceptResponseBytes: length mismatch');
  return out;
}

/**
 * The lines a 'headers' listener left, as ws 8 writes them (`lines.join('\r\n')`: a value that
 * is not a string as its String()), without those that are not one line of a response (CR, LF or
 * another control character: ws lets them split the response). Never a throw: this runs inside
 * the handshake, where it would be uncaught and leave the socket to its handshake timeout.
 */
export function headerLines(lines: unknown[]): string[] {
  const kept: string[] = [];
  for (const line of lines) {
    const text = typeof line === 'string' ? line : String(line);
    if (isFieldValue(text)) kept.push(text);
  }
  return kept;
}

/**
 * Response lines to bytes: each line + CRLF, then the empty line. Lines added by user code
 * are checked: a CR, LF or other control character would let it inject headers or a body.
 */
export function serializeResponse(lines: readonly string[]): Buffer {
  if (!Array.isArray(lines) || lines.length === 0) {
    throw new UsageError('WS_ERR_INVALID_HEADER', 'serializeResponse: expected a non-empty array of lines');
  }
  for (const line of lines) {
    if (typeof line !== 'string' || !isFieldValue(line)) {
      throw new UsageError(
        'WS_ERR_INVALID_HEADER',
        `serializeResponse: invalid response line ${JSON.stringify(line)} (no CR, LF or other control characters)`,
      );
    }
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/**
 * Reason phrases (RFC 9110 15, RFC 6585, and the rest of the IANA registry that Node, and so a
 * ws server, names) for the statuses a handshake or a verifyClient refusal may answer with.
 */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  101: 'Switching Protocols',
  200: 'OK',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  418: "I'm a Teapot",
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  510: 'Not Extended',
  511: 'Network Authentication Required',
});

const REJECT_RESERVED = new Set(['connection', 'content-length', 'content-type']);

/**
 * An HTTP error response that closes the connection, with `message` as a UTF-8 text/plain
 * body (never HTML: the message may echo what a client sent).
 */
export function buildRejectResponse(
  status: number,
  message: string,
  headers?: Record<string, string>,
): Buffer {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      `buildRejectResponse: status must be an integer 200-599, got ${status}`,
    );
  }
  if (typeof message !== 'string') {
    throw new UsageError('WS_ERR_INVALID_OPTION', 'buildRejectResponse: message must be a string');
  }
  const extra = checkExtraHeaders(headers, REJECT_RESERVED, 'buildRejectResponse');
  const body = Buffer.from(message, 'utf8');
  // RFC 9110 7.8: "A sender of Upgrade MUST also send an "Upgrade" connection option in the
  // Connection header field" (a 426 carries Upgrade).
  const sendsUpgrade = extra.some(([name]) => name.toLowerCase() === 'upgrade');
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n`;
  head += `Connection: ${sendsUpgrade ? 'Upgrade, close' : 'close'}\r\n`;
  head += 'Content-Type: text/plain; charset=utf-8\r\n';
  head += `Content-Length: ${body.length}\r\n`;
  for (const [name, value] of extra) head += `${name}: ${value}\r\n`;
  head += '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
