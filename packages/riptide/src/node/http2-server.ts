/**
 * WebSockets over HTTP/2 streams, server side (RFC 8441): `new WebSocketServer({ server })` with
 * an http2 server, and handleStream() for noServer.
 *
 *   HTTP/2 session  ── 'stream' ───────────┐   extended CONNECT, :protocol websocket?
 *   (one connection,                       ├─► no:  not ours (the application's handlers)
 *    many streams)  ── 'connect' (node's ──┘   yes: handleStream ─► validateConnectRequest
 *                      compatibility layer)          ─► server._negotiate (verifyClient, deflate:
 *                                                       the same code as for HTTP/1.1)
 *                                                    ─► stream.respond(:status 200)
 *                                                    ─► a WebSocket over the stream, 'connection'
 *
 * The HTTP/1.1 upgrades of an allowHTTP1 server arrive as its 'upgrade' event, which
 * websocket-server.ts listens to as for an http.Server: one port, one 'connection' event.
 *
 * Why both 'stream' and 'connect': once an http2 server has a 'request' listener, node's
 * compatibility layer turns each CONNECT stream into a 'connect' event, and answers 405 itself
 * (ending the stream) when nobody listens. Without a 'request' listener only 'stream' fires.
 * Whichever event comes first handles a WebSocket stream (a WeakSet remembers it), so each is
 * handled once whatever order the listeners were added in.
 *
 * After close(): the setting cannot be taken back from the sessions that got it (RFC 8441 3), so
 * their clients keep sending extended CONNECTs. Over HTTP/1.1, ws removes its 'upgrade' listener
 * and node (since v10) hands later upgrades to the 'request' listener as ordinary requests, whose
 * answer fails the handshake; node's http2 server does nothing with a stream nobody listens to,
 * and the client would wait for ever. So close() leaves one listener
 * (answerAfterClose) that answers a WebSocket CONNECT 503 when nothing else could answer it:
 *
 *   'stream' ─► another server 'stream' listener (the application's, node's compatibility
 *               layer, a running WebSocketServer), a 'request' listener, or a session
 *               'stream' listener of the application's?
 *                 yes: leave it to them        no: :status 503, then RST_STREAM NO_ERROR
 *
 * A new WebSocketServer on the server removes it and takes over.
 *
 * The stream is the WebSocket's transport: its flow-control window plays the socket buffer
 * (node completes a stream write only once the peer's window took it, so send()'s return
 * value and 'drain' follow the window), END_STREAM is the TCP FIN and RST_STREAM the TCP reset
 * (RFC 8441 5). A reset stream or a lost session closes its WebSockets with 1006, like a lost
 * TCP connection; nothing done for one stream touches the session or its other streams.
 */
import { IncomingMessage } from 'node:http';
import {
  constants,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  buildConnectResponse,
  connectAcceptHeaders,
  connectRejectHeaders,
  isExtendedConnect,
  sendableConnectHeaders,
  validateConnectRequest,
} from '../handshake/extended-connect.js';
import { othersListenToSession } from './internals.js';
import { meterWrites } from './transport.js';
import type { WebSocket } from './websocket.js';
import type { HandshakeReply, WebSocketServer } from './websocket-server.js';

type AnyHttp2Server = Http2Server | Http2SecureServer;

/** Streams a WebSocketServer has taken (through 'stream' or 'connect', whichever came first). */
const claimed = new WeakSet<ServerHttp2Stream>();
/** Marks our 'connect' listeners, to tell whether the application has its own. */
const kRiptideListener = Symbol('riptide.http2Listener');
const EMPTY = Buffer.alloc(0);

