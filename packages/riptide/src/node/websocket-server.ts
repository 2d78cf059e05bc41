/**
 * WebSocketServer: accepts opening handshakes (RFC 6455 4.2) and hands out WebSockets.
 *
 * Three ways to get upgrade requests, as in ws 8:
 *   { port }     an http.Server of our own; plain requests are answered 426 Upgrade Required
 *   { server }   the user's http(s).Server; we listen to its 'upgrade' event
 *   { noServer } the user calls handleUpgrade(req, socket, head, cb) itself
 *
 * The handshake itself is the pure functions of ../handshake/server.ts; this file adds the
 * policy hooks (path, verifyClient, handleProtocols, allowedOrigins), the timers and the
 * bookkeeping (clients, topics, heartbeat). A refused handshake is answered with its 4xx and
 * the socket closed; nothing a client sends can make this class throw.
 *
 * Timers are per server, never per socket: one sweep timer destroys sockets whose upgrade did
 * not complete within handshakeTimeout, one heartbeat timer pings every client.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type * as net from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type HandshakeError, UsageError } from '../core/errors.js';
import type { PerMessageExtension } from '../core/extension.js';
import { ProtocolSettings } from '../core/protocol.js';
import { PerMessageDeflate } from '../deflate/codec.js';
import { type DeflateOptions, negotiateAsServer, normalizeDeflateOptions } from '../deflate/negotiation.js';
import { syncZlibSupported } from '../deflate/zlib-sync.js';
import type { ExtensionList } from '../handshake/header-lists.js';
import {
  acceptResponseBytes,
  buildAcceptResponse,
  buildRejectResponse,
  headerLines,
  serializeResponse,
  type ValidateRequestOptions,
  ValidateSettings,
  validateUpgradeRequest,
} from '../handshake/server.js';
import { isFieldValue, isToken } from '../handshake/syntax.js';
import { Heartbeat } from './heartbeat.js';
import { attachHttp2, handleStream, isHttp2Server } from './http2-server.js';
import {
  type OptionsOf,
  parseHeartbeat,
  type Resolved,
  resolveOptions,
  SERVER_OPTIONS,
  type VerifyClientAsync,
  type VerifyClientInfo,
  type VerifyClientSync,
} from './options.js';
import { checkPublish, checkTopic, type PublishOptions, Topics } from './topics.js';
import { createUpgradeListener } from './upgrade-listener.js';
import { type ConnectionSettings, kWebSocket, type RawData, WebSocket } from './websocket.js';

export type { PerMessageDeflateOptions } from '../deflate/negotiation.js';

export type {
  HeartbeatOptions,
  VerifyClientAsync,
  VerifyClientCallbackAsync,
  VerifyClientCallbackSync,
  VerifyClientInfo,
  VerifyClientSync,
} from './options.js';

/** The options of `new WebSocketServer(options)`: see SERVER_OPTIONS in options.ts. */
export type ServerOptions = OptionsOf<typeof SERVER_OPTIONS>;

/** The brand `instanceof WebSocketServer` checks (Symbol.for: shared by the ESM and CJS copies). */
const kServerBrand = Symbol.for('riptide.WebSocketServer');

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

/**
 * permessage-deflate plugs in here (RFC 7692 5): given the client's offers, return the accepted
 * response header and the extension object the core will run, or null to accept no extension
 * (declined offers are not an error: RFC 6455 9.1 lets a server ignore offers). The core applies
 * maxPayload to the decompressed size through the extension's `limit` argument.
 */
function acceptExtensions(
  offers: ExtensionList,
  options: DeflateOptions,
  _maxPayload: number,
): { header: string; extension: PerMessageExtension } | null {
  if (!syncZlibSupported()) return null;
  const result = negotiateAsServer(offers, options);
  if (result.params === null) return null;
  return { header: result.response, extension: new PerMessageDeflate('server', result.params, options) };
}

function socketOnErrorBeforeUpgrade(this: Socket): void {
  this.destroy();
}

/** The server whose handshake timeout covers this socket (see _trackPending). */
const kPendingServer = Symbol('riptide.pendingServer');

function pendingSocketClosed(this: Duplex & { [kPendingServer]?: WebSocketServer }): void {
  this[kPendingServer]?._untrackPending(this);
}

