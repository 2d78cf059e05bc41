/**
 * The WebSocket class: one per connection, for both roles, with ws 8's API and the browser's
 * event surface. It owns one core Protocol (all of RFC 6455's rules) and one net.Socket.
 *
 * Theory of operation:
 *
 *   socket 'data' ──► proto.receive(chunk) ──► ws.onMessage/... ──► 'message' / 'ping' / 'pong' / 'error'
 *                          │ (answers, close frames queued by the core)
 *                          ▼
 *                     outbox.flush(ws)  ──► ONE socket write, socket.end() if endTransport
 *
 *   send()/ping()/close() ──► proto.send*() ──► outbox.schedule(ws) (one nextTick for every
 *                                               socket), or flushed right after the 'data'
 *                                               handler when called from inside it
 *
 *   socket 'close' ──► readyState CLOSED, 'close'(code, reason)
 *
 * Hot-path rules: socket listeners are shared module functions that find the WebSocket via
 * `socket[kWebSocket]`; the WebSocket is itself the core's sink (methods on its
 * prototype); no closures, promises or timers per message. An idle connection holds no timer: the close timer exists only while closing, the heartbeat is server-wide.
 *
 * Readiness (readyState) lives here rather than in the core because it also covers the
 * client's opening handshake and the TCP teardown, which the core does not see:
 *
 *   CONNECTING (client handshake) ─► OPEN ─► CLOSING (close frame sent or received, socket
 *   ending, terminate()) ─► CLOSED (the socket closed; 'close' emitted)
 */
import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { HandshakeError, ProtocolError, UsageError } from '../core/errors.js';
import type { PerMessageExtension } from '../core/extension.js';
import { Protocol, type ProtocolSettings, type ProtocolSink } from '../core/protocol.js';
import { type ClientOptions, initiateClient } from './client.js';
import {
  type AddEventListenerOptions,
  addEventListener,
  type CloseEvent,
  type ErrorEvent,
  type Event,
  type EventListener,
  getAttribute,
  type MessageEvent,
  removeEventListener,
  setAttribute,
} from './event-target.js';
import { flush, pendingBytes, schedule } from './outbox.js';
import { abortTransport } from './transport.js';

/** The WebSocket a socket belongs to (shared listeners find it through this property). */
export const kWebSocket = Symbol('riptide.websocket');

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
const BINARY_TYPES: readonly string[] = ['nodebuffer', 'arraybuffer', 'fragments', 'blob'];

export type SendCallback = (err?: Error) => void;

export interface SendOptions {
  /** Send as a binary message (default: true unless data is a string). */
  binary?: boolean;
  /** Compress with permessage-deflate when negotiated (default true). */
  compress?: boolean;
  /** false: this is a fragment; the message continues with the next send(). Default true. */
  fin?: boolean;
  /** Accepted for ws compatibility; masking follows the role (RFC 6455 5.1). */
  mask?: boolean;
}

/** Data send() accepts. */
export type SendData = string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView | number;

/** What a server gives each of its WebSockets (tracking, topics); see websocket-server.ts. */
export interface ServerLink {
  _clientClosing(ws: WebSocket): void;
  _clientClosed(ws: WebSocket): void;
  _subscribe(ws: WebSocket, topic: string): boolean;
  _unsubscribe(ws: WebSocket, topic: string): boolean;
}

/** Everything _setSocket needs to start the protocol over an upgraded socket. */
export interface ConnectionSettings {
  closeTimeout: number;
  /**
   * Terminate a peer once this many automatic pongs wait behind unwritten data (0: no limit).
   * ws 8's option, name and default (60).
   */
  maxPendingAutoPongs: number;
  /** Validated once; a server shares one object with all of its connections. */
  protocol: ProtocolSettings;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** WebSocket._flags bits. */
const DIRTY = 1;
const ENDED = 2;
const CLOSING_STARTED = 4;
const CLOSED_DONE = 8;
const PAUSED = 16;
const NEED_DRAIN = 32;
const AWAITING_PONG = 64;
const YIELDING = 128;
const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
const EMPTY = Buffer.alloc(0);

/** The socket whose 'data' handler is running: its sends are flushed when the handler returns. */
let receiving: WebSocket | null = null;

function convertBinary(data: Buffer, type: BinaryType): unknown {
  switch (type) {
    case 'arraybuffer':
      if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer;
      return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    case 'fragments':
      return [data];
    case 'blob':
      return new Blob([data]);
    default:
      return data;
  }
}

/** Normalise send()/ping() data to what the core takes (string stays a string). */
function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return Buffer.from(data);
  if (typeof data === 'number') return Buffer.from(String(data));
  throw new UsageError(
    'WS_ERR_INVALID_DATA',
    'The data must be a string, a Buffer, an ArrayBuffer, a TypedArray or a DataView',
  );
}