/** True for an http2.createServer / createSecureServer (they alone have updateSettings). */
export function isHttp2Server(server: unknown): server is AnyHttp2Server {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/** True for a request a WebSocketServer takes: an extended CONNECT for "websocket". */
function isWebSocketConnect(headers: IncomingHttpHeaders): boolean {
  return isExtendedConnect(headers) && headers[':protocol'] === 'websocket';
}

/**
 * Make `server` accept WebSockets on its HTTP/2 streams; returns the function that detaches
 * again (WebSocketServer.close()).
 */
export function attachHttp2(wss: WebSocketServer, server: AnyHttp2Server): () => void {
  // RFC 8441 3: "Upon receipt of SETTINGS_ENABLE_CONNECT_PROTOCOL with a value of 1, a client
  // MAY use the Extended CONNECT". node sends its options' settings in every new session's
  // first SETTINGS frame; updateSettings changes them for the sessions to come. (And RFC 8441 3:
  // "A sender MUST NOT send a SETTINGS_ENABLE_CONNECT_PROTOCOL parameter with the value of 0
  // after previously sending a value of 1", so detaching leaves it on.)
  server.updateSettings({ enableConnectProtocol: true });
  // A WebSocketServer closed earlier left its answerAfterClose: this one takes over.
  server.removeListener('stream', answerAfterClose);

  const onStream = (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    _flags: number,
    rawHeaders: string[],
  ): void => {
    enableOnOlderSession(stream);
    if (claimed.has(stream) || !isWebSocketConnect(headers)) return;
    handleStream(wss, stream, headers, rawHeaders, emitConnection);
  };
  const onConnect = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const stream = req.stream;
    if (claimed.has(stream)) return;
    if (isWebSocketConnect(req.headers)) {
      handleStream(wss, stream, req.headers, req.rawHeaders, emitConnection);
      return;
    }
    // Another CONNECT. Our listener keeps node from answering 405 itself, so when the
    // application has no 'connect' listener of its own, answer as node would have.
    if (!stream.headersSent && server.listeners('connect').every(isOurs)) {
      res.statusCode = 405;
      res.end();
    }
  };
  (onConnect as { [kRiptideListener]?: true })[kRiptideListener] = true;

  function emitConnection(ws: WebSocket, req: IncomingMessage): void {
    wss.emit('connection', ws, req);
  }

  server.on('connection', noDelay);
  server.on('stream', onStream);
  server.on('connect', onConnect);
  return () => {
    server.removeListener('connection', noDelay);
    server.removeListener('stream', onStream);
    server.removeListener('connect', onConnect);
    // One per server, however many WebSocketServers closed on it.
    if (!server.listeners('stream').includes(answerAfterClose)) server.on('stream', answerAfterClose);
  };
}

/**
 * The 'stream' listener close() leaves behind (see the top of this file): a WebSocket CONNECT
 * that nothing else on the server can answer gets :status 503 (the answer _complete gives a
 * handshake that close() caught midway), its body, then RST_STREAM NO_ERROR. Not REFUSED_STREAM:
 * that tells the client the request is safe to retry (RFC 9113 8.7), and clients do (riptide's
 * twice, on new sessions), only to be refused again; a 503 fails the handshake at once with a
 * status the application can read.
 */
function answerAfterClose(
  this: AnyHttp2Server,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): void {
  if (claimed.has(stream) || !isWebSocketConnect(headers)) return;
  // Never answer a stream someone else may be handling, now or later in this tick.
  if (this.listenerCount('request') > 0) return;
  if (this.listeners('stream').some((listener) => listener !== answerAfterClose)) return;
  const session = stream.session;
  if (session === undefined || othersListenToSession(session)) return;
  stream.on('error', destroyOnError);
  refuseStream(stream, 503, 'Service Unavailable');
}

function destroyOnError(this: ServerHttp2Stream): void {
  this.destroy();
}

/** Sessions sent a late SETTINGS_ENABLE_CONNECT_PROTOCOL (until their peer acknowledges it). */
const lateEnabled = new WeakSet<object>();

/**
 * A session that connected before the WebSocketServer was created got the server's settings of
 * that time, without the extended CONNECT. updateSettings cannot reach it and node keeps no list
 * of sessions, so the first stream such a session opens (the page's own request, typically) sends
 * it the setting; RFC 8441 3 allows 0 then 1 (only 1 then 0 is forbidden).
 */
function enableOnOlderSession(stream: ServerHttp2Stream): void {
  const session = stream.session;
  if (session === undefined || session.destroyed) return;
  if (session.localSettings.enableConnectProtocol === true || lateEnabled.has(session)) return;
  lateEnabled.add(session);
  session.settings({ enableConnectProtocol: true });
}

/**
 * Small WebSocket messages should leave at once, as over HTTP/1.1 (websocket.ts turns Nagle's
 * algorithm off on each upgraded socket). An HTTP/2 session's socket cannot be reached once the
 * session owns it (node throws ERR_HTTP2_NO_SOCKET_MANIPULATION), so this is done as each TCP
 * connection arrives, as http.Server does by default for its own.
 */
function noDelay(socket: Socket): void {
  socket.setNoDelay(true);
}

function isOurs(listener: unknown): boolean {
  return (listener as { [kRiptideListener]?: true })[kRiptideListener] === true;
}

/**
 * Complete (or refuse) the WebSocket handshake of an extended CONNECT stream: the body of
 * WebSocketServer.handleStream. Never throws for anything the client sent.
 */