/**
 * Answer a refused handshake and close the socket (RFC 6455 4.2.2: an HTTP error code) once the
 * answer is flushed. The socket stays on the handshake-timeout list until it has closed, so one
 * whose peer never reads the answer is destroyed at its deadline (issue 12, hole 4).
 */
function abortHandshake(
  socket: Duplex,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  if (socket.writable) {
    socket.once('finish', socket.destroy);
    socket.end(buildRejectResponse(status, message, headers));
  } else {
    socket.destroy();
  }
}

// An asynchronous verifyClient's refusal, `cb(false, code, message, headers)`, as ws 8 takes it:
// its arguments are the application's, unchecked by ws (which writes them into the response as
// they are), so what a ws application passes is made into a valid answer here, never a throw
// from inside the callback (uncaught there: the process would exit, and the socket would wait
// for its handshake timeout).

/**
 * ws's `code || 401`, and a numeric string as its number; a value that is no HTTP error status
 * (a close code such as 4001, 101, a fraction) is refused with 401, as with no code: ws writes it
 * into the status line as it is, which no HTTP client parses.
 */
function refusalStatus(code: unknown): number {
  const n = typeof code === 'string' && code !== '' ? Number(code) : code;
  return typeof n === 'number' && Number.isInteger(n) && n >= 200 && n <= 599 ? n : 401;
}

/** ws's `message || http.STATUS_CODES[code]`; a message that is not a string is not sent. */
function refusalMessage(message: unknown, status: number): string {
  return typeof message === 'string' && message !== ''
    ? message
    : (http.STATUS_CODES[status] ?? 'Unauthorized');
}

/**
 * The headers ws would write: other values as their String() (numbers, a Set-Cookie array joined
 * with commas, as ws's template literal does), null and undefined left out. Dropped: those the
 * answer sets itself (Connection, Content-Length, and Content-Type: the body is text/plain), the
 * other connection-level ones (Transfer-Encoding, Keep-Alive, Upgrade...: HTTP/2 forbids them, and
 * the refusal closes the connection), and a name or value that would not be one header line
 * (CR/LF: ws lets them split the response).
 */
function refusalHeaders(headers: unknown): Record<string, string> | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const raw = (headers as Record<string, unknown>)[name];
    if (raw === undefined || raw === null || REFUSAL_RESERVED.has(name.toLowerCase())) continue;
    const value = typeof raw === 'string' ? raw : String(raw);
    if (isToken(name) && isFieldValue(value)) out[name] = value;
  }
  return out;
}

const REFUSAL_RESERVED = new Set([
  'connection',
  'content-length',
  'content-type',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
]);

/**
 * @internal How a handshake is answered, per transport: HTTP/1.1 bytes on the socket here,
 * HTTP/2 headers on the stream in http2-server.ts. Everything else (policy hooks, extension
 * negotiation, bookkeeping) is the same code for both.
 */
export interface HandshakeReply {
  /** Refuse with `status`, `message` as a text/plain body and extra headers; close. */
  refuse(socket: Duplex, status: number, message: string, headers?: Record<string, string>): void;
  /**
   * The success response (through 'headers' listeners when there are some): bytes to send
   * before the first frame (HTTP/1.1's 101), or null when the transport has answered already
   * (HTTP/2's headers). False if the socket went away meanwhile: the caller destroys it.
   */
  respond(
    server: WebSocketServer,
    socket: Duplex,
    req: http.IncomingMessage,
    key: string | undefined,
    protocol: string | undefined,
    extensions: string | undefined,
  ): Buffer | null | false;
}

const HTTP1: HandshakeReply = {
  refuse: abortHandshake,
  respond(server, socket, req, key, protocol, extensions) {
    if (server.listenerCount('headers') === 0) {
      // The common case: no line array and no response string (bench/handshake-alloc.mjs).
      return acceptResponseBytes(key!, protocol, extensions);
    }
    const lines = buildAcceptResponse({ key: key!, protocol, extensions });
    server.emit('headers', lines, req);
    if (!socket.writable) return false;
    const kept = headerLines(lines);
    // A listener that empties the list (`lines.length = 0`) leaves no status line, and no bytes
    // written from no lines are a response: ws writes a lone CRLF there, which the client fails
    // as a bad response, and serializeResponse refuses an empty list (it would throw out of the
    // handshake). So that one case gets the standard 101. A list with lines left is the
    // listener's to get right, as in ws (a status line of its own is written as given).
    if (kept.length === 0) return acceptResponseBytes(key!, protocol, extensions);
    return serializeResponse(kept);
  },
};