/** A received binary message, as binaryType selects (text messages are always Buffers). */
export type RawData = Buffer | ArrayBuffer | Buffer[] | Blob;

// biome-ignore lint/suspicious/noExplicitAny: the catch-all overload of EventEmitter
type AnyListener = (...args: any[]) => void;

/** Typed event overloads (ws 8's event names and arguments). */
export interface WebSocket {
  on(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  on(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  on(event: 'open' | 'drain', listener: (this: WebSocket) => void): this;
  on(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  on(event: 'upgrade', listener: (this: WebSocket, response: IncomingMessage) => void): this;
  on(event: 'redirect', listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
  on(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void,
  ): this;
  on(event: string | symbol, listener: AnyListener): this;
  once(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  once(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  once(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  once(event: 'open' | 'drain', listener: (this: WebSocket) => void): this;
  once(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  once(event: 'upgrade', listener: (this: WebSocket, response: IncomingMessage) => void): this;
  once(event: 'redirect', listener: (this: WebSocket, url: string, request: ClientRequest) => void): this;
  once(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: ClientRequest, response: IncomingMessage) => void,
  ): this;
  once(event: string | symbol, listener: AnyListener): this;
  addListener(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  addListener(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  addListener(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  addListener(event: string | symbol, listener: AnyListener): this;
  off(event: string | symbol, listener: AnyListener): this;
  removeListener(event: string | symbol, listener: AnyListener): this;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface only adds typed overloads of EventEmitter methods
export class WebSocket extends EventEmitter implements ProtocolSink {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  // All fields are internal (underscore) but not private: the outbox, the client, the server,
  // the heartbeat and the topics read them without accessor calls. Field order is fixed here
  // so every instance shares one hidden class.
  /** @internal */ _socket: Socket | null = null;
  /** @internal */ _proto: Protocol | null = null;
  /** @internal */ _cbs: SendCallback[] | null = null;
  /** @internal DIRTY | ENDED | ...: the booleans below, packed (bench scenario 5: idle memory). */
  _flags = 0;
  /** @internal */ _binaryType: BinaryType = 'nodebuffer';
  /** @internal */ _closeTimer: NodeJS.Timeout | null = null;
  /** @internal Shared by all of a server's connections (close timeout, pong bound...). */
  _settings: ConnectionSettings | null = null;
  /** @internal Automatic pongs queued since the socket last had nothing left to write. */
  _pendingPongs = 0;
  /** @internal */ _protocol = '';
  /** @internal */ _extensions = '';
  /** @internal */ _url = '';
  /** @internal */ _server: ServerLink | null = null;
  /** @internal */ _topics: Set<string> | null = null;
  /** @internal Published frames waiting for a fragmented send to finish (see topics.ts). */
  _held: Buffer[] | null = null;
  /** @internal The client's handshake request while CONNECTING. */
  _req: { destroy(): void } | null = null;

  /** @internal Frames were queued since the last flush. */
  get _dirty(): boolean {
    return (this._flags & DIRTY) !== 0;
  }
  set _dirty(on: boolean) {
    this._flags = on ? this._flags | DIRTY : this._flags & ~DIRTY;
  }
  /** @internal socket.end() was called. */
  get _ended(): boolean {
    return (this._flags & ENDED) !== 0;
  }
  set _ended(on: boolean) {
    this._flags = on ? this._flags | ENDED : this._flags & ~ENDED;
  }
  /** @internal readyState reached CLOSING (topics left, server told). */
  get _closing(): boolean {
    return (this._flags & CLOSING_STARTED) !== 0;
  }
  set _closing(on: boolean) {
    this._flags = on ? this._flags | CLOSING_STARTED : this._flags & ~CLOSING_STARTED;
  }
  /** @internal 'close' was emitted. */
  get _closed(): boolean {
    return (this._flags & CLOSED_DONE) !== 0;
  }
  set _closed(on: boolean) {
    this._flags = on ? this._flags | CLOSED_DONE : this._flags & ~CLOSED_DONE;
  }
  /** @internal pause() is in effect. */
  get _paused(): boolean {
    return (this._flags & PAUSED) !== 0;
  }
  set _paused(on: boolean) {
    this._flags = on ? this._flags | PAUSED : this._flags & ~PAUSED;
  }
  /** @internal A send() returned false: 'drain' is owed. */
  get _needDrain(): boolean {
    return (this._flags & NEED_DRAIN) !== 0;
  }
  set _needDrain(on: boolean) {
    this._flags = on ? this._flags | NEED_DRAIN : this._flags & ~NEED_DRAIN;
  }
  /** @internal The heartbeat pinged and no pong came yet. */
  get _awaitingPong(): boolean {
    return (this._flags & AWAITING_PONG) !== 0;
  }
  set _awaitingPong(on: boolean) {
    this._flags = on ? this._flags | AWAITING_PONG : this._flags & ~AWAITING_PONG;
  }

  /**
   * A client connection to `address` (ws://, wss://, http(s):// or ws+unix:), or, with
   * `address` null, a server-side WebSocket the server attaches to an upgraded socket.
   */
  constructor(
    address: string | URL | null,
    protocols?: string | string[] | ClientOptions,
    options?: ClientOptions,
  ) {
    super();
    // A fast-mode listener table with the usual events declared, as Node's own streams do:
    // EventEmitter's default `{ __proto__: null }` is a dictionary-mode object, about 210 bytes
    // per connection in a heap snapshot of 2,000 idle connections.
    // Only the three events nearly every server connection listens to: each declared slot costs
    // 8 bytes per connection, and other events still get fast properties when first added.
    (this as unknown as { _events: object })._events = {
      message: undefined,
      close: undefined,
      error: undefined,
    };
    if (address !== null) {
      if (
        protocols !== undefined &&
        protocols !== null &&
        typeof protocols === 'object' &&
        !Array.isArray(protocols)
      ) {
        options = protocols;
        protocols = undefined;
      }
      initiateClient(this, address, protocols as string | string[] | undefined, options);
    }
  }

  /** Event names with listeners (the declared-but-empty slots of the listener table excluded). */
  override eventNames(): Array<string | symbol> {
    const events = (this as unknown as { _events: Record<string | symbol, unknown> })._events;
    return Reflect.ownKeys(events).filter((name) => events[name] !== undefined);
  }

  // --- state -------------------------------------------------------------------------------

  get readyState(): 0 | 1 | 2 | 3 {
    if (this._closed) return CLOSED;
    if (this._closing) return CLOSING;
    return this._proto === null ? CONNECTING : OPEN;
  }

  get binaryType(): BinaryType {
    return this._binaryType;
  }

  set binaryType(type: BinaryType) {
    // Like the browser and ws: an unknown value is ignored.
    if (BINARY_TYPES.includes(type)) this._binaryType = type;
  }

  /** Bytes accepted by send() and not yet handed to the kernel. */
  get bufferedAmount(): number {
    const socket = this._socket;
    if (socket === null) return 0;
    return socket.writableLength + pendingBytes(this);
  }

  get protocol(): string {
    return this._protocol;
  }

  get extensions(): string {
    return this._extensions;
  }

  get url(): string {
    return this._url;
  }

  get isPaused(): boolean {
    return this._paused;
  }

  /** @internal For CloseEvent.wasClean: both close frames were exchanged. */
  get _wasClean(): boolean {
    const proto = this._proto;
    return proto === null ? false : proto.closeSent && proto.closeReceived;
  }

  // --- browser event surface -----------------------------------------------------------------

  get onopen(): EventListener<Event> | null {
    return getAttribute(this, 'open') as EventListener<Event> | null;
  }
  set onopen(handler: EventListener<Event> | null) {
    setAttribute(this, 'open', handler);
  }
  get onmessage(): EventListener<MessageEvent> | null {
    return getAttribute(this, 'message') as EventListener<MessageEvent> | null;
  }
  set onmessage(handler: EventListener<MessageEvent> | null) {
    setAttribute(this, 'message', handler);
  }
  get onclose(): EventListener<CloseEvent> | null {
    return getAttribute(this, 'close') as EventListener<CloseEvent> | null;
  }
  set onclose(handler: EventListener<CloseEvent> | null) {
    setAttribute(this, 'close', handler);
  }
  get onerror(): EventListener<ErrorEvent> | null {
    return getAttribute(this, 'error') as EventListener<ErrorEvent> | null;
  }
  set onerror(handler: EventListener<ErrorEvent> | null) {
    setAttribute(this, 'error', handler);
  }

  addEventListener(type: string, listener: unknown, options?: AddEventListenerOptions): void {
    addEventListener(this, type, listener, options);
  }

  removeEventListener(type: string, listener: unknown): void {
    removeEventListener(this, type, listener);
  }

  // --- sending -------------------------------------------------------------------------------

  /**
   * Queue a message (or, with fin: false, a fragment of one). Returns true while the bytes
   * waiting to be written stay below the socket's writableHighWaterMark, false once they
   * reach it; a 'drain' event follows when they have been written (like stream.write()).
   */
  send(data: SendData, options?: SendOptions | SendCallback, cb?: SendCallback): boolean {
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    const proto = this._proto;
    if (proto === null && !this._closing) {
      throw new UsageError('WS_ERR_NOT_OPEN', 'WebSocket is not open: readyState 0 (CONNECTING)');
    }
    if (this._closing || proto === null) {
      this._sendAfterClose(cb);
      return false;
    }
    let binary: boolean;
    let payload: string | Buffer;
    // A string sent with binary: true is framed from the string directly (no extra Buffer).
    if (typeof data === 'string') {
      binary = false;
      payload = data;
    } else if (typeof data === 'number') {
      // ws compatibility: numbers are sent as their decimal text.
      binary = false;
      payload = String(data);
    } else {
      binary = true;
      payload = toBuffer(data);
    }
    let fin = true;
    let compress = true;
    if (options !== undefined && options !== null) {
      if (options.binary !== undefined) binary = options.binary === true;
      if (options.fin === false) fin = false;
      if (options.compress === false) compress = false;
    }
    // RFC 6455 5.4: the core sends the fragments after the first as continuation frames (the
    // opcode of later fragments is ignored, as in ws).
    proto.sendData(binary ? 2 : 1, payload, fin, compress);
    if (fin && this._held !== null) releaseHeld(this, proto);
    return this._queued(cb);
  }

  ping(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this._control(true, data, mask, cb);
  }

  pong(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this._control(false, data, mask, cb);
  }

  private _control(ping: boolean, data: unknown, mask: unknown, cb: SendCallback | undefined): void {
    if (typeof data === 'function') {
      cb = data as SendCallback;
      data = undefined;
    } else if (typeof mask === 'function') {
      cb = mask as SendCallback;
    }
    const proto = this._proto;
    if (proto === null && !this._closing) {
      throw new UsageError('WS_ERR_NOT_OPEN', 'WebSocket is not open: readyState 0 (CONNECTING)');
    }
    const payload = data === undefined || data === null ? EMPTY : toBuffer(data);
    // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less".
    if (payload.length > 125) {
      throw new UsageError('WS_ERR_CONTROL_TOO_LONG', 'The data size must not be greater than 125 bytes');
    }
    if (this._closing || proto === null) {
      this._sendAfterClose(cb);
      return;
    }
    if (ping) proto.sendPing(payload);
    else proto.sendPong(payload);
    this._queued(cb);
  }

  /** After a send: remember the callback, schedule the flush, compute the return value. */
  private _queued(cb: SendCallback | undefined): boolean {
    if (cb !== undefined) {
      if (this._cbs === null) this._cbs = [cb];
      else this._cbs.push(cb);
    }
    if (receiving !== this) schedule(this);
    const socket = this._socket!;
    if (socket.writableLength + pendingBytes(this) < socket.writableHighWaterMark) return true;
    if (!this._needDrain) {
      // The 'drain' listener exists only while someone waits for it (idle sockets carry none).
      this._needDrain = true;
      socket.on('drain', socketOnDrain);
    }
    return false;
  }

  private _sendAfterClose(cb: SendCallback | undefined): void {
    // ws compatibility: sending on a closing/closed socket is not an exception; the callback
    // (if any) receives the error.
    if (cb !== undefined) {
      const state = this.readyState;
      process.nextTick(
        cb,
        new UsageError(
          'WS_ERR_NOT_OPEN',
          `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`,
        ),
      );
    }
  }

  // --- closing -------------------------------------------------------------------------------

  /**
   * Start the closing handshake (RFC 6455 7.1.2). `code` must be 1000, 3000-4999 or a
   * registered code that may be sent; `reason` at most 123 bytes of UTF-8. The socket is
   * destroyed if the peer has not closed it within closeTimeout (30 s by default).
   */
  close(code?: number, reason?: string | Buffer): void {
    if (this._closed) return;
    const proto = this._proto;
    if (proto === null) {
      if (!this._closing) this._abortHandshake('WebSocket was closed before the connection was established');
      return;
    }
    if (this._closing) return;
    // The core validates code and reason and throws UsageError before changing state.
    proto.close(
      code,
      reason === undefined ? undefined : typeof reason === 'string' ? reason : reason.toString(),
    );
    this._startClosing();
    if (receiving !== this) schedule(this);
  }

  /** Destroy the connection now, without a closing handshake ('close' follows with 1006). */
  terminate(): void {
    if (this._closed) return;
    if (this._proto === null) {
      if (!this._closing) this._abortHandshake('WebSocket was closed before the connection was established');
      return;
    }
    this._startClosing();
    // The transport is gone for us: the core discards whatever is still buffered, so no
    // further message of the current chunk is delivered after terminate().
    this._proto.receiveEof();
    abortTransport(this._socket!);
  }

  // --- flow control --------------------------------------------------------------------------

  /** Stop emitting messages (after the current one) and stop reading from the socket. */
  pause(): void {
    const proto = this._proto;
    if (proto === null || this._closed) return;
    this._paused = true;
    proto.pause();
    this._socket!.pause();
  }

  /** Deliver held messages (on the next tick) and read from the socket again. */
  resume(): void {
    if (this._proto === null || this._closed || !this._paused) return;
    this._paused = false;
    // Deferred so a resume() called from user code never runs the parser re-entrantly.
    process.nextTick(deliverAfterResume, this);
  }

  // --- pub/sub (server side; see topics.ts) --------------------------------------------------

  /** Receive what the server publishes to `topic`. Returns false if already subscribed. */
  subscribe(topic: string): boolean {
    return this._link('subscribe')._subscribe(this, topic);
  }

  /** Stop receiving `topic`. Returns false if not subscribed. */
  unsubscribe(topic: string): boolean {
    return this._link('unsubscribe')._unsubscribe(this, topic);
  }

  isSubscribed(topic: string): boolean {
    return this._topics === null ? false : this._topics.has(topic);
  }

  /** The topics this socket is subscribed to. */
  get topics(): string[] {
    return this._topics === null ? [] : [...this._topics];
  }

  private _link(what: string): ServerLink {
    if (this._server === null) {
      throw new UsageError('WS_ERR_NO_SERVER', `${what}() is only available on a WebSocketServer's sockets`);
    }
    return this._server;
  }

  // --- the core's callbacks (ProtocolSink) -------------------------------------------------
  // The WebSocket is its own sink: one object less per connection (idle memory is a goal).
  // Distinct from the browser-style onmessage/onclose attributes (lower case).

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    // ws compatibility: text arrives as a Buffer too (isBinary tells them apart); binaryType
    // applies to binary messages only.
    if (isBinary && this._binaryType !== 'nodebuffer') {
      this.emit('message', convertBinary(data, this._binaryType), true);
    } else {
      this.emit('message', data, isBinary);
    }
  }

  /** @internal */
  onPing(data: Buffer): void {
    const proto = this._proto!;
    // The core has queued a pong (RFC 6455 5.5.2). A peer that pings and never reads would
    // make those pile up without end (issue 12, hole 2), so, as ws 8 does with the same option,
    // count the pongs still waiting behind data the kernel has not taken and terminate the peer
    // past the bound. The socket's buffer being empty means every earlier pong was written.
    const max = this._settings!.maxPendingAutoPongs;
    if (max > 0 && proto.settings.autoPong && !proto.closeSent) {
      if (this._socket!.writableLength === 0) this._pendingPongs = 1;
      else if (++this._pendingPongs > max) {
        this.terminate();
        this._reportError(new ProtocolError('WS_ERR_PENDING_PONGS'));
      }
    }
    this.emit('ping', data);
  }

  /** @internal */
  onPong(data: Buffer): void {
    this._awaitingPong = false;
    this.emit('pong', data);
  }

  /** @internal */
  onClose(_code: number, _reason: string): void {
    // The core queued our answering close frame (RFC 6455 5.5.1); 'close' is emitted once the
    // TCP connection is gone.
    this._startClosing();
  }

  /** @internal */
  onError(err: ProtocolError): void {
    this._startClosing();
    this._reportError(err);
  }

  // --- internals used by the server, the client and the outbox ------------------------------

  /** @internal Attach an upgraded socket and start the protocol. */
  _setSocket(
    socket: Socket,
    head: Buffer,
    settings: ConnectionSettings,
    extension: PerMessageExtension | null,
  ): void {
    (socket as Socket & { [kWebSocket]?: WebSocket })[kWebSocket] = this;
    this._socket = socket;
    this._settings = settings;
    this._proto = new Protocol(this, settings.protocol, extension);
    // Clear an idle timeout someone set (an http server's); calling setTimeout(0) on a socket
    // without one would only add a `timeout` property to it, kept for the connection's life.
    // Any Duplex will do as the transport (a TLS socket, a proxy's stream, an in-process pair):
    // the socket-only calls are made only where they exist, as ws does.
    if (socket.timeout && typeof socket.setTimeout === 'function') socket.setTimeout(0);
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    // Bytes the peer sent right after its handshake head arrive again as the first 'data'.
    if (head !== undefined && head !== null && head.length > 0) socket.unshift(head);
    socket.on('data', socketOnData);
    listenForEnd(socket);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    // A socket closed before we attached (rare) never emits 'close' again.
    if (socket.destroyed) process.nextTick(finishClose, this);
  }

  /** @internal readyState -> CLOSING (first call only): leave topics, tell the server. */
  _startClosing(): void {
    if (this._closing) return;
    this._closing = true;
    if (this._server !== null) this._server._clientClosing(this);
  }

  /** @internal Report a peer violation or a timeout: only to 'error' listeners, never thrown. */
  _reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** @internal Called by the outbox: the data queued past the high-water mark is written. */
  _onDrainedWithoutWait(): void {
    process.nextTick(drainedWithoutWait, this);
  }

  /** @internal Called by the outbox after a flush once a close frame went out. */
  _onCloseFlushed(): void {
    if (this._closeTimer === null && !this._closed) {
      this._closeTimer = setTimeout(closeTimeoutFired, this._settings!.closeTimeout, this);
    }
  }

  /** @internal Client: abort the opening handshake; 'error' (if listened) then 'close' 1006. */
  _abortHandshake(message: string, err?: Error): void {
    this._closing = true;
    const req = this._req;
    this._req = null;
    if (req !== null) req.destroy();
    const error = err ?? new HandshakeError('WS_ERR_HANDSHAKE_ABORTED', 0, message);
    process.nextTick(emitErrorAndClose, this, error);
  }
}

for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
}

/** Queue the published frames that waited for the end of a fragmented message. */
function releaseHeld(ws: WebSocket, proto: Protocol): void {
  const held = ws._held!;
  ws._held = null;
  for (let i = 0; i < held.length; i++) proto.sendFramed(held[i]);
}

function emitErrorAndClose(ws: WebSocket, err: Error): void {
  ws._reportError(err);
  finishClose(ws);
}

/** readyState -> CLOSED and 'close'(code, reason). Runs once, when the socket has closed. */
function finishClose(ws: WebSocket): void {
  if (ws._closed) return;
  ws._closing = true;
  ws._closed = true;
  if (ws._closeTimer !== null) {
    clearTimeout(ws._closeTimer);
    ws._closeTimer = null;
  }
  const server = ws._server;
  if (server !== null) server._clientClosed(ws);
  const proto = ws._proto;
  if (proto !== null) {
    // The transport is gone: receiveEof() also releases the extension (zlib contexts).
    proto.receiveEof();
  }
  // RFC 6455 7.1.5: the peer's close code (1005 if its frame had none), else 1006.
  const code = proto === null ? 1006 : proto.closeCode;
  const reason = proto === null || proto.closeReason === '' ? EMPTY : Buffer.from(proto.closeReason);
  ws.emit('close', code, reason);
}

function closeTimeoutFired(ws: WebSocket): void {
  ws._closeTimer = null;
  if (ws._closed) return;
  ws._reportError(new ProtocolError('WS_ERR_CLOSE_TIMEOUT'));
  if (ws._socket !== null) abortTransport(ws._socket);
}

function deliverAfterResume(ws: WebSocket): void {
  if (ws._paused || ws._closed) return;
  proceed(ws, false);
}

/**
 * The core has spent its inflate budget (a compressed flood, or one large compressed message):
 * stop reading this socket and go on after the event loop has served everyone else's I/O
 * (setImmediate runs after the poll phase). Issue 12, hole 6.
 */
function yieldTurn(ws: WebSocket): void {
  if ((ws._flags & YIELDING) !== 0) return;
  ws._flags |= YIELDING;
  ws._socket!.pause();
  setImmediate(nextSlice, ws);
}

function nextSlice(ws: WebSocket): void {
  ws._flags &= ~YIELDING;
  if (ws._closed) return;
  proceed(ws, true);
}

/**
 * Go on with held input, as a 'data' handler would (sends flushed after), after resume()
 * (`slice` false) or a yielded turn (`slice` true); then read on, or yield again.
 */
function proceed(ws: WebSocket, slice: boolean): void {
  const proto = ws._proto!;
  receiving = ws;
  try {
    if (slice) proto.nextSlice();
    else proto.resume();
  } finally {
    receiving = null;
    flush(ws);
  }
  if (proto.sliceSpent) yieldTurn(ws);
  else if (!ws._paused && !ws._closed && (ws._flags & YIELDING) === 0) ws._socket!.resume();
}

// --- shared socket listeners (this = the socket) ------------------------------------------------

type AttachedSocket = Socket & { [kWebSocket]: WebSocket };

function socketOnData(this: AttachedSocket, chunk: Buffer): void {
  const ws = this[kWebSocket];
  const proto = ws._proto!;
  receiving = ws;
  try {
    proto.receive(chunk);
  } finally {
    receiving = null;
    flush(ws);
  }
  if (proto.sliceSpent) yieldTurn(ws);
}

/**
 * Node's net.Socket listens to its own 'end' (onReadableStreamEnd, which makes later writes
 * fail once a non-half-open socket has ended). A second listener would turn the socket's
 * 'end' slot into an array, about 70 bytes per connection for its whole life (bench scenario
 * 5). So when Node's listener is the only one, ours replaces it and calls it first; any other
 * case (a Node version with another listener, user listeners) falls back to adding ours.
 */
let nodeOnEnd: ((this: Socket) => void) | null = null;

function listenForEnd(socket: Socket): void {
  const existing = socket.listeners('end');
  if (existing.length === 1) {
    const only = existing[0] as (this: Socket) => void;
    if (nodeOnEnd === null && only.name === 'onReadableStreamEnd') nodeOnEnd = only;
    if (only === nodeOnEnd) {
      socket.removeListener('end', only);
      socket.on('end', socketOnEndAfterNode);
      return;
    }
  }
  socket.on('end', socketOnEnd);
}

function socketOnEndAfterNode(this: AttachedSocket): void {
  nodeOnEnd!.call(this);
  socketOnEnd.call(this);
}

function socketOnEnd(this: AttachedSocket): void {
  const ws = this[kWebSocket];
  ws._startClosing();
  receiving = ws;
  try {
    ws._proto!.receiveEof();
  } finally {
    receiving = null;
    flush(ws);
  }
  // The peer will send nothing more; finish our side too (what is queued is still written).
  if (!ws._ended) {
    ws._ended = true;
    this.end();
  }
}

function socketOnClose(this: AttachedSocket): void {
  const ws = this[kWebSocket];
  // A paused socket does not read, so it closes only when destroyed (terminate, error, close
  // timeout); messages still held by pause() are dropped with it.
  finishClose(ws);
}

function socketOnError(this: AttachedSocket): void {
  // ECONNRESET and friends: not a protocol violation, and ws does not report them either; the
  // socket is destroyed and 'close' (1006) follows.
  const ws = this[kWebSocket];
  ws._startClosing();
  this.destroy();
}

function socketOnDrain(this: AttachedSocket): void {
  const ws = this[kWebSocket];
  this.removeListener('drain', socketOnDrain);
  if (ws._needDrain) {
    ws._needDrain = false;
    ws.emit('drain');
  }
}

/**
 * The outbox wrote everything a send() had queued past the high-water mark and the socket took
 * it without asking for a drain: there will be no socket 'drain', so emit ours here.
 */
function drainedWithoutWait(ws: WebSocket): void {
  const socket = ws._socket;
  if (!ws._needDrain || socket === null || socket.writableNeedDrain) return;
  socket.removeListener('drain', socketOnDrain);
  ws._needDrain = false;
  ws.emit('drain');
}