export function handleStream(
  wss: WebSocketServer,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: string[] | undefined,
  cb: (ws: WebSocket, req: IncomingMessage) => void,
): void {
  claimed.add(stream);
  const req = requestOf(stream, headers, rawHeaders);
  wss._startHandshake(stream);
  const result = validateConnectRequest(headers, wss._validateOptions(req));
  if (!result.ok) {
    // Refused streams stay under the handshake timeout until they have closed, as sockets do.
    refuseStream(stream, result.error.status, result.error.message, result.headers);
    return;
  }
  wss._negotiate(req, stream, EMPTY, undefined, result, HTTP2, cb);
}

/**
 * The request handed to verifyClient, handleProtocols and 'connection': an http.IncomingMessage,
 * as for HTTP/1.1, so code written for ws keeps working. httpVersion is '2.0', method 'CONNECT',
 * url the :path, socket the session's socket (remoteAddress, encrypted), headers node's header
 * object with the pseudo-headers, plus `host` copied from :authority (RFC 9113 8.3.1: a
 * gateway to HTTP/1.1 "MUST create a Host header field if one is not present" from :authority).
 * rawHeaders are the field lines as received, pseudo-headers first, as Http2ServerRequest's
 * (node's array when we have it; handleStream's callers pass only the object: see rawHeadersOf).
 */
function requestOf(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: string[] | undefined,
): IncomingMessage {
  const session = stream.session;
  const req = new IncomingMessage((session === undefined ? stream : session.socket) as Socket);
  req.method = 'CONNECT';
  req.url = typeof headers[':path'] === 'string' ? headers[':path'] : '';
  req.httpVersion = '2.0';
  req.httpVersionMajor = 2;
  req.httpVersionMinor = 0;
  // Before `host` is added: rawHeaders are what the client sent.
  req.rawHeaders = rawHeaders ?? rawHeadersOf(headers);
  if (headers.host === undefined && typeof headers[':authority'] === 'string') {
    headers.host = headers[':authority'];
  }
  req.headers = headers;
  req.complete = true;
  return req;
}

/**
 * rawHeaders rebuilt from node's header object, for handleStream (noServer), whose caller hands
 * over only the object. node fills it in the order the fields arrived (pseudo-headers first,
 * RFC 9113 8.3), so the order is the wire's; a field sent several times is one entry, as node
 * joined it (a `set-cookie` array gives one entry per value), where node's own array has one
 * entry per line. Symbol keys (node's sensitiveHeaders list) are not fields.
 */
function rawHeadersOf(headers: IncomingHttpHeaders): string[] {
  const raw: string[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) raw.push(name, v);
    else raw.push(name, String(value));
  }
  return raw;
}

/**
 * Refuse over HTTP/2: the status with the message as a text/plain body, then, once that is
 * sent, RST_STREAM NO_ERROR (RFC 9113 8.1: a server "MAY request that the client abort
 * transmission of a request without error by sending a RST_STREAM with an error code of
 * NO_ERROR after sending a complete response").
 */
function refuseStream(
  socket: Duplex,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  const stream = socket as ServerHttp2Stream;
  if (stream.destroyed || stream.closed || stream.headersSent) {
    stream.destroy();
    return;
  }
  const body = Buffer.from(message, 'utf8');
  const response = connectRejectHeaders(status, headers);
  response['content-length'] = body.length;
  stream.respond(response);
  stream.end(body, () => stream.close(constants.NGHTTP2_NO_ERROR));
}

const HTTP2: HandshakeReply = {
  refuse: refuseStream,
  respond(server, socket, req, _key, protocol, extensions) {
    const stream = socket as ServerHttp2Stream;
    let headers: ReturnType<typeof connectAcceptHeaders>;
    if (server.listenerCount('headers') === 0) {
      headers = connectAcceptHeaders(protocol, extensions);
    } else {
      // Lines, as over HTTP/1.1, so a listener written for ws ("Set-Cookie: ...") works as is.
      const lines = buildConnectResponse({ protocol, extensions });
      server.emit('headers', lines, req);
      if (stream.destroyed || stream.closed) return false;
      // As over HTTP/1.1 (headerLines), a line that cannot be sent is left out, never thrown
      // out of the handshake: here also one that is not "Name: value" or that HTTP/2 forbids.
      // The first line stands for the status, which stays 200 whatever a listener put there.
      headers = sendableConnectHeaders(lines.slice(1));
    }
    // RFC 8441 5: the stream stays open for the WebSocket's frames (no END_STREAM here).
    stream.respond(headers);
    // Large sends go to node's session in pieces (a burst would refuse the session's new streams).
    meterWrites(stream);
    return null;
  },
};