function emitClose(server: WebSocketServer): void {
  server._state = CLOSED;
  server.emit('close');
}

// biome-ignore lint/suspicious/noExplicitAny: the catch-all overload of EventEmitter
type AnyListener = (...args: any[]) => void;

/** Typed event overloads (ws 8's event names and arguments). */
export interface WebSocketServer {
  on(
    event: 'connection',
    listener: (this: WebSocketServer, socket: WebSocket, request: http.IncomingMessage) => void,
  ): this;
  on(event: 'error', listener: (this: WebSocketServer, error: Error & { code?: string }) => void): this;
  on(
    event: 'headers',
    listener: (this: WebSocketServer, headers: string[], request: http.IncomingMessage) => void,
  ): this;
  on(event: 'close' | 'listening', listener: (this: WebSocketServer) => void): this;
  on(
    event: 'wsClientError',
    listener: (
      this: WebSocketServer,
      error: HandshakeError,
      socket: Duplex,
      request: http.IncomingMessage,
    ) => void,
  ): this;
  on(event: string | symbol, listener: AnyListener): this;
  once(
    event: 'connection',
    listener: (this: WebSocketServer, socket: WebSocket, request: http.IncomingMessage) => void,
  ): this;
  once(event: 'error', listener: (this: WebSocketServer, error: Error & { code?: string }) => void): this;
  once(
    event: 'headers',
    listener: (this: WebSocketServer, headers: string[], request: http.IncomingMessage) => void,
  ): this;
  once(event: 'close' | 'listening', listener: (this: WebSocketServer) => void): this;
  once(event: string | symbol, listener: AnyListener): this;
  off(event: string | symbol, listener: AnyListener): this;
  removeListener(event: string | symbol, listener: AnyListener): this;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface only adds typed overloads of EventEmitter methods
export class WebSocketServer extends EventEmitter {
  /**
   * The options given, over their defaults (as ws). Writable like ws's: `handleProtocols`,
   * `verifyClient` and `path` are read at each handshake, so a library may set them on a server
   * it is handed (graphql-ws's useServer sets `handleProtocols`); the others were read by the
   * constructor (docs/node-layer.md).
   */
  readonly options: {
    -readonly [K in keyof Resolved<typeof SERVER_OPTIONS>]: Resolved<typeof SERVER_OPTIONS>[K];
  };
  /** @internal */ _state = RUNNING;
  /** @internal */ _server: net.Server | null = null;
  private _removeListeners: (() => void) | null = null;
  /** handleUpgrade's callback in {port} mode: one function per server, not per connection. */
  private readonly _emitConnection = (ws: WebSocket, req: http.IncomingMessage): void => {
    req.socket.resume();
    this.emit('connection', ws, req);
  };
  private readonly _clients: Set<WebSocket> | null;
  private readonly _tracked: Set<WebSocket> | null;
  private _shouldEmitClose = false;
  private readonly _settings: ConnectionSettings;
  /** handleUpgrade's validation options, prepared once (no options object per handshake). */
  private readonly _validate: ValidateSettings;
  private readonly _deflate: false | DeflateOptions;
  private readonly _handshakeTimeout: number;
  private readonly _pending = new Map<Duplex, number>();
  private _sweepTimer: NodeJS.Timeout | null = null;
  private readonly _heartbeat: Heartbeat | null;
  private _topics: Topics | null = null;
  private readonly _WebSocket: typeof WebSocket;

