/**
 * Handshake failures: one table from a stable code to the HTTP status a server answers with
 * and the message (which a server also sends as the text/plain body of its rejection, so
 * messages never contain bytes copied from the request).
 *
 * Server side: `status` is the 4xx the rejection carries. Client side (validating a server's
 * response, parsing a response head, following redirects) the same codes are used with
 * `status` 0, following HandshakeError's contract in core/errors.ts.
 *
 * Every HandshakeError riptide creates comes from this file (a test checks that no other source
 * file constructs one). Messages are asserted by tests; change them only together with the tests.
 */
import { HandshakeError } from '../core/errors.js';

export const HANDSHAKE_ERRORS = {
  // Server side: the statuses and messages (sent as the rejection's body) are ws 8's, so code
  // written against ws's answers keeps working; riptide's own checks (HTTP version, Host,
  // Connection, Origin, head limits) have their own.
  // RFC 6455 4.2.1 item 1: "An HTTP/1.1 or higher GET request"
  WS_ERR_HANDSHAKE_METHOD: [405, 'Invalid HTTP method'],
  WS_ERR_HANDSHAKE_HTTP_VERSION: [400, 'Invalid handshake: HTTP/1.1 or higher is required'],
  // RFC 6455 4.2.1 item 2
  WS_ERR_HANDSHAKE_MISSING_HOST: [400, 'Invalid handshake: missing Host header'],
  // RFC 6455 4.2.1 items 3-4 (server), 4.1 items 2-3 of the response checks (client)
  WS_ERR_HANDSHAKE_UPGRADE: [400, 'Invalid Upgrade header'],
  WS_ERR_HANDSHAKE_CONNECTION: [400, 'Invalid handshake: the Connection header must contain "Upgrade"'],
  // RFC 6455 4.2.1 item 5
  WS_ERR_HANDSHAKE_KEY: [400, 'Missing or invalid Sec-WebSocket-Key header'],
  // RFC 6455 4.2.1 item 6 and 4.4 ("an appropriate HTTP error code (such as 426 Upgrade
  // Required)"); ws answers 400, and like ws we also speak version 8 (draft-ietf-hybi-17).
  WS_ERR_HANDSHAKE_VERSION: [400, 'Missing or invalid Sec-WebSocket-Version header'],
  // The request's path is not the server's `path` option (ws: shouldHandle() refuses it).
  WS_ERR_HANDSHAKE_PATH: [400, 'Bad Request'],
  // RFC 6455 4.2.1 items 8-9 (syntax)
  WS_ERR_HANDSHAKE_PROTOCOL: [400, 'Invalid Sec-WebSocket-Protocol header'],
  WS_ERR_HANDSHAKE_EXTENSIONS: [400, 'Invalid or unacceptable Sec-WebSocket-Extensions header'],
  // RFC 6455 4.2.2 item 4 / 10.2: a server MAY refuse origins it does not accept (403)
  WS_ERR_HANDSHAKE_ORIGIN: [403, 'Origin not allowed'],
  // RFC 6585 5: 431 Request Header Fields Too Large
  WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE: [431, 'Header section too large'],
  WS_ERR_HANDSHAKE_TOO_MANY_HEADERS: [431, 'Too many header fields'],
  // RFC 9110 9.3.1: a GET's content has no defined semantics, and after a 101 every byte that
  // follows the head is WebSocket frames: an upgrade request with a body (Content-Length above 0
  // or any Transfer-Encoding) is refused rather than having its body read as frames (ws 8 takes
  // the request and then fails the connection with 1002 on the body's bytes).
  WS_ERR_HANDSHAKE_BODY: [400, 'Invalid handshake: an upgrade request must not have a body'],
  // RFC 9112: syntax errors in the head
  WS_ERR_HANDSHAKE_MALFORMED: [400, 'Malformed HTTP head'],
  // RFC 9110 15.5.22: a plain HTTP request to a WebSocket-only endpoint
  WS_ERR_HANDSHAKE_UPGRADE_REQUIRED: [
    426,
    'Upgrade required: this endpoint only accepts WebSocket connections',
  ],
  // RFC 8441 4-5 (HTTP/2 extended CONNECT): a WebSocket over an HTTP/2 stream is a CONNECT
  // request with the :protocol pseudo-header. RFC 9110 15.5.6: a 405 carries Allow.
  WS_ERR_HANDSHAKE_CONNECT_METHOD: [
    405,
    'Invalid handshake: over HTTP/2 the request must be an extended CONNECT',
  ],
  // RFC 9220 3 (the same setting and pseudo-header for HTTP/3): a :protocol the server does not
  // support "SHOULD" be answered 501 (Not Implemented).
  WS_ERR_HANDSHAKE_CONNECT_PROTOCOL: [
    501,
    'Invalid handshake: the :protocol pseudo-header must be "websocket"',
  ],
  // RFC 8441 4: ":scheme and :path ... MUST also be included"; :authority carries the Host.
  WS_ERR_HANDSHAKE_CONNECT_PSEUDO: [
    400,
    'Invalid handshake: an extended CONNECT needs :scheme ("http" or "https"), :path and :authority',
  ],
  // Client side only (RFC 6455 4.1, the client's checks of the server's response). A status
  // other than 101 (HTTP/1.1) or 2xx (HTTP/2) carries it after a colon, as in ws 8:
  // unexpectedStatusError below.
  WS_ERR_HANDSHAKE_STATUS: [0, 'Unexpected server response'],
  WS_ERR_HANDSHAKE_ACCEPT: [0, 'Invalid Sec-WebSocket-Accept header'],
  // RFC 6455 4.1 item 6 (client side), with ws 8's messages: a subprotocol that was not offered,
  // one when none was, and (ws's rule, not the browsers') none when some were offered.
  WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL: [0, 'Server sent an invalid subprotocol'],
  WS_ERR_HANDSHAKE_UNREQUESTED_PROTOCOL: [0, 'Server sent a subprotocol but none was requested'],
  WS_ERR_HANDSHAKE_NO_PROTOCOL: [0, 'Server sent no subprotocol'],
  // RFC 6455 4.1 item 5 and RFC 7692 7.1: the client MUST fail the connection on extensions it
  // did not offer or a bad permessage-deflate response (ws 8's messages; the reason is the cause)
  WS_ERR_HANDSHAKE_EXTENSION_RESPONSE: [0, 'Invalid Sec-WebSocket-Extensions header'],
  WS_ERR_HANDSHAKE_UNREQUESTED_EXTENSION: [0, 'Server indicated an extension that was not requested'],
  WS_ERR_HANDSHAKE_NO_EXTENSION_REQUESTED: [
    0,
    'Server sent a Sec-WebSocket-Extensions header but no extension was requested',
  ],
  // RFC 8441 3: a client may use the extended CONNECT only after the server's SETTINGS carried
  // SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
  WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT: [
    0,
    'The server does not accept WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)',
  ],
  // handshakeTimeout (client side, node/client.ts and node/http2-client.ts): no complete answer
  // before the deadline; ws 8's message.
  WS_ERR_HANDSHAKE_TIMEOUT: [0, 'Opening handshake has timed out'],
  // close() or terminate() before the answer came (ws 8's message), and an HTTP/2 stream the
  // server ended without answering (riptide's message, the same code: a key that is not itself
  // the code names the code reported in its third entry).
  WS_ERR_HANDSHAKE_ABORTED: [0, 'WebSocket was closed before the connection was established'],
  WS_ERR_HANDSHAKE_STREAM_CLOSED: [
    0,
    'The server closed the stream before answering',
    'WS_ERR_HANDSHAKE_ABORTED',
  ],
  // The stream ended after its 2xx while the WebSocket was still CONNECTING: an 'upgrade'
  // listener threw (the WebSocket stays CONNECTING, as over HTTP/1.1), then the server ended it.
  WS_ERR_HANDSHAKE_STREAM_CLOSED_AFTER_ANSWER: [
    0,
    'The server closed the stream after its answer, before the WebSocket opened',
    'WS_ERR_HANDSHAKE_ABORTED',
  ],
  // followRedirects (client side, node/client.ts): more 3xx answers than maxRedirects allows,
  // with ws 8's message as is; ws's own error has no code, this one is riptide's.
  WS_ERR_MAX_REDIRECTS: [0, 'Maximum redirects exceeded'],
  // A ws:/wss: URL's redirect to a ws+unix: socket (riptide refuses it; ws 8 follows it): a
  // server on the network may not aim the client at a local service.
  WS_ERR_REDIRECT_TO_UNIX: [0, 'Redirect from a network URL to a ws+unix: socket refused'],
  // A redirect over the caller's http2Session to another origin (node/client.ts): that session
  // reaches its own origin only, and riptide opens no connection the caller did not give it.
  WS_ERR_REDIRECT_OTHER_SESSION: [0, "Redirect to another origin than the http2Session's refused"],
  // Not handshake failures: a send's callback (node/websocket.ts) when the socket closed before
  // its data was written, while its message was being compressed or its Blob read (ws 8's messages). They are
  // HandshakeErrors with status 0, as they always were (a public contract: code and class).
  WS_ERR_SOCKET_CLOSED: [0, 'The socket was closed before the data was written'],
  WS_ERR_SOCKET_CLOSED_COMPRESSING: [
    0,
    'The socket was closed while data was being compressed',
    'WS_ERR_SOCKET_CLOSED',
  ],
  // A Blob given to send(), ping() or pong() was still being read (ws 8.18's message).
  WS_ERR_SOCKET_CLOSED_READING_BLOB: [
    0,
    'The socket was closed while the blob was being read',
    'WS_ERR_SOCKET_CLOSED',
  ],
} as const satisfies Record<string, readonly [number, string] | readonly [number, string, string]>;