  /** `instanceof WebSocketServer` holds for a server of another copy of riptide (ESM and CJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about (a subclass too)
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // biome-ignore lint/complexity/noThisInStatic: only the base class answers for the other copy
    if (this !== WebSocketServer) return false;
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { [kServerBrand]?: true })[kServerBrand] === true
    );
  }

  constructor(options: ServerOptions, callback?: () => void) {
    super();
    // Keys the table does not have are ignored, as ws 8 ignores them, and kept in `options`.
    const unknown: Record<string, unknown> = Object.create(null);
    const o = resolveOptions(SERVER_OPTIONS, options, 'WebSocketServer', unknown);
    const modes = (o.port != null ? 1 : 0) + (o.server != null ? 1 : 0) + (o.noServer ? 1 : 0);
    if (modes !== 1) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        'One and only one of the "port", "server", or "noServer" options must be specified',
      );
    }
    if (
      o.WebSocket !== undefined &&
      !(o.WebSocket.prototype instanceof WebSocket || o.WebSocket === (WebSocket as unknown))
    ) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        'The "WebSocket" option must be riptide\'s WebSocket class or a subclass',
      );
    }
    this._deflate = normalizeDeflateOptions(o.perMessageDeflate, 'server') ?? false;
    const heartbeat = parseHeartbeat(o.heartbeat);

    // Like ws, `options` is what was given merged over the defaults (unknown keys too), and not frozen.
    this.options = { ...o, ...unknown };
    this._WebSocket = (o.WebSocket ?? WebSocket) as typeof WebSocket;
    this._handshakeTimeout = o.handshakeTimeout;
    this._settings = {
      closeTimeout: o.closeTimeout,
      maxPendingAutoPongs: o.maxPendingAutoPongs,
      allowSynchronousEvents: o.allowSynchronousEvents,
      protocol: new ProtocolSettings({
        role: 'server',
        maxPayload: o.maxPayload,
        maxFragments: o.maxFragments,
        maxBufferedChunks: o.maxBufferedChunks,
        skipUtf8Validation: o.skipUTF8Validation,
        autoPong: o.autoPong,
      }),
    };
    this._validate = new ValidateSettings({
      allowedOrigins: o.allowedOrigins,
      extensions: this._deflate !== false,
      // Looked up at each call: a subclass's shouldHandle (ws users override it) is the one run.
      shouldHandle: (req) => this.shouldHandle(req as http.IncomingMessage),
    });
    this._clients = o.clientTracking ? new Set() : null;
    this._tracked = this._clients ?? (heartbeat !== null ? new Set() : null);
    this._heartbeat = heartbeat === null ? null : new Heartbeat(this._tracked!, heartbeat);

    if (o.port != null) {
      // A WebSocket-only port: our own head parser instead of an http.Server (upgrade-listener.ts).
      const server = createUpgradeListener(this);
      this._server = server;
      server.listen(Number(o.port), o.host, o.backlog, callback);
    } else if (o.server != null) {
      this._server = o.server as net.Server;
    }
    if (this._server !== null) {
      const server = this._server;
      const onListening = () => this.emit('listening');
      const onError = (err: Error) => this.emit('error', err);
      const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        this.handleUpgrade(req, socket, head, (ws, request) => this.emit('connection', ws, request));
      };
      const ownListener = o.port != null;
      server.on('listening', onListening);
      server.on('error', onError);
      if (!ownListener) server.on('upgrade', onUpgrade);
      // An http2 server: extended CONNECT streams too (its HTTP/1.1 upgrades come as 'upgrade').
      const detachHttp2 = isHttp2Server(server) ? attachHttp2(this, server) : null;
      this._removeListeners = () => {
        server.removeListener('listening', onListening);
        server.removeListener('error', onError);
        server.removeListener('upgrade', onUpgrade);
        detachHttp2?.();
      };
    }
    this._heartbeat?.start();
  }

  /** The tracked clients (undefined with clientTracking: false), like ws. */
  get clients(): Set<WebSocket> {
    return (this._clients ?? undefined) as Set<WebSocket>;
  }

  /** The listening address ({port} and {server} modes). */
  address(): ReturnType<http.Server['address']> {
    if (this.options.noServer)
      throw new UsageError('WS_ERR_NO_SERVER', 'The server is operating in "noServer" mode');
    if (this._server === null) return null;
    return this._server.address();
  }

  /**
   * Stop accepting connections. Open connections are left alone (ws 8); 'close' is emitted
   * once the server has stopped and, when clients are tracked, every client has closed. On an
   * http2 server, a WebSocket CONNECT that nothing else answers gets 503 (http2-server.ts).
   */
  close(cb?: (err?: Error) => void): void {
    if (this._state === CLOSED) {
      if (cb) this.once('close', () => cb(new UsageError('WS_ERR_NOT_RUNNING', 'The server is not running')));
      process.nextTick(emitClose, this);
      return;
    }
    if (cb) this.once('close', cb);
    if (this._state === CLOSING) return;
    this._state = CLOSING;
    // Open connections outlive close() (ws 8), and the heartbeat keeps reaping the dead ones
    // among them until the last is gone: a peer that vanished without a FIN would otherwise
    // hold its descriptor, and the 'close' that waits for every tracked client, forever.
    if (this._tracked === null || this._tracked.size === 0) this._heartbeat?.stop();
    // The handshake sweep keeps running while a socket is mid-handshake: without its deadline
    // a peer that never finishes its head would hold its descriptor (and, in {port} mode, the
    // server's 'close') forever.
    if (this._sweepTimer !== null && this._pending.size === 0) {
      clearTimeout(this._sweepTimer);
      this._sweepTimer = null;
    }
    if (this.options.noServer || this.options.server) {
      if (this._removeListeners !== null) {
        this._removeListeners();
        this._removeListeners = null;
        this._server = null;
      }
      if (this._tracked !== null && this._tracked.size > 0) this._shouldEmitClose = true;
      else process.nextTick(emitClose, this);
    } else {
      const server = this._server!;
      this._removeListeners?.();
      this._removeListeners = null;
      this._server = null;
      server.close(() => emitClose(this));
    }
  }

  /** True if this server should take `req` (its path matches the `path` option). */
  shouldHandle(req: http.IncomingMessage): boolean {
    const path = this.options.path;
    if (path !== undefined) {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      if ((q === -1 ? url : url.slice(0, q)) !== path) return false;
    }
    return true;
  }

  /**
   * Complete (or refuse) the opening handshake of an 'upgrade' request. On success `cb` gets
   * the open WebSocket. Never throws for anything the client sent.
   */
  handleUpgrade(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WebSocket, req: http.IncomingMessage) => void,
  ): void {
    this._startHandshake(socket);
    const result = validateUpgradeRequest(req as http.IncomingMessage & { method: string }, this._validate);
    if (!result.ok) {
      this._refuse(req, socket, result.error, result.headers);
      return;
    }
    this._negotiate(req, socket, head, result.key, result, HTTP1, cb);
  }