/**
 * A row of HANDSHAKE_ERRORS. Most keys are the code the error carries; a key with a third entry
 * is a finer name for a failure reported under that entry's code (itself a key of the table).
 */
export type HandshakeErrorCode = keyof typeof HANDSHAKE_ERRORS;

/** Every row of the handshake error table, in table order. */
export const HANDSHAKE_ERROR_CODES = Object.freeze(
  Object.keys(HANDSHAKE_ERRORS),
) as readonly HandshakeErrorCode[];

/** The `code` an error of row `key` carries. */
export function handshakeErrorCodeOf(key: HandshakeErrorCode): string {
  const row: readonly unknown[] = HANDSHAKE_ERRORS[key];
  return row.length > 2 ? (row[2] as string) : key;
}

/**
 * Create the error for `code`. `detail` is appended in parentheses (never put peer bytes in it:
 * servers send the message back as the rejection body). `status` overrides the table's status;
 * client-side callers pass 0.
 */
export function handshakeError(code: HandshakeErrorCode, detail?: string, status?: number): HandshakeError {
  const [tableStatus, message] = HANDSHAKE_ERRORS[code];
  return new HandshakeError(
    handshakeErrorCodeOf(code),
    status ?? tableStatus,
    detail === undefined || detail === '' ? message : `${message} (${detail})`,
  );
}

/**
 * A client-side error with ws 8's message as is; what exactly was wrong goes into `cause`
 * (code written for ws compares the message).
 */
export function clientHandshakeError(code: HandshakeErrorCode, reason?: string): HandshakeError {
  const message = HANDSHAKE_ERRORS[code][1];
  return new HandshakeError(
    handshakeErrorCodeOf(code),
    0,
    message,
    reason === undefined ? undefined : { cause: new Error(reason) },
  );
}

/**
 * WS_ERR_HANDSHAKE_STATUS as ws 8 words it: the table's message, a colon and the status the
 * server answered ("Unexpected server response: 404"), over HTTP/1.1 and HTTP/2 alike.
 */
export function unexpectedStatusError(status: number): HandshakeError {
  return new HandshakeError(
    'WS_ERR_HANDSHAKE_STATUS',
    0,
    `${HANDSHAKE_ERRORS.WS_ERR_HANDSHAKE_STATUS[1]}: ${status}`,
  );
}