  /**
   * The HTTP/2 counterpart of handleUpgrade (RFC 8441), for noServer: complete (or refuse) the
   * handshake of an extended CONNECT stream, e.g. from an http2 server's 'stream' event. Streams
   * that are not a WebSocket CONNECT are refused (405/501): test them first with
   * `headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket'`. `cb` gets the open
   * WebSocket and an http.IncomingMessage describing the request (see docs/http2.md).
   */
  handleStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    cb: (ws: WebSocket, req: http.IncomingMessage) => void,
  ): void {
    handleStream(this, stream, headers, undefined, cb);
  }

  /** @internal Both transports: a handshake starts (error listener, handshake timeout). */
  _startHandshake(socket: Duplex): void {
    socket.on('error', socketOnErrorBeforeUpgrade);
    this._trackPending(socket);
  }

  /** @internal validateConnectRequest's options for one HTTP/2 request (HTTP/1.1: _validate). */
  _validateOptions(req: http.IncomingMessage): ValidateRequestOptions {
    return {
      allowedOrigins: this.options.allowedOrigins,
      extensions: this._deflate !== false,
      shouldHandle: () => this.shouldHandle(req),
    };
  }

  /**
   * @internal Both transports, once the request is valid: negotiate extensions, ask
   * verifyClient, then _complete. `reply` writes the answers in the transport's shape.
   */
  _negotiate(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    key: string | undefined,
    result: { protocols: string[]; extensions: ExtensionList; origin: string | undefined },
    reply: HandshakeReply,
    cb: (ws: WebSocket, req: http.IncomingMessage) => void,
  ): void {
    const accepted =
      this._deflate === false
        ? null
        : acceptExtensions(result.extensions, this._deflate, this._settings.protocol.maxPayload);

    const verify = this.options.verifyClient;
    if (verify === undefined) {
      this._complete(req, socket, head, key, result.protocols, accepted, reply, cb);
      return;
    }
    const info: VerifyClientInfo = {
      origin: result.origin,
      secure: !!(req.socket as Socket & { encrypted?: boolean; authorized?: boolean }).encrypted,
      req,
    };
    if (verify.length === 2) {
      (verify as VerifyClientAsync)(info, (ok, code, message, headers) => {
        if (!ok) {
          accepted?.extension.close();
          const status = refusalStatus(code);
          reply.refuse(socket, status, refusalMessage(message, status), refusalHeaders(headers));
          return;
        }
        this._complete(req, socket, head, key, result.protocols, accepted, reply, cb);
      });
      return;
    }
    if (!(verify as VerifyClientSync)(info)) {
      accepted?.extension.close();
      reply.refuse(socket, 401, 'Unauthorized');
      return;
    }
    this._complete(req, socket, head, key, result.protocols, accepted, reply, cb);
  }

  private _refuse(
    req: http.IncomingMessage,
    socket: Duplex,
    error: HandshakeError,
    headers: Record<string, string>,
  ) {
    // ws compatibility: a path the server does not handle is answered without 'wsClientError'.
    if (error.code !== 'WS_ERR_HANDSHAKE_PATH' && this.listenerCount('wsClientError') > 0) {
      // ws compatibility: the listener writes its own answer. The socket stays on the handshake
      // deadline's list (it leaves it when it closes): a listener that only logs the error would
      // otherwise leave the peer's descriptor open for good, a refusal without a deadline.
      this.emit('wsClientError', error, socket, req);
      return;
    }
    abortHandshake(socket, error.status, error.message, headers);
  }

  private _complete(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    key: string | undefined,
    offered: string[],
    accepted: { header: string; extension: PerMessageExtension } | null,
    reply: HandshakeReply,
    cb: (ws: WebSocket, req: http.IncomingMessage) => void,
  ): void {
    if (!socket.readable || !socket.writable) {
      accepted?.extension.close();
      socket.destroy();
      return;
    }
    if ((socket as Duplex & { [kWebSocket]?: unknown })[kWebSocket] !== undefined) {
      throw new UsageError(
        'WS_ERR_HANDSHAKE_TWICE',
        'server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration',
      );
    }
    if (this._state !== RUNNING) {
      accepted?.extension.close();
      reply.refuse(socket, 503, 'Service Unavailable');
      return;
    }
    this._untrackPending(socket);
    let protocol: string | undefined;
    if (offered.length > 0) {
      const handle = this.options.handleProtocols;
      if (handle === undefined) {
        protocol = offered[0];
      } else {
        const chosen = handle(new Set(offered), req);
        // RFC 6455 4.2.2: the server selects one of the offered values, or none.
        if (typeof chosen === 'string' && offered.includes(chosen)) protocol = chosen;
      }
    }
    const extensions = accepted === null ? undefined : accepted.header;
    const ws = new this._WebSocket(null);
    const response = reply.respond(this, socket, req, key, protocol, extensions);
    if (response === false) {
      accepted?.extension.close();
      socket.destroy();
      return;
    }
    socket.removeListener('error', socketOnErrorBeforeUpgrade);
    // The 101 is the connection's first output: it leaves with the first flush, together with
    // what the 'connection' handlers send (one write, one TCP segment for a welcome message).
    ws._attach(socket, head, {
      settings: this._settings,
      extension: accepted === null ? null : accepted.extension,
      protocol: protocol ?? '',
      extensions: extensions ?? '',
      server: this,
      preamble: response ?? undefined,
    });
    this._tracked?.add(ws);
    if (response === null) cb(ws, req);
    else ws._opening(cb, req);
  }

  /** @internal {port} mode: an upgrade request read by upgrade-listener.ts. */
  _upgradeFromListener(req: http.IncomingMessage, socket: Socket, head: Buffer): boolean {
    this.handleUpgrade(req, socket, head, this._emitConnection);
    return (socket as Socket & { [kWebSocket]?: unknown })[kWebSocket] !== undefined;
  }

  // --- handshake timeout: one timer per server ------------------------------------------------

  /** @internal */
  _trackPending(socket: Duplex): void {
    const timeout = this._handshakeTimeout;
    if (timeout === 0 || this._pending.has(socket)) return;
    this._pending.set(socket, Date.now() + timeout);
    // A socket that closes early leaves the map at once (a shared listener, no closure).
    (socket as Duplex & { [kPendingServer]?: WebSocketServer })[kPendingServer] = this;
    // on, not once: _untrackPending removes it, and once() would allocate a wrapper per socket.
    socket.on('close', pendingSocketClosed);
    if (this._sweepTimer === null) {
      this._sweepTimer = setTimeout(sweepPending, timeout, this);
      this._sweepTimer.unref();
    }
  }

  /** @internal */
  _untrackPending(socket: Duplex): void {
    if (!this._pending.delete(socket)) return;
    socket.removeListener('close', pendingSocketClosed);
    // Closed, and the last handshake is over: the sweep close() kept running has nothing left to
    // watch (a running server keeps its timer: it re-arms lazily).
    if (this._state !== RUNNING && this._pending.size === 0 && this._sweepTimer !== null) {
      clearTimeout(this._sweepTimer);
      this._sweepTimer = null;
    }
  }

  /** @internal Destroy the sockets past their deadline; re-arm for the next one. */
  _sweep(): void {
    this._sweepTimer = null;
    const now = Date.now();
    // Deadlines are in insertion order (one timeout for all), so stop at the first live one.
    for (const [socket, deadline] of this._pending) {
      if (deadline > now) {
        this._sweepTimer = setTimeout(sweepPending, deadline - now, this);
        this._sweepTimer.unref();
        return;
      }
      this._pending.delete(socket);
      socket.destroy();
    }
  }

  // --- ServerLink: called by this server's WebSockets -----------------------------------------

  /** @internal */
  _clientClosing(ws: WebSocket): void {
    this._topics?.leaveAll(ws);
  }

  /** @internal */
  _clientClosed(ws: WebSocket): void {
    this._topics?.leaveAll(ws);
    const tracked = this._tracked;
    if (tracked !== null) {
      tracked.delete(ws);
      if (this._state !== RUNNING && tracked.size === 0) this._heartbeat?.stop();
      if (this._shouldEmitClose && tracked.size === 0) {
        this._shouldEmitClose = false;
        process.nextTick(emitClose, this);
      }
    }
  }

  /** @internal */
  _subscribe(ws: WebSocket, topic: string): boolean {
    if (this._topics === null) this._topics = new Topics(this.options);
    return this._topics.subscribe(ws, topic);
  }

  /** @internal */
  _unsubscribe(ws: WebSocket, topic: string): boolean {
    if (this._topics !== null) return this._topics.unsubscribe(ws, topic);
    checkTopic(topic);
    return false;
  }

  /** @internal */
  _isSubscribed(ws: WebSocket, topic: string): boolean {
    if (this._topics !== null) return this._topics.isSubscribed(ws, topic);
    checkTopic(topic);
    return false;
  }

  /** @internal */
  _topicsOf(ws: WebSocket): string[] {
    return this._topics === null ? [] : this._topics.topicsOf(ws);
  }

  // --- pub/sub --------------------------------------------------------------------------------

  /**
   * Send `data` to every socket subscribed to `topic`. The frame is built once and the same
   * bytes are queued to each subscriber. Returns the number of sockets it was queued to.
   */
  publish(
    topic: string,
    // A Blob is refused (WS_ERR_INVALID_DATA): publish() frames once, synchronously, for every
    // subscriber, where send() can hold one socket's later sends while it reads the Blob.
    data: string | ArrayBuffer | SharedArrayBuffer | ArrayBufferView | RawData | Blob,
    options?: PublishOptions,
  ): number {
    if (this._topics === null) {
      checkPublish(topic, data);
      return 0;
    }
    return this._topics.publish(topic, data, options);
  }

  /** How many sockets are subscribed to `topic` (a topic that is not a non-empty string throws). */
  subscriberCount(topic: string): number {
    if (this._topics !== null) return this._topics.count(topic);
    checkTopic(topic);
    return 0;
  }
}

Object.defineProperty(WebSocketServer.prototype, kServerBrand, { value: true });

function sweepPending(server: WebSocketServer): void {
  server._sweep();
}
