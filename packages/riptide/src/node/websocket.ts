/**
 * The WebSocket class: one per connection, for both roles, with ws 8's API and the browser's
 * event surface. It is the ONE owner of a connection's state: its core Protocol (all of RFC
 * 6455's rules), its transport, its flags, its pending callbacks and timers. The other modules
 * of the Node layer never touch that state; they call the internal methods below:
 *
 *   client.ts, http2-client.ts   _setUrl, _setRequest/_isRequest, _abortHandshake, _attach
 *   websocket-server.ts, http2   _attach (server side)
 *   outbox.ts                    _flush (from the one nextTick that flushes every dirty socket)
 *   topics.ts                    _deliverFrames, _reportError
 *   heartbeat.ts                 _heartbeatPing, _heartbeatCheck
 *
 * Theory of operation:
 *
 *   transport read ──► proto.receive(chunk) ──► onMessage/... ──► 'message' / 'ping' / 'pong' / 'error'
 *   (a plain TCP socket reads into the buffer all sockets share, internals.ts readIntoShared;
 *    inside a large payload the next read goes straight into the payload's own buffer,
 *    _directTarget / readNextInto, and the core takes it with proto.receivedInPlace(n);
 *    any other transport emits 'data')
 *                          │ (answers, close frames queued by the core)
 *                          ▼
 *                     _flush()  ──► ONE write (outbox.ts writeBatch), end() if endTransport
 *
 *   send()/ping()/close() ──► proto.send*() ──► queueFlush (one nextTick for every socket), or
 *                                               flushed right after the 'data' handler when
 *                                               called from inside it (the RECEIVING flag)
 *
 *   transport 'close' ──► readyState CLOSED, 'close'(code, reason)
 *
 * Hot-path rules: transport listeners are shared module functions that find the WebSocket via
 * `transport[kWebSocket]`; the WebSocket is itself the core's sink (methods on its prototype);
 * no closures, promises or timers per message. An idle connection holds no timer (the close
 * timer exists only while closing, the heartbeat is server-wide) and carries only the fields
 * every connection needs: the rest (close timer, the client's request and URL, held frames,
 * bytes sent after closing) lives in an Extras object allocated on first need.
 *
 * Readiness (readyState) lives here rather than in the core because it also covers the
 * client's opening handshake and the TCP teardown, which the core does not see:
 *
 *   CONNECTING (client handshake) ─► OPEN ─► CLOSING (close frame sent or received, transport
 *   ending, terminate()) ─► CLOSED (the transport closed; 'close' emitted)
 */
import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { types } from 'node:util';
import { encodeClosePayload } from '../core/close.js';
import { ProtocolError, UsageError, UsageRangeError } from '../core/errors.js';
import { Protocol } from '../core/protocol.js';
import { FastBuffer } from '../core/receiver.js';
import { clientHandshakeError, handshakeError } from '../handshake/errors.js';
import { type ClientOptions, initiateClient } from './client.js';
import {
  type AddEventListenerOptions,
  addEventListener,
  type DispatchableEvent,
  dispatchEvent,
  type EventHandler,
  type EventListener,
  getAttribute,
  removeEventListener,
  setAttribute,
  type WebSocketEventMap,
} from './event-target.js';
import type { Http2HandshakeRequest, Http2HandshakeResponse } from './http2-client.js';
import {
  callNodeOnEnd,
  eventNamesWithListeners,
  isSharedReadBuffer,
  listenForEnd,
  presetListenerTable,
  queuedBelowSocket,
  readIntoShared,
  readNextInto,
  restoreSharedRead,
  writtenToKernel,
} from './internals.js';
import { setSocketSettings } from './options.js';
import { callAll, queueFlush, type WriteCallbacks, writeBatch, writesStraightToKernel } from './outbox.js';
import { checkTopic, isBufferList } from './topics.js';
import { type AttachInit, abortTransport, type ConnectionSettings, type ServerLink } from './transport.js';

export type { AttachInit, ConnectionSettings, ServerLink } from './transport.js';

/** The WebSocket a transport belongs to (shared listeners find it through this property). */
export const kWebSocket = Symbol('riptide.websocket');

/**
 * The brand `instanceof WebSocket` checks: on the prototype (no per-instance cost), found with
 * Symbol.for, so an ESM and a CommonJS copy of the library recognise each other's sockets.
 */
const kBrand = Symbol.for('riptide.WebSocket');

/**
 * The binaryType values. 'blob' (ws 8.18) is accepted and works, but the binaryType getter and
 * RawData are typed as @types/ws types them, without it, so that a riptide WebSocket is
 * assignable to ws's: with 'blob' set, a binary message's data is a Blob (cast it, as with ws).
 */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
const BINARY_TYPES: readonly BinaryType[] = ['nodebuffer', 'arraybuffer', 'fragments', 'blob'];

export type SendCallback = (err?: Error) => void;

export interface SendOptions {
  /** Send as a binary message (default: true unless data is a string). */
  binary?: boolean;
  /** Compress with permessage-deflate when negotiated (default true). */
  compress?: boolean;
  /** false: this is a fragment; the message continues with the next send(). Default true. */
  fin?: boolean;
  /** Accepted for ws compatibility and ignored: masking follows the role (RFC 6455 5.1). */
  mask?: boolean;
}

/**
 * Data send() accepts: what a 'message' listener receives too (RawData), so code written for ws
 * (`client.send(data, { binary: isBinary })`) type-checks. A Buffer[] (binaryType 'fragments')
 * is sent as one message of its buffers' bytes. A Blob (ws 8.18, WHATWG send(Blob)) is read
 * asynchronously and sent as a binary message; what is sent after it waits for it (see _readBlob).
 */
export type SendData =
  | string
  | Buffer
  | ArrayBuffer
  | SharedArrayBuffer
  | ArrayBufferView
  | number
  | RawData
  | Blob;

/** Something a pending opening handshake can be cancelled through (a request, an HTTP/2 stream). */
export interface Cancelable {
  destroy(): void;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** WebSocket._flags bits: the connection's booleans and its binaryType, packed in one integer. */
const DIRTY = 1; // queued for a flush (outbox.ts)
const ENDED = 2; // transport.end() was called
const CLOSING_STARTED = 4; // readyState reached CLOSING (topics left, server told)
const CLOSED_DONE = 8; // 'close' was emitted
const PAUSED = 16; // pause() is in effect
const NEED_DRAIN = 32; // a send() returned false: 'drain' is owed
const AWAITING_PONG = 64; // the heartbeat pinged and no pong came yet
const YIELDING = 128; // the inflate budget ran out: reading resumes on setImmediate
const DEFERRED = 256; // allowSynchronousEvents: false, the next event waits for setImmediate
const RECEIVING = 512; // inside the transport's 'data' handler: sends are flushed when it returns
const BINARY_TYPE_SHIFT = 10; // 2 bits: an index into BINARY_TYPES
const BINARY_TYPE_MASK = 3 << BINARY_TYPE_SHIFT;
const SLICING = 1 << 12; // a message is being compressed in slices: later sends wait (Extras.queue)
const SLICE_WAITING = 1 << 13; // SLICING, and the next slice waits for the transport's 'drain'
const BLOB_READING = 1 << 14; // a Blob sent is being read: later sends wait (Extras.queue)
const CLOSE_PENDING = 1 << 15; // the transport closed; 'close' waits for input still to parse (slices, deferred events, resume())
const CLOSE_WRITTEN = 1 << 16; // our close frame reached the transport (its write succeeded): CloseEvent.wasClean
/** Either reason for later sends, pings, pongs, published frames and close() to wait in order. */
const HOLDING = SLICING | BLOB_READING;
const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
const EMPTY = Buffer.alloc(0);

function convertBinary(data: Buffer, type: BinaryType): unknown {
  switch (type) {
    case 'arraybuffer':
      if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer;
      return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    case 'fragments':
      // One fragment: the message is assembled as it arrives (ws keeps one Buffer per frame).
      // Like ws, no empty fragment: an empty message is [].
      return data.length === 0 ? [] : [data];
    case 'blob':
      return new Blob([data]);
    default:
      return data;
  }
}

/**
 * Normalise send()/ping() data to a Buffer, as ws does: views without a copy, anything else
 * through Buffer.from (arrays work; other types get Node's own TypeError, as with ws). Callers
 * take a Blob aside first (it is read asynchronously, _readBlob).
 */
function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  // Any ArrayBuffer: a SharedArrayBuffer, or one of another realm (a vm context, a worker's
  // module), as ws 8.23.1 (util.types.isAnyArrayBuffer). Never masked in place (the core masks
  // into its own frame buffer), so the caller's memory is left as it was.
  if (types.isAnyArrayBuffer(data)) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return Buffer.from(data);
  if (typeof data === 'number') return Buffer.from(String(data));
  if (isBufferList(data)) return Buffer.concat(data);
  return Buffer.from(data as Uint8Array);
}

/**
 * A Blob (or a File) as ws 8.18 recognises one (lib/validation.js isBlob): by its shape and tag,
 * so a Blob of another realm or a spec-conforming polyfill is read too.
 */
function isBlob(value: unknown): value is Blob {
  if (typeof value !== 'object' || value === null) return false;
  const blob = value as Blob & { [Symbol.toStringTag]?: unknown };
  return (
    typeof blob.arrayBuffer === 'function' &&
    typeof blob.type === 'string' &&
    typeof blob.stream === 'function' &&
    (blob[Symbol.toStringTag] === 'Blob' || blob[Symbol.toStringTag] === 'File')
  );
}

/**
 * close()'s reason as ws 8 reads it: a string, or a Uint8Array's bytes as UTF-8; a value without
 * a length (a number, a plain object) is no reason; anything else with a length is a TypeError.
 */
function closeReason(reason: unknown): string | undefined {
  if (typeof reason === 'string') return reason;
  if (reason === undefined || !(reason as { length?: unknown }).length) return undefined;
  if (reason instanceof Uint8Array) {
    return Buffer.from(reason.buffer, reason.byteOffset, reason.byteLength).toString();
  }
  throw new UsageError('WS_ERR_INVALID_CLOSE_REASON', 'Second argument must be a string or a Uint8Array');
}

/**
 * ws 8's `extensions`: the names of the agreed extensions, comma-separated, without their
 * parameters. A valid value splits exactly on ',' and ';' (a parameter value is a token, even
 * quoted: RFC 6455 9.1).
 */
function extensionNames(agreed: string): string {
  if (agreed === '') return '';
  return agreed
    .split(',')
    .map((extension) => extension.split(';', 1)[0].trim())
    .join(',');
}

// biome-ignore lint/suspicious/noExplicitAny: the catch-all overload of EventEmitter
type AnyListener = (...args: any[]) => void;

/** Typed event overloads (ws 8's event names and arguments). */
export interface WebSocket {
  on(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  on(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (this: WebSocket, error: Error & { code?: string }) => void): this;
  on(event: 'open' | 'drain', listener: (this: WebSocket) => void): this;
  on(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  /** The 101 as node's IncomingMessage; over HTTP/2 (RFC 8441) the 2xx, an Http2HandshakeResponse. */
  on(event: 'upgrade', listener: (this: WebSocket, response: HandshakeResponse) => void): this;
  /** An Http2HandshakeRequest for a hop over HTTP/2 (RFC 8441), else node's ClientRequest. */
  on(event: 'redirect', listener: (this: WebSocket, url: string, request: HandshakeRequest) => void): this;
  /** Http2HandshakeRequest and Http2HandshakeResponse over HTTP/2, else node's objects. */
  on(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: HandshakeRequest, response: HandshakeResponse) => void,
  ): this;
  /** riptide, `{ http2: true }`: an HTTP/2 server without RFC 8441; HTTP/1.1 is tried next. */
  on(event: 'http2-fallback', listener: (this: WebSocket, reason: Error & { code: string }) => void): this;
  on(event: string | symbol, listener: AnyListener): this;
  once(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  once(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  once(event: 'error', listener: (this: WebSocket, error: Error & { code?: string }) => void): this;
  once(event: 'open' | 'drain', listener: (this: WebSocket) => void): this;
  once(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  /** The 101 as node's IncomingMessage; over HTTP/2 (RFC 8441) the 2xx, an Http2HandshakeResponse. */
  once(event: 'upgrade', listener: (this: WebSocket, response: HandshakeResponse) => void): this;
  /** An Http2HandshakeRequest for a hop over HTTP/2 (RFC 8441), else node's ClientRequest. */
  once(event: 'redirect', listener: (this: WebSocket, url: string, request: HandshakeRequest) => void): this;
  /** Http2HandshakeRequest and Http2HandshakeResponse over HTTP/2, else node's objects. */
  once(
    event: 'unexpected-response',
    listener: (this: WebSocket, request: HandshakeRequest, response: HandshakeResponse) => void,
  ): this;
  /** riptide, `{ http2: true }`: an HTTP/2 server without RFC 8441; HTTP/1.1 is tried next. */
  once(event: 'http2-fallback', listener: (this: WebSocket, reason: Error & { code: string }) => void): this;
  once(event: string | symbol, listener: AnyListener): this;
  addListener(event: 'message', listener: (this: WebSocket, data: RawData, isBinary: boolean) => void): this;
  addListener(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  addListener(event: 'error', listener: (this: WebSocket, error: Error & { code?: string }) => void): this;
  addListener(event: string | symbol, listener: AnyListener): this;
  off(event: string | symbol, listener: AnyListener): this;
  removeListener(event: string | symbol, listener: AnyListener): this;
}

/**
 * The request of an opening handshake as 'redirect' and 'unexpected-response' give it: node's
 * ClientRequest over HTTP/1.1, riptide's Http2HandshakeRequest over HTTP/2 (`instanceof`, or
 * `'stream' in request`, tells them apart).
 */
export type HandshakeRequest = ClientRequest | Http2HandshakeRequest;

/**
 * The answer 'upgrade' and 'unexpected-response' give: IncomingMessage over HTTP/1.1, else
 * Http2HandshakeResponse.
 */
export type HandshakeResponse = IncomingMessage | Http2HandshakeResponse;

/**
 * A received binary message, as binaryType selects (text messages are always Buffers); ws's
 * `WebSocket.RawData`. A Blob with binaryType 'blob', which this type leaves out as @types/ws does.
 */
export type RawData = Buffer | ArrayBuffer | Buffer[];

/** A MessageEvent's data: a string for a text message, else RawData (ws's `WebSocket.Data`). */
export type Data = string | RawData;

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface only adds typed overloads of EventEmitter methods
export class WebSocket extends EventEmitter {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  // The connection's state, owned by this class alone. Field order is fixed here so every
  // instance shares one hidden class; an idle connection carries these and nothing else.
  /** The transport (ws 8's name, which code written for ws reads: ws._socket.remoteAddress). */
  _socket: Duplex | null = null;
  /** @internal The protocol core (null while CONNECTING). */
  _proto: Protocol | null = null;
  /**
   * @internal Send callbacks waiting for the next write to complete, each after the number of
   * bytes queued in the core when it was added (outbox.ts WriteCallbacks; see _pushCb).
   */
  _cbs: WriteCallbacks | null = null;
  /** @internal DIRTY | ENDED | ... and the binaryType (bench scenario 5: idle memory). */
  _flags = 0;
  /** @internal Shared by all of a server's connections (close timeout, pong bound, event pacing). */
  _settings: ConnectionSettings | null = null;
  /** @internal Automatic pongs queued since the transport last had nothing left to write. */
  _pendingPongs = 0;
  /** @internal */ _protocol = '';
  /** @internal */ _extensions = '';
  /** @internal */ _server: ServerLink | null = null;
  /** @internal What few connections need, allocated on first use (see Extras). */
  _extra: Extras | null = null;

  /**
   * A client connection to `address` (ws://, wss://, http(s):// or ws+unix:), or, with
   * `address` null, a server-side WebSocket the server attaches to an upgraded transport.
   */
  constructor(
    address: string | URL | null,
    protocols?: string | string[] | ClientOptions,
    options?: ClientOptions,
  ) {
    super();
    // Only the three events nearly every server connection listens to are declared: each slot
    // costs 8 bytes per connection, and other events still get fast properties when added.
    presetListenerTable(this, { message: undefined, close: undefined, error: undefined });
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

  /** `instanceof WebSocket` holds for a WebSocket of another copy of riptide (ESM and CJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about (a subclass too)
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // biome-ignore lint/complexity/noThisInStatic: only the base class answers for the other copy
    if (this !== WebSocket) return false;
    return typeof value === 'object' && value !== null && (value as { [kBrand]?: true })[kBrand] === true;
  }

  /** Event names with listeners (the declared-but-empty slots of the listener table excluded). */
  override eventNames(): Array<string | symbol> {
    return eventNamesWithListeners(this);
  }

  // --- state -------------------------------------------------------------------------------

  get readyState(): 0 | 1 | 2 | 3 {
    const flags = this._flags;
    if ((flags & CLOSED_DONE) !== 0) return CLOSED;
    if ((flags & CLOSING_STARTED) !== 0) return CLOSING;
    return this._proto === null ? CONNECTING : OPEN;
  }

  /** Typed without 'blob' (see BinaryType): it reads back 'blob' once set to 'blob'. */
  get binaryType(): Exclude<BinaryType, 'blob'> {
    return BINARY_TYPES[(this._flags & BINARY_TYPE_MASK) >> BINARY_TYPE_SHIFT] as Exclude<BinaryType, 'blob'>;
  }

  set binaryType(type: BinaryType) {
    // Like the browser and ws: an unknown value is ignored.
    const index = BINARY_TYPES.indexOf(type);
    if (index !== -1) this._flags = (this._flags & ~BINARY_TYPE_MASK) | (index << BINARY_TYPE_SHIFT);
  }

  /**
   * Bytes accepted by send(), ping() and pong() and not yet handed to the kernel, as ws counts
   * them: the payloads still queued here (before compression and framing), plus what the
   * transport itself still buffers, plus published frames held behind a fragmented send; after
   * closing began, what was sent is added (never written). The server's 101 response is not
   * counted.
   */
  get bufferedAmount(): number {
    const socket = this._socket;
    const proto = this._proto;
    const extra = this._extra;
    // Published frames held behind a fragmented send are queued too (maxBackpressure reads this).
    let amount = extra === null ? 0 : extra.afterClose + extra.heldBytes;
    if (socket !== null) amount += socket.writableLength + queuedBelowSocket(socket);
    if (proto !== null) amount += proto.outputPayload;
    // A message compressed in slices counts its input not compressed yet.
    if ((this._flags & SLICING) !== 0) amount += proto!.compressPending;
    return amount;
  }

  get protocol(): string {
    return this._protocol;
  }

  /** The agreed extensions' names ('permessage-deflate' or ''), as in ws 8. */
  get extensions(): string {
    return this._extensions;
  }

  /** The URL connected to (after redirects); undefined for a server's WebSocket, as in ws. */
  get url(): string {
    return (this._extra === null ? undefined : this._extra.url) as string;
  }

  get isPaused(): boolean {
    return (this._flags & PAUSED) !== 0;
  }

  /**
   * @internal For CloseEvent.wasClean: both close frames were exchanged, the peer's parsed and
   * ours written (RFC 6455 7.1.4/7.1.5; ws 8's _closeFrameReceived && _closeFrameSent). The
   * core's closeSent says ours was queued, which may be after the transport ended.
   */
  get _wasClean(): boolean {
    return (this._flags & CLOSE_WRITTEN) !== 0 && this._proto!.closeReceived;
  }

  /**
   * @internal Call `callback` when a server closes its descriptor at once after the closing
   * handshake, every byte in the kernel (_flush): its transport's 'finish' never comes then,
   * where ws 8's comes before 'close' (createWebSocketStream's end() waits for either).
   */
  _whenFinished(callback: () => void): void {
    const extra = this._extras();
    if (extra.finished === null) extra.finished = [callback];
    else extra.finished.push(callback);
  }

  /** @internal The write that carried our close frame completed (err: it failed). */
  _closeFrameWritten(err?: Error | null): void {
    if (err === undefined || err === null) this._flags |= CLOSE_WRITTEN;
  }

  // --- browser event surface -----------------------------------------------------------------

  get onopen(): EventHandler<WebSocketEventMap['open']> | null {
    return getAttribute(this, 'open') as EventHandler<WebSocketEventMap['open']> | null;
  }
  set onopen(handler: EventListener<WebSocketEventMap['open']> | null) {
    setAttribute(this, 'open', handler);
  }
  get onmessage(): EventHandler<WebSocketEventMap['message']> | null {
    return getAttribute(this, 'message') as EventHandler<WebSocketEventMap['message']> | null;
  }
  set onmessage(handler: EventListener<WebSocketEventMap['message']> | null) {
    setAttribute(this, 'message', handler);
  }
  get onclose(): EventHandler<WebSocketEventMap['close']> | null {
    return getAttribute(this, 'close') as EventHandler<WebSocketEventMap['close']> | null;
  }
  set onclose(handler: EventListener<WebSocketEventMap['close']> | null) {
    setAttribute(this, 'close', handler);
  }
  get onerror(): EventHandler<WebSocketEventMap['error']> | null {
    return getAttribute(this, 'error') as EventHandler<WebSocketEventMap['error']> | null;
  }
  set onerror(handler: EventListener<WebSocketEventMap['error']> | null) {
    setAttribute(this, 'error', handler);
  }

  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: EventListener<WebSocketEventMap[K]>,
    options?: AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: unknown, options?: AddEventListenerOptions): void;
  addEventListener(type: string, listener: unknown, options?: AddEventListenerOptions): void {
    addEventListener(this, type, listener, options);
  }

  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: EventListener<WebSocketEventMap[K]>,
  ): void;
  removeEventListener(type: string, listener: unknown): void;
  removeEventListener(type: string, listener: unknown): void {
    removeEventListener(this, type, listener);
  }

  /**
   * DOM EventTarget: call the addEventListener() listeners and the `on<type>` attribute of
   * `event.type` with this event, unchanged (see event-target.ts). Not in ws; listeners added with
   * `on(type)` are not called. Returns false when a cancelable event's preventDefault() was called.
   */
  dispatchEvent(event: DispatchableEvent): boolean {
    return dispatchEvent(this, event);
  }

  // --- sending -------------------------------------------------------------------------------

  /**
   * Queue a message (or, with fin: false, a fragment of one). Returns true while the bytes
   * waiting to be written stay below the transport's writableHighWaterMark, false once they
   * reach it; a 'drain' event follows when they have been written (like stream.write()).
   * A Blob, and whatever is sent while one is being read, returns false: its bytes are not
   * written yet ('drain' follows once they are).
   */
  send(data: SendData, options?: SendOptions | SendCallback, cb?: SendCallback): boolean;
  /** No data: an empty message (as ws). Its own overload, so that send() matches @types/ws's. */
  send(data?: null, options?: SendOptions | SendCallback, cb?: SendCallback): boolean;
  send(data?: SendData | null, options?: SendOptions | SendCallback, cb?: SendCallback): boolean {
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    const proto = this._proto;
    const closing = (this._flags & CLOSING_STARTED) !== 0;
    if (proto === null && !closing) {
      throw new UsageError('WS_ERR_NOT_OPEN', 'WebSocket is not open: readyState 0 (CONNECTING)');
    }
    if (closing || proto === null) {
      this._sendAfterClose(data, cb);
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
    } else if (data === undefined || data === null || (data as unknown) === false) {
      // ws compatibility: send() without data sends an empty binary message.
      binary = true;
      payload = EMPTY;
    } else if (Buffer.isBuffer(data)) {
      binary = true;
      payload = data;
    } else if (isBlob(data)) {
      // ws 8.18 and WHATWG send(Blob): its own path, so the others pay nothing for it.
      return this._sendBlob(data, options, cb);
    } else {
      binary = true;
      payload = toBuffer(data);
    }
    let fin = true;
    let compress = true;
    if (options !== undefined && options !== null) {
      // As ws 8 reads them (by truthiness, spread over its defaults): any value but undefined,
      // which is "not given" here (ws's spread makes it falsy).
      if (options.binary !== undefined) binary = !!options.binary;
      if (options.fin !== undefined && !options.fin) fin = false;
      if (options.compress !== undefined && !options.compress) compress = false;
    }
    // Behind a message being compressed in slices or a Blob being read, everything waits its turn.
    if ((this._flags & HOLDING) !== 0) {
      const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
      this._hold(new Queued(QUEUED_SEND, binary ? 2 : 1, payload, fin, compress, cb, bytes));
      return this._needDrain();
    }
    return this._sendNow(proto, binary ? 2 : 1, payload, fin, compress, cb);
  }

  /**
   * send(blob) while open: a binary message unless options say otherwise (as ws 8.18), read
   * now, or held behind what is already waiting. Returns false: nothing is written yet.
   */
  private _sendBlob(
    blob: Blob,
    options: SendOptions | null | undefined,
    cb: SendCallback | undefined,
  ): false {
    let binary = true;
    let fin = true;
    let compress = true;
    if (options !== undefined && options !== null) {
      // As ws 8 reads them (by truthiness, spread over its defaults): any value but undefined,
      // which is "not given" here (ws's spread makes it falsy).
      if (options.binary !== undefined) binary = !!options.binary;
      if (options.fin !== undefined && !options.fin) fin = false;
      if (options.compress !== undefined && !options.compress) compress = false;
    }
    const entry = new Queued(QUEUED_SEND, binary ? 2 : 1, blob, fin, compress, cb, blob.size);
    if ((this._flags & HOLDING) !== 0) this._hold(entry);
    else this._readBlob(entry);
    return this._needDrain();
  }

  /** send() itself, once nothing waits ahead of it. */
  private _sendNow(
    proto: Protocol,
    opcode: 1 | 2,
    payload: string | Buffer,
    fin: boolean,
    compress: boolean,
    cb: SendCallback | undefined,
  ): boolean {
    // RFC 6455 5.4: the core sends the fragments after the first as continuation frames (the
    // opcode of later fragments is ignored, as in ws).
    proto.sendData(opcode, payload, fin, compress);
    if (fin && this._extra !== null && this._extra.held !== null) this._releaseHeld(proto);
    // A compressed message above the deflate budget: its first slice is queued, the rest follows
    // one slice per event-loop turn.
    if (compress && fin && proto.compressing) return this._startSlicing(cb);
    return this._queued(cb);
  }

  /**
   * A message is being compressed in slices (core/protocol.ts DEFLATE_SLICE): one slice per turn
   * of the event loop (setImmediate, after the poll phase has served the other connections).
   * Its callback waits for its last frame; later sends, published frames, close() and the answer
   * to a peer's close frame that comes meanwhile wait in Extras.queue. send() returns false:
   * 'drain' follows once it is all written.
   */
  private _startSlicing(cb: SendCallback | undefined): boolean {
    this._flags |= SLICING;
    this._extras().slicedCb = cb;
    this._scheduleFlush();
    setImmediate(compressTurn, this);
    return this._needDrain();
  }

  /** @internal The next slice of the message being compressed (its setImmediate). */
  _compressTurn(): void {
    if ((this._flags & SLICING) === 0) return; // given up meanwhile (closed, terminated)
    const proto = this._proto!;
    if (!proto.compressing) {
      // The core gave the message up since the last turn (its transport ended): what waited
      // behind it cannot be sent either.
      this._dropHeld();
      this._flush();
      return;
    }
    if (this._socket!.writableNeedDrain) {
      // The transport holds more than its high-water mark: the peer reads slower than we
      // compress. The next slice waits for its 'drain' (_onDrain), so a slow or stalled reader
      // leaves the rest of the message uncompressed here instead of compressed in memory.
      this._flags |= SLICE_WAITING;
      return;
    }
    proto.compressNextSlice();
    if (proto.compressing) {
      this._flush();
      setImmediate(compressTurn, this);
      return;
    }
    // Done (or failed: onError has then dropped what waited). Its last frame is queued: its
    // callback goes with that write, then what waited behind it is sent in order.
    if ((this._flags & SLICING) !== 0) {
      this._flags &= ~SLICING;
      const extra = this._extra!;
      const cb = extra.slicedCb;
      extra.slicedCb = undefined;
      if (cb !== undefined) this._pushCb(cb);
      this._replay(proto);
    }
    this._flush();
  }

  /** Wait behind the message being compressed in slices. */
  private _hold(entry: Queued): void {
    const extra = this._extras();
    if (extra.queue === null) extra.queue = [entry];
    else extra.queue.push(entry);
    extra.heldBytes += entry.bytes;
  }

  /**
   * The sliced message is done, or the Blob read: send what waited behind it, in order, until
   * another one starts (a sliced message, another Blob).
   */
  private _replay(proto: Protocol): void {
    const extra = this._extra!;
    const queue = extra.queue;
    if (queue === null) return;
    extra.queue = null;
    for (let i = 0; i < queue.length; i++) {
      const entry = queue[i];
      extra.heldBytes -= entry.bytes;
      if ((this._flags & HOLDING) !== 0) {
        // A replayed send started another sliced message or Blob read: the rest waits for it.
        this._hold(entry);
        continue;
      }
      this._run(proto, entry);
    }
  }

  /** Do what waited in Extras.queue (or a Blob just read: its data is now a Buffer). */
  private _run(proto: Protocol, entry: Queued): void {
    const kind = entry.kind;
    if ((kind === QUEUED_SEND || kind === QUEUED_PING || kind === QUEUED_PONG) && isBlob(entry.data)) {
      this._readBlob(entry);
    } else if (kind === QUEUED_SEND) {
      this._sendNow(
        proto,
        entry.opcode as 1 | 2,
        entry.data as string | Buffer,
        entry.fin,
        entry.compress,
        entry.cb,
      );
    } else if (kind === QUEUED_FRAMES) {
      this._deliverNow(proto, entry.data as readonly Buffer[]);
    } else if (kind === QUEUED_CALLBACK) {
      // A ping's or pong's callback: its frame left earlier, this goes with the next write.
      this._pushCb(entry.cb!);
    } else if (kind === QUEUED_PING || kind === QUEUED_PONG) {
      if (kind === QUEUED_PING) proto.sendPing(entry.data as Buffer);
      else proto.sendPong(entry.data as Buffer);
      this._queued(entry.cb);
    } else if (kind === QUEUED_CLOSE) {
      // A close() made while this waited; if the peer's close came meanwhile, it is the answer
      // (with our code, as ws 8 sends it) and the QUEUED_ANSWER behind it finds nothing owed.
      proto.close(entry.opcode === 0 ? undefined : entry.opcode, entry.reason);
      this._scheduleFlush();
    } else {
      // The answer to the peer's close frame, owed since it came during a sliced message or a
      // Blob's read.
      proto.answerClose();
      this._scheduleFlush();
    }
  }

  /**
   * A Blob given to send(), ping() or pong() (ws 8.18, WHATWG send(Blob)): read it
   * (blob.arrayBuffer(), the one asynchronous step; the core only ever sees its bytes) and,
   * until it is read, hold every later send, ping, pong, published frame and close() in
   * Extras.queue, in call order, as ws's sender does. Its size counts in bufferedAmount at once
   * (WHATWG send(): "increase the bufferedAmount attribute by the size of data"). send()
   * returns false for it (nothing written yet): 'drain' follows once it is.
   *
   *   send(blob) ─► BLOB_READING ─► arrayBuffer() resolves ─► sent, then Extras.queue in order
   *                      │                      └─ rejects ─► fail 1011 (WS_ERR_BLOB_READ_FAILED)
   *                      ├─ the peer's close meanwhile ─► its answer waits in Extras.queue (onClose)
   *                      └─ terminated, failed, transport gone ─► callbacks: WS_ERR_SOCKET_CLOSED
   *
   * The core's dataPending is up while BLOB_READING: a peer's close frame that comes meanwhile
   * is owed (closeOwed), not answered at once, so the Blob and what was sent behind it before
   * that close still go out, then the answer, as ws 8 sends them.
   */
  private _readBlob(entry: Queued): void {
    this._flags |= BLOB_READING;
    this._proto!.dataPending = true;
    const extra = this._extras();
    extra.blob = entry;
    extra.heldBytes += entry.bytes;
    let read: Promise<ArrayBuffer>;
    try {
      read = (entry.data as Blob).arrayBuffer();
    } catch (err) {
      // A Blob-shaped object whose arrayBuffer() throws: a failed read, as if it had rejected.
      read = Promise.reject(err);
    }
    read.then(
      (bytes) => this._onBlobRead(entry, bytes),
      // On the next tick, as ws does: an 'error' listener or a callback that throws is then
      // an uncaught exception, not a rejection of this promise.
      (err: unknown) => process.nextTick(blobFailed, this, entry, err),
    );
  }

  /** The Blob's bytes: send them, then what waited behind them. */
  private _onBlobRead(entry: Queued, bytes: ArrayBuffer): void {
    const extra = this._extra;
    // Dropped meanwhile (the peer closed, the connection failed or ended, terminate()).
    if (extra === null || extra.blob !== entry) return;
    let data: Buffer;
    try {
      data = Buffer.from(bytes);
    } catch (err) {
      // A Blob-shaped object whose read resolved to no bytes (a broken polyfill): a failed read,
      // not a rejection nobody handles (ws 8.18 fails the connection too).
      process.nextTick(blobFailed, this, entry, err);
      return;
    }
    extra.blob = null;
    extra.heldBytes -= entry.bytes;
    this._flags &= ~BLOB_READING;
    const proto = this._proto!;
    proto.dataPending = false;
    entry.data = data;
    this._run(proto, entry);
    this._replay(proto);
  }

  /** @internal Reading the Blob failed: fail the connection (1011), as ws fails it. */
  _onBlobFailed(entry: Queued, cause: unknown): void {
    const extra = this._extra;
    if (extra === null || extra.blob !== entry) return;
    // core fail() -> onError: callbacks and 'error' get this error, the close frame says 1011.
    this._proto!.fail(new ProtocolError('WS_ERR_BLOB_READ_FAILED', undefined, { cause }));
    this._flush();
  }

  /**
   * The sliced message will not be finished, or the Blob being read will not be sent (the
   * connection failed or ended, terminate(), the close timer): its callback and those of what
   * waited behind it get an error, after the callbacks of what was written before it. A close(),
   * or the answer to the peer's close, that waited is dropped.
   */
  private _dropHeld(error?: Error): void {
    const flags = this._flags;
    if ((flags & HOLDING) === 0) return;
    this._flags = flags & ~(HOLDING | SLICE_WAITING);
    if ((flags & BLOB_READING) !== 0) this._proto!.dataPending = false;
    const extra = this._extra!;
    const cbs: SendCallback[] = [];
    if (extra.slicedCb !== undefined) cbs.push(extra.slicedCb);
    extra.slicedCb = undefined;
    const blob = extra.blob;
    if (blob !== null) {
      // Its read still resolves later: _onBlobRead finds it gone and does nothing.
      extra.blob = null;
      extra.heldBytes -= blob.bytes;
      if (blob.cb !== undefined) cbs.push(blob.cb);
    }
    const queue = extra.queue;
    extra.queue = null;
    if (queue !== null) {
      for (let i = 0; i < queue.length; i++) {
        extra.heldBytes -= queue[i].bytes;
        const cb = queue[i].cb;
        if (cb !== undefined) cbs.push(cb);
      }
    }
    if (cbs.length === 0) return;
    const err =
      error ??
      handshakeError(
        (flags & SLICING) !== 0 ? 'WS_ERR_SOCKET_CLOSED_COMPRESSING' : 'WS_ERR_SOCKET_CLOSED_READING_BLOB',
      );
    const socket = this._socket!;
    if (socket.destroyed || this._cbs === null) {
      process.nextTick(callAll, cbs, err);
      return;
    }
    // After the callbacks of the write still to come (the close frame's).
    for (let i = 0; i < cbs.length; i++) this._pushCb(callWith.bind(null, cbs[i], err));
  }

  ping(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback): void;
  /** @types/ws's signature: its callback's error is typed as always given (it is not, on success). */
  ping(data?: unknown, mask?: boolean, cb?: (err: Error) => void): void;
  ping(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback | ((err: Error) => void)): void {
    this._control(true, data, mask, cb as SendCallback | undefined);
  }

  pong(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback): void;
  /** @types/ws's signature: its callback's error is typed as always given (it is not, on success). */
  pong(data?: unknown, mask?: boolean, cb?: (err: Error) => void): void;
  pong(data?: unknown, mask?: boolean | SendCallback, cb?: SendCallback | ((err: Error) => void)): void {
    this._control(false, data, mask, cb as SendCallback | undefined);
  }

  private _control(ping: boolean, data: unknown, mask: unknown, cb: SendCallback | undefined): void {
    if (typeof data === 'function') {
      cb = data as SendCallback;
      data = undefined;
    } else if (typeof mask === 'function') {
      cb = mask as SendCallback;
    }
    const proto = this._proto;
    const closing = (this._flags & CLOSING_STARTED) !== 0;
    if (proto === null && !closing) {
      throw new UsageError('WS_ERR_NOT_OPEN', 'WebSocket is not open: readyState 0 (CONNECTING)');
    }
    if (closing || proto === null) {
      this._sendAfterClose(data, cb);
      return;
    }
    const blob = isBlob(data) ? data : undefined;
    const payload =
      data === undefined || data === null || data === false || blob !== undefined ? EMPTY : toBuffer(data);
    // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less".
    // A Blob's size is known before it is read (checked now, as ws checks it).
    if ((blob === undefined ? payload.length : blob.size) > 125) {
      throw new UsageRangeError(
        'WS_ERR_CONTROL_TOO_LONG',
        'The data size must not be greater than 125 bytes',
      );
    }
    // A Blob, or anything behind one being read, waits in order (a Blob behind a sliced message
    // too: it cannot be framed before it is read).
    if ((this._flags & BLOB_READING) !== 0 || blob !== undefined) {
      const entry = new Queued(
        ping ? QUEUED_PING : QUEUED_PONG,
        0,
        blob ?? payload,
        true,
        false,
        cb,
        blob === undefined ? payload.length : blob.size,
      );
      if ((this._flags & HOLDING) !== 0) this._hold(entry);
      else this._readBlob(entry);
      return;
    }
    if (ping) proto.sendPing(payload);
    else proto.sendPong(payload);
    if (cb !== undefined && (this._flags & SLICING) !== 0) {
      // The frame goes between the fragments of the message being compressed (RFC 6455 5.4),
      // but its callback keeps the call order, as in ws: after that message's callback and
      // those of the sends made before this call (it waits in Extras.queue with them).
      this._hold(new Queued(QUEUED_CALLBACK, 0, null, true, false, cb, 0));
      this._scheduleFlush();
      return;
    }
    this._queued(cb);
  }

  /** After a send: remember the callback, arrange the flush, compute the return value. */
  private _queued(cb: SendCallback | undefined): boolean {
    if (cb !== undefined) this._pushCb(cb);
    this._scheduleFlush();
    const socket = this._socket!;
    if (socket.writableLength + this._proto!.outputBytes < socket.writableHighWaterMark) return true;
    return this._needDrain();
  }

  /**
   * Add a send callback, after the bytes the core has queued so far: where the frames it waits
   * for end, which lets a large batch be cut between messages (outbox.ts writeBatch).
   */
  private _pushCb(cb: SendCallback): void {
    const end = this._proto === null ? 0 : this._proto.outputBytes;
    if (this._cbs === null) this._cbs = [end, cb];
    else this._cbs.push(end, cb);
  }

  /** send() returns false: a 'drain' is owed once what is queued has been written. */
  private _needDrain(): false {
    if ((this._flags & NEED_DRAIN) === 0) {
      // The 'drain' listener exists only while someone waits for it (idle sockets carry none).
      this._flags |= NEED_DRAIN;
      this._socket!.on('drain', socketOnDrain);
    }
    return false;
  }

  /** Flush on the next tick, unless a 'data' handler is running (it flushes when it returns). */
  private _scheduleFlush(): void {
    const flags = this._flags;
    if ((flags & (RECEIVING | DIRTY)) !== 0) return;
    this._flags = flags | DIRTY;
    queueFlush(this);
  }

  private _sendAfterClose(data: unknown, cb: SendCallback | undefined): void {
    // ws compatibility: sending on a closing/closed socket is not an exception; the callback
    // (if any) receives the error. Like ws and the browsers (WHATWG "send()": "increase the
    // bufferedAmount attribute by the length of data"), the bytes still count in bufferedAmount.
    if (data !== undefined && data !== null && data !== false && data !== '') {
      const length =
        typeof data === 'string' ? Buffer.byteLength(data) : isBlob(data) ? data.size : toBuffer(data).length;
      this._extras().afterClose += length;
    }
    if (cb !== undefined) {
      const state = this.readyState;
      const err = new UsageError(
        'WS_ERR_NOT_OPEN',
        `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`,
      );
      // ws calls send callbacks in order: if earlier sends still wait for the batched write,
      // this error is answered after them, with their batch (its own error, not the write's).
      if (this._cbs !== null) this._pushCb(() => cb(err));
      else process.nextTick(cb, err);
    }
  }

  // --- closing -------------------------------------------------------------------------------

  /**
   * Start the closing handshake (RFC 6455 7.1.2). `code` must be 1000, 3000-4999 or a
   * registered code that may be sent; `reason` at most 123 bytes of UTF-8. The transport is
   * destroyed if the peer has not closed it within closeTimeout (30 s by default).
   */
  close(code?: number, reason?: string | Buffer): void {
    // WHATWG WebSockets close(): a reason without a code is sent with 1000 (ws 8 drops it).
    if (code === undefined && reason !== undefined) code = 1000;
    const flags = this._flags;
    const proto = this._proto;
    if (proto === null || (flags & (CLOSED_DONE | CLOSING_STARTED)) !== 0) {
      // WHATWG: the code and the reason are checked first, whatever the state: close(999) while
      // CONNECTING, CLOSING or CLOSED throws as it does while OPEN (ws 8 ignores them then).
      encodeClosePayload(code, closeReason(reason));
    }
    if ((flags & CLOSED_DONE) !== 0) return;
    if (proto === null) {
      if ((flags & CLOSING_STARTED) === 0) {
        this._abortHandshake(clientHandshakeError('WS_ERR_HANDSHAKE_ABORTED'));
      }
      return;
    }
    if (waitsForResume(flags)) {
      // The transport is gone and 'close' waits for the resume() of the input pause() holds:
      // nothing can be sent, so close() ends the wait. The held input is dropped and 'close'
      // follows (on the next tick, as always after close()) with the peer's code if its close
      // frame was parsed, else 1006, as a close() while paused ends once the close timer fires.
      proto.abort();
      process.nextTick(finishClose, this);
      return;
    }
    if ((flags & CLOSING_STARTED) !== 0) return;
    if ((flags & HOLDING) !== 0) {
      // The close frame follows the message being compressed or the Blob being read (and what
      // was sent before close(), as ws's sender queues it):
      // checked now (a UsageError before any change), queued after them.
      const text = closeReason(reason);
      encodeClosePayload(code, text);
      this._hold(new Queued(QUEUED_CLOSE, code ?? 0, null, true, false, undefined, 0, text));
      this._startClosing();
      // The close timer runs from close(), as in ws: a peer that stopped reading holds the
      // message (each slice waits for 'drain'), and with it the close frame, for closeTimeout
      // at most.
      this._armCloseTimer();
      return;
    }
    // The core validates code and reason and throws a UsageError before changing state.
    proto.close(code, closeReason(reason));
    this._startClosing();
    this._scheduleFlush();
  }

  /** Destroy the connection now, without a closing handshake ('close' follows with 1006). */
  terminate(): void {
    const flags = this._flags;
    if ((flags & CLOSED_DONE) !== 0) return;
    const proto = this._proto;
    if (proto === null) {
      if ((flags & CLOSING_STARTED) === 0) {
        this._abortHandshake(clientHandshakeError('WS_ERR_HANDSHAKE_ABORTED'));
      }
      return;
    }
    // ws writes each frame (and a server's 101 response) to the socket at once, so what was
    // sent before terminate() still leaves; ours waits in the core for the batched write.
    if (proto.outputBytes > 0) this._flush();
    this._startClosing();
    // The transport is gone for us: the core discards whatever is still buffered, so no
    // further message of the current chunk is delivered after terminate(). A message being
    // compressed in slices is dropped (its zlib context released) with what waited behind it.
    proto.abort();
    abortTransport(this._socket!);
    this._dropHeld();
    // The transport had already closed ('close' waited for input still to deliver): it will not
    // close again, so 'close' (1006) follows from here.
    if ((flags & CLOSE_PENDING) !== 0) process.nextTick(finishClose, this);
  }

  // --- flow control --------------------------------------------------------------------------

  /**
   * Stop emitting messages (after the current one) and stop reading from the transport. What is
   * held, and 'close' once the transport has ended, waits for resume() (or terminate(), close()).
   */
  pause(): void {
    const proto = this._proto;
    if (proto === null || (this._flags & CLOSED_DONE) !== 0) return;
    this._flags |= PAUSED;
    proto.pause();
    this._socket!.pause();
  }

  /** Deliver held messages (on the next tick) and read from the transport again. */
  resume(): void {
    const flags = this._flags;
    if (this._proto === null || (flags & CLOSED_DONE) !== 0 || (flags & PAUSED) === 0) return;
    this._flags = flags & ~PAUSED;
    // Deferred so a resume() called from user code never runs the parser re-entrantly.
    process.nextTick(deliverAfterResume, this);
  }

  // --- pub/sub (server side; the subscriptions are the server's, see topics.ts) -------------

  /** Receive what the server publishes to `topic`. Returns false if already subscribed. */
  subscribe(topic: string): boolean {
    return this._link('subscribe')._subscribe(this, topic);
  }

  /** Stop receiving `topic`. Returns false if not subscribed. */
  unsubscribe(topic: string): boolean {
    return this._link('unsubscribe')._unsubscribe(this, topic);
  }

  /** Whether this socket receives `topic` (false on a client; a topic that is not a non-empty string throws). */
  isSubscribed(topic: string): boolean {
    if (this._server !== null) return this._server._isSubscribed(this, topic);
    checkTopic(topic);
    return false;
  }

  /** The topics this socket is subscribed to. */
  get topics(): string[] {
    return this._server === null ? [] : this._server._topicsOf(this);
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
    const type = (this._flags & BINARY_TYPE_MASK) >> BINARY_TYPE_SHIFT;
    if (isBinary && type !== 0) this.emit('message', convertBinary(data, BINARY_TYPES[type]), true);
    else this.emit('message', data, isBinary);
    if (!this._settings!.allowSynchronousEvents) this._deferNextEvent();
  }

  /** @internal */
  onPing(data: Buffer): void {
    const proto = this._proto!;
    // The core has queued a pong (RFC 6455 5.5.2). A peer that pings and never reads would
    // make those pile up without end (issue 12, hole 2), so, as ws 8 does with the same option,
    // count the pongs still waiting behind data the kernel has not taken and terminate the peer
    // past the bound. The transport's buffer being empty means every earlier pong was written.
    const max = this._settings!.maxPendingAutoPongs;
    if (max > 0 && proto.settings.autoPong && !proto.closeSent) {
      if (this._socket!.writableLength === 0) this._pendingPongs = 1;
      else if (++this._pendingPongs > max) {
        this.terminate();
        this._reportError(new ProtocolError('WS_ERR_PENDING_PONGS'));
      }
    }
    this.emit('ping', data);
    if (!this._settings!.allowSynchronousEvents) this._deferNextEvent();
  }

  /** @internal */
  onPong(data: Buffer): void {
    this._flags &= ~AWAITING_PONG;
    this.emit('pong', data);
    if (!this._settings!.allowSynchronousEvents) this._deferNextEvent();
  }

  /**
   * ws 8's allowSynchronousEvents: false: after a 'message', 'ping' or 'pong', the next one
   * waits for a setImmediate (the parser and the transport pause until then), so other I/O and
   * timers run between two events of the same chunk.
   */
  private _deferNextEvent(): void {
    if ((this._flags & (DEFERRED | CLOSED_DONE)) !== 0) return;
    this._flags |= DEFERRED;
    this._proto!.pause();
    this._socket!.pause();
    setImmediate(deliverDeferred, this);
  }

  /** @internal */
  onClose(_code: number, _reason: string): void {
    // The core queued our answering close frame (RFC 6455 5.5.1); 'close' is emitted once the
    // transport is gone.
    this._startClosing();
    if (this._proto!.closeOwed) {
      // The peer closed during a message being compressed in slices (SLICING) or while a Blob
      // sent before its close is read (BLOB_READING, the core's dataPending): the core keeps its
      // answer until that message is out. It waits in Extras.queue behind the message and what
      // was sent before the peer's close, as ws 8's sender queues it; sends from now on are
      // refused (CLOSING). The close timer bounds a peer that stops reading meanwhile, and a
      // Blob whose read never ends.
      this._hold(new Queued(QUEUED_ANSWER, 0, null, true, false, undefined, 0));
      this._armCloseTimer();
      return;
    }
    this._dropHeld();
  }

  /** @internal */
  onError(err: ProtocolError): void {
    this._startClosing();
    // Our own compression failed mid-message, or a Blob could not be read: the callbacks learn
    // why, with the 'error' event's error. Any other failure is the peer's: what waited was cut
    // short by the closing.
    const ours = err.violation === 'WS_ERR_COMPRESSION_FAILED' || err.violation === 'WS_ERR_BLOB_READ_FAILED';
    this._dropHeld(ours ? err : undefined);
    this._reportError(err);
  }

  /**
   * ws's flag for the role of a WebSocket made with `new WebSocket(null)` (true there); only read
   * by setSocket(), never stored unless a caller sets it (no slot on every connection).
   */
  declare _isServer?: boolean;

  /**
   * ws 8's entry point from a finished handshake to a running WebSocket: not in ws's documented
   * API, but libraries call it on `new WebSocket(null)` to run one over a stream whose handshake
   * they did themselves (@fastify/websocket's injectWS() sets `_isServer = false`, reads the
   * 101 from one end of an in-memory stream pair, then attaches the client here). Starts the
   * protocol over `socket` as a server, or as a client if `_isServer` is false (as in ws), with
   * no subprotocol or extension, then emits 'open'. `options`: ws's `maxPayload`,
   * `skipUTF8Validation`, `allowSynchronousEvents`, `generateMask`.
   */
  setSocket(
    socket: Duplex,
    head: Buffer | null,
    options?: {
      maxPayload?: number;
      skipUTF8Validation?: boolean;
      allowSynchronousEvents?: boolean;
      generateMask?: (mask: Buffer) => void;
    },
  ): void {
    if (this._socket !== null || this._extra?.url !== undefined) {
      throw new UsageError(
        'WS_ERR_ALREADY_ATTACHED',
        'setSocket() needs a WebSocket made with new WebSocket(null) and not attached yet',
      );
    }
    const settings = setSocketSettings(options, this._isServer === false ? 'client' : 'server');
    this._attach(socket, head, { settings, extension: null, protocol: '', extensions: '', server: null });
    this.emit('open');
  }

  // --- for the handshake modules (client.ts, websocket-server.ts, http2-*.ts) ---------------

  /**
   * @internal Start the protocol over `transport`, whose opening handshake is done: the one
   * entry point from a handshake to a running WebSocket, for every transport (a TCP or TLS
   * socket after an HTTP/1.1 upgrade, an HTTP/2 stream, any Duplex). `head`: bytes the peer
   * sent after its handshake (read again as the first 'data'). See docs/node-layer.md.
   */
  _attach(transport: Duplex, head: Buffer | null, init: AttachInit): void {
    (transport as Duplex & { [kWebSocket]?: WebSocket })[kWebSocket] = this;
    this._socket = transport;
    this._settings = init.settings;
    this._protocol = init.protocol;
    this._extensions = extensionNames(init.extensions);
    this._server = init.server;
    const proto = new Protocol(this, init.settings.protocol, init.extension);
    this._proto = proto;
    if (init.preamble !== undefined) {
      // The server's 101 response goes out with the first flush, in the same write as whatever
      // the 'connection' handlers send (one TCP segment for a welcome message). The server runs
      // them inside _opening(), which flushes once they return: sends wait for it as they do
      // inside a 'data' handler, and no nextTick is queued for the 101.
      proto.sendPreamble(init.preamble);
      this._flags |= RECEIVING;
    }
    // Clear an idle timeout someone set (an http server's); calling setTimeout(0) on a socket
    // without one would only add a `timeout` property to it, kept for the connection's life.
    // The socket-only calls are made only where they exist, as ws does.
    const socket = transport as Duplex & {
      timeout?: number;
      setTimeout?: (ms: number) => void;
      setNoDelay?: (on: boolean) => void;
    };
    if (socket.timeout && typeof socket.setTimeout === 'function') socket.setTimeout(0);
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    if (head !== null && head.length > 0) transport.unshift(head);
    // A plain TCP socket reads into the buffer all sockets share (internals.ts); any other
    // transport, or one with bytes already waiting (a head), emits 'data'.
    if (!readIntoShared(transport, transportOnRead)) transport.on('data', transportOnData);
    listenForEnd(transport, transportOnEnd, transportOnEndAfterNode);
    transport.on('close', transportOnClose);
    transport.on('error', transportOnError);
    // A transport closed before we attached (rare) never emits 'close' again.
    if (transport.destroyed) process.nextTick(finishClose, this);
  }

  /**
   * @internal Server: run the handshake's callback (the 'connection' handlers) on a WebSocket
   * just attached with a preamble, then write the 101 and what the callback sent, in one write.
   */
  _opening<R>(callback: (ws: this, req: R) => void, req: R): void {
    try {
      callback(this, req);
    } finally {
      this._flags &= ~RECEIVING;
      this._flush();
    }
  }

  /** @internal The URL a client connects to (redirects update it). */
  _setUrl(href: string): void {
    this._extras().url = href;
  }

  /** @internal The client's pending handshake (a request, a waiting HTTP/2 stream), or null. */
  _setRequest(req: Cancelable | null): void {
    if (req !== null || this._extra !== null) this._extras().req = req;
  }

  /** @internal Is `req` still this client's pending handshake (not replaced, not cancelled)? */
  _isRequest(req: Cancelable): boolean {
    return this._extra !== null && this._extra.req === req;
  }

  /** @internal Client: abort the opening handshake; 'error' (if listened) then 'close' 1006. */
  _abortHandshake(error: Error): void {
    // Once: the first failure is reported, and no 'error' follows 'close'. A second one comes from
    // user code that closed the WebSocket and then threw (a 'redirect' listener, a finishRequest
    // of a redirect or an HTTP/2 fallback), caught by client.ts / http2-client.ts.
    if ((this._flags & CLOSING_STARTED) !== 0) return;
    this._flags |= CLOSING_STARTED;
    const extra = this._extra;
    const req = extra === null ? null : extra.req;
    if (req !== null) {
      extra!.req = null;
      req.destroy();
      // An HTTP/1.1 request whose response already ended (one handed to 'unexpected-response'
      // and read to its end) has let go of its connection: with `Connection: keep-alive` and no
      // agent to take it, req.destroy() no longer reaches the socket, which would stay open
      // until the server closed it (server.close() waiting on it). ws 8 destroys it here too.
      const socket = (req as Partial<ClientRequest>).socket;
      if (socket != null && !socket.destroyed && typeof (req as ClientRequest).setHeader === 'function') {
        socket.destroy();
      }
    }
    process.nextTick(emitErrorAndClose, this, error);
  }

  // --- for topics.ts and heartbeat.ts -------------------------------------------------------

  /**
   * @internal Queue frames built once for many sockets (publish). A socket in the middle of a
   * fragmented send holds them until its message ends (RFC 6455 5.4: fragments of one message
   * are not interleaved with other data frames). False if the socket is closing.
   */
  _deliverFrames(frames: readonly Buffer[]): boolean {
    const proto = this._proto;
    if (proto === null || (this._flags & CLOSING_STARTED) !== 0) return false;
    if ((this._flags & HOLDING) !== 0) {
      let bytes = 0;
      for (let i = 0; i < frames.length; i++) bytes += frames[i].length;
      this._hold(new Queued(QUEUED_FRAMES, 0, frames, true, false, undefined, bytes));
    } else {
      this._deliverNow(proto, frames);
    }
    return true;
  }

  /** Queue published frames, or hold them behind a fragmented send. */
  private _deliverNow(proto: Protocol, frames: readonly Buffer[]): void {
    if (proto.sendingFragments) {
      const extra = this._extras();
      const held = extra.held === null ? (extra.held = []) : extra.held;
      for (let i = 0; i < frames.length; i++) {
        held.push(frames[i]);
        extra.heldBytes += frames[i].length;
      }
    } else {
      for (let i = 0; i < frames.length; i++) proto.sendFramed(frames[i]);
      this._scheduleFlush();
    }
  }

  /** @internal The heartbeat's ping: it expects a pong before the next check. */
  _heartbeatPing(): void {
    if (this.readyState !== OPEN) {
      // The transport is gone and 'close' waits for resume() (pause() holds the input it left):
      // no ping can be sent, so none can be answered and the next check ends the wait, as it
      // terminates a paused open socket, whose pong is not read.
      if (waitsForResume(this._flags)) this._flags |= AWAITING_PONG;
      return;
    }
    this._flags |= AWAITING_PONG;
    this.ping();
  }

  /**
   * @internal The heartbeat's check: a socket that has not answered the last ping is
   * terminated (1006, WS_ERR_HEARTBEAT_TIMEOUT to 'error' listeners). True if it was.
   */
  _heartbeatCheck(): boolean {
    const flags = this._flags;
    if ((flags & AWAITING_PONG) === 0) return false;
    // Open, or waiting for resume() after the transport's end (see _heartbeatPing).
    if (this.readyState !== OPEN && !waitsForResume(flags)) return false;
    this._flags &= ~AWAITING_PONG;
    this._reportError(new ProtocolError('WS_ERR_HEARTBEAT_TIMEOUT'));
    this.terminate();
    return true;
  }

  /** @internal Report a peer violation or a timeout: only to 'error' listeners, never thrown. */
  _reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // --- internals -----------------------------------------------------------------------------

  /**
   * @internal Write what the core has queued in ONE write (outbox.ts), end the transport once
   * the core says so, arm the close timer once a close frame left. Called after each 'data'
   * chunk and from the outbox's one nextTick for sends made elsewhere.
   */
  _flush(): void {
    const proto = this._proto;
    const socket = this._socket;
    if (proto === null || socket === null) return;
    const total = proto.outputBytes;
    const out = total > 0 ? proto.takeOutput() : null;
    // This batch carries our close frame (nothing is queued after it). As ws 8 sets
    // _closeFrameSent in its write's callback, CloseEvent.wasClean needs the write made: not a
    // frame queued once the transport had ended (a close frame parsed from the input the
    // transport's end left, CLOSE_PENDING), nor one whose write fails. A write expected to go
    // straight to the kernel (the usual case, and the server's immediate close after it needs
    // that path) reports through writeBatch's `done`: at once when the kernel took it all, at
    // libuv's completion when it took part (the rest may still fail: the peer resets), as a
    // socket.write callback when the direct write was declined (the kernel refused it, an idle
    // timeout to refresh). Any other write gets a send callback.
    let closeGoesDirect = false;
    if (
      proto.closeSent &&
      out !== null &&
      (this._flags & CLOSE_WRITTEN) === 0 &&
      !socket.destroyed &&
      !socket.writableEnded
    ) {
      // (The output is taken: its callback's frames end at `total`.)
      if (this._cbs === null && writesStraightToKernel(socket, total)) closeGoesDirect = true;
      else if (this._cbs === null) this._cbs = [total, closeFrameWritten.bind(null, this)];
      else this._cbs.push(total, closeFrameWritten.bind(null, this));
    }
    const cbs = this._cbs;
    if (cbs !== null) this._cbs = null;
    if (out !== null && out.length > 0) {
      if (socket.destroyed || socket.writableEnded) {
        if (cbs !== null) process.nextTick(callAll, cbs, notWritable());
      } else {
        if (!closeGoesDirect) writeBatch(socket, out, total, cbs);
        else writeBatch(socket, out, total, null, closeFrameWritten.bind(null, this));
      }
    } else if (cbs !== null) {
      // Nothing to write (e.g. the core dropped it): still answer the callbacks, asynchronously.
      process.nextTick(callAll, cbs, socket.destroyed ? notWritable() : undefined);
    }
    if ((this._flags & (NEED_DRAIN | HOLDING)) === NEED_DRAIN && !socket.writableNeedDrain) {
      // Everything queued past the high-water mark went to the socket without a 'drain' owed:
      // there will be no transport 'drain', so ours is emitted on the next tick.
      process.nextTick(drainedWithoutWait, this);
    }
    if (proto.endTransport && (this._flags & ENDED) === 0) {
      this._flags |= ENDED;
      // RFC 6455 7.1.1: the underlying TCP connection is closed once the close frames are
      // exchanged (or the connection failed); the close timer bounds how long the peer may wait.
      // A server whose close handshake completed, with every byte already in the kernel, closes
      // the descriptor at once ("The server MUST close the underlying TCP connection
      // immediately"): the kernel still sends the close frame, then the FIN, and there is no
      // shutdown, no wait for the peer's FIN and no close timer. After a failure the peer may
      // still be sending, and closing with unread bytes would reset the connection and could
      // drop the close frame that says why, so that path half-closes as before.
      if (proto.closeReceived && proto.role === 'server' && writtenToKernel(socket)) {
        socket.destroy();
        // Our side is done as a socket's 'finish' would say (this one never comes): tell who
        // waits for it (_whenFinished), before the transport's 'close' and ours.
        const extra = this._extra;
        if (extra !== null && extra.finished !== null) {
          const waiting = extra.finished;
          extra.finished = null;
          for (const callback of waiting) callback();
        }
        return;
      }
      socket.end();
    }
    if (proto.closeSent || (this._flags & ENDED) !== 0) this._armCloseTimer();
  }

  /** @internal The outbox's nextTick: this socket was queued by _scheduleFlush. */
  _flushQueued(): void {
    this._flags &= ~DIRTY;
    this._flush();
  }

  private _armCloseTimer(): void {
    if ((this._flags & CLOSED_DONE) !== 0) return;
    const extra = this._extras();
    if (extra.closeTimer === null) {
      extra.closeTimer = setTimeout(closeTimeoutFired, this._settings!.closeTimeout, this);
    }
  }

  /** readyState -> CLOSING (first call only): leave topics, tell the server. */
  private _startClosing(): void {
    if ((this._flags & CLOSING_STARTED) !== 0) return;
    this._flags |= CLOSING_STARTED;
    if (this._server !== null) this._server._clientClosing(this);
  }

  /** Queue the published frames that waited for the end of a fragmented message. */
  private _releaseHeld(proto: Protocol): void {
    const extra = this._extra!;
    const held = extra.held!;
    extra.held = null;
    // Only these frames' bytes: a send, published frames or close() may still wait in
    // Extras.queue behind a Blob that ended the fragmented message, counted in heldBytes too.
    for (let i = 0; i < held.length; i++) {
      extra.heldBytes -= held[i].length;
      proto.sendFramed(held[i]);
    }
  }

  private _extras(): Extras {
    let extra = this._extra;
    if (extra === null) extra = this._extra = new Extras();
    return extra;
  }

  /**
   * Run the core over input (a 'data' chunk, a resume, the next inflate slice) with the
   * RECEIVING flag up, so sends from the handlers wait for the one flush after it.
   */
  private _receiving(work: (proto: Protocol) => void): void {
    const proto = this._proto!;
    this._flags |= RECEIVING;
    try {
      work(proto);
    } catch (err) {
      this._afterThrow();
      throw err;
    } finally {
      this._flags &= ~RECEIVING;
      this._flush();
    }
    if (proto.sliceSpent) this._yieldTurn();
  }

  /**
   * The core has spent its inflate budget (a compressed flood, or one large compressed message):
   * stop reading this transport and go on after the event loop has served everyone else's I/O
   * (setImmediate runs after the poll phase). Issue 12, hole 6.
   */
  private _yieldTurn(): void {
    if ((this._flags & YIELDING) !== 0) return;
    this._flags |= YIELDING;
    this._socket!.pause();
    setImmediate(nextSlice, this);
  }

  /** @internal Go on reading after a yield, a deferred event or resume(), unless still held. */
  _continue(kind: 'slice' | 'deferred' | 'resume'): void {
    if (kind === 'slice') this._flags &= ~YIELDING;
    else if (kind === 'deferred') this._flags &= ~DEFERRED;
    const flags = this._flags;
    if ((flags & CLOSED_DONE) !== 0) return;
    if (kind === 'slice') {
      this._receiving(runNextSlice);
    } else {
      // A deferred event (allowSynchronousEvents: false) resumes by itself on its setImmediate.
      if ((flags & (PAUSED | DEFERRED)) !== 0) {
        if ((flags & CLOSE_PENDING) !== 0) this._closeWhenParsed();
        return;
      }
      this._receiving(runResume);
    }
    if ((this._flags & CLOSE_PENDING) !== 0) {
      this._closeWhenParsed();
      return;
    }
    if ((this._flags & (PAUSED | CLOSED_DONE | YIELDING | DEFERRED)) === 0) this._socket!.resume();
  }

  /**
   * CLOSE_PENDING: the transport has closed; 'close' follows the last of the input it had
   * brought. A next inflate slice (YIELDING) or a deferred event (DEFERRED, allowSynchronousEvents:
   * false) still to come goes on with it on its setImmediate; input held by pause() waits for
   * resume(), and 'close' with it (terminate() and close() end the wait).
   */
  private _closeWhenParsed(): void {
    const flags = this._flags;
    const proto = this._proto!;
    if ((flags & CLOSED_DONE) !== 0 || proto.sliceSpent) return;
    if ((flags & (YIELDING | DEFERRED)) !== 0) return;
    if ((flags & PAUSED) !== 0 && proto.inputWaiting) return;
    this._finishClose();
  }

  /**
   * @internal The transport's 'data' (the hot path: the core's parser, then one flush).
   * `borrowed`: the chunk is the shared read buffer, reused once this returns.
   */
  _onData(chunk: Buffer, borrowed: boolean): void {
    const proto = this._proto!;
    this._flags |= RECEIVING;
    try {
      proto.receive(chunk, borrowed);
    } catch (err) {
      this._afterThrow();
      throw err;
    } finally {
      this._flags &= ~RECEIVING;
      this._flush();
    }
    if (proto.sliceSpent) this._yieldTurn();
  }

  /**
   * A listener threw out of the parser (the exception goes on to the caller: Node's read
   * callback, then 'uncaughtException'). The core kept the input after the frame being handed
   * on: it is parsed on the next turn, so the messages behind it are neither lost nor read from
   * the middle of a frame. ws 8 parses nothing more on that connection then (its receiver's
   * write never completes); delivering the rest in order keeps a throw to its own event.
   */
  private _afterThrow(): void {
    setImmediate(continueAfterThrow, this);
  }

  /**
   * @internal The setImmediate of _afterThrow: parse what the throw left, then read on as
   * _continue does (a throw in a deferred event's delivery left the transport paused).
   */
  _continueAfterThrow(): void {
    if ((this._flags & CLOSED_DONE) !== 0) return;
    if (this._proto!.unparsedAfterThrow) this._receiving(runContinueAfterThrow);
    if ((this._flags & CLOSE_PENDING) !== 0) {
      this._closeWhenParsed();
      return;
    }
    if ((this._flags & (PAUSED | CLOSED_DONE | YIELDING | DEFERRED)) === 0) this._socket?.resume();
  }

  /**
   * @internal A read of `n` bytes went straight into the buffer _directTarget() offered
   * (internals.ts readNextInto): the core takes them in place.
   */
  _onReadInPlace(n: number): void {
    const proto = this._proto!;
    this._flags |= RECEIVING;
    try {
      proto.receivedInPlace(n);
    } catch (err) {
      this._afterThrow();
      throw err;
    } finally {
      this._flags &= ~RECEIVING;
      this._flush();
    }
    if (proto.sliceSpent) this._yieldTurn();
  }

  /**
   * @internal After a read: the part of a large payload's buffer the next read may fill
   * directly (core Receiver#directTarget), or null (paused, closed, yielding, deferred, or not
   * inside such a payload).
   */
  _directTarget(): Buffer | null {
    if ((this._flags & (PAUSED | CLOSED_DONE | YIELDING | DEFERRED)) !== 0) return null;
    return this._proto!.directTarget();
  }

  /** @internal The transport's 'end': the peer will send nothing more. */
  _onEnd(): void {
    this._startClosing();
    const proto = this._proto!;
    // The peer ended its side after its close frame while our answer waited behind a message
    // being compressed in slices or a Blob being read (closeOwed). What waited is given up below,
    // as ws 8 gives it up at the peer's FIN; the answer still goes out first (the core gives the
    // unfinished message up for it): the peer may still read, and a FIN alone is 1006 to it.
    if (proto.closeOwed) proto.answerClose();
    // What the peer sent before its FIN and still waits for its inflate slices is delivered,
    // one slice per turn (the core's receiveEof).
    this._receiving(runReceiveEof);
    // The core gave up our message being compressed in slices: it ends unfinished.
    this._dropHeld();
    // Finish our side too (what is queued is still written).
    if ((this._flags & ENDED) === 0) {
      this._flags |= ENDED;
      this._socket!.end();
    }
  }

  /** @internal The transport's 'error' (ECONNRESET and friends). */
  _onTransportError(): void {
    // Not a protocol violation, and ws does not report them either; the transport is
    // destroyed and 'close' (1006) follows.
    this._startClosing();
    this._socket!.destroy();
  }

  /** @internal The transport's 'drain': the 'drain' a send() returning false promised. */
  _onDrain(): void {
    // The transport drained between two slices or while a Blob is read: the 'drain' owed waits
    // for the whole message (the Blob's bytes); a slice waiting for this drain goes on at the
    // next turn.
    const flags = this._flags;
    if ((flags & HOLDING) !== 0) {
      if ((flags & SLICE_WAITING) !== 0) {
        this._flags = flags & ~SLICE_WAITING;
        setImmediate(compressTurn, this);
      }
      return;
    }
    this._socket!.removeListener('drain', socketOnDrain);
    if ((this._flags & NEED_DRAIN) !== 0) {
      this._flags &= ~NEED_DRAIN;
      this.emit('drain');
    }
  }

  /** @internal See _flush: the transport took everything without asking for a drain. */
  _onDrainedWithoutWait(): void {
    const socket = this._socket;
    if (
      (this._flags & (NEED_DRAIN | HOLDING)) !== NEED_DRAIN ||
      socket === null ||
      socket.writableNeedDrain
    ) {
      return;
    }
    socket.removeListener('drain', socketOnDrain);
    this._flags &= ~NEED_DRAIN;
    this.emit('drain');
  }

  /** @internal The close timer fired: the peer did not finish the closing handshake in time. */
  _onCloseTimeout(): void {
    this._extra!.closeTimer = null;
    if ((this._flags & CLOSED_DONE) !== 0) return;
    this._reportError(new ProtocolError('WS_ERR_CLOSE_TIMEOUT'));
    // Given up, as terminate(): input pause() holds is dropped, so 'close' does not wait for a
    // resume() (the peer's close frame, if it came, was held unread by that pause).
    this._proto?.abort();
    if (this._socket !== null) abortTransport(this._socket);
    // The transport had already closed ('close' waited for the input its end left, CLOSE_PENDING):
    // it will not close again, so 'close' (1006) follows from here, as in terminate().
    if ((this._flags & CLOSE_PENDING) !== 0) this._finishClose();
  }

  /** @internal readyState -> CLOSED and 'close'(code, reason). Runs once, when the transport has closed. */
  _finishClose(): void {
    if ((this._flags & CLOSED_DONE) !== 0) return;
    const proto = this._proto;
    // The transport is gone: receiveEof() also releases the extension (zlib contexts), a
    // message being compressed in slices with them.
    if (proto !== null) {
      proto.receiveEof();
      if (proto.inputWaiting) {
        // Input that came before the end still waits for its inflate slices (YIELDING), for a
        // deferred event (DEFERRED, allowSynchronousEvents: false) or for resume() (PAUSED, or
        // resume()'s tick to come): it is delivered, one slice or event per turn, and 'close'
        // follows it (_continue), as ws 8's 'close' waits for its receiver to finish. A peer that
        // sends its last message, its close frame and its FIN at once (a server closes at once
        // once the handshake is done) loses none, and a pause() holds 'close' with the rest,
        // as it does before the end (the transport is not read, so its end is not seen either).
        // terminate(), close() and the close timer drop that input (the core's abort()): a close
        // timer already running (close() was called, or our side ended) keeps running, so a
        // close() made before the end bounds the wait as one made during it ends it.
        this._startClosing();
        this._flags |= CLOSE_PENDING;
        this._dropHeld();
        return;
      }
    }
    const extra = this._extra;
    if (extra !== null && extra.closeTimer !== null) {
      clearTimeout(extra.closeTimer);
      extra.closeTimer = null;
    }
    // The input is over and the extension released (receiveEof, or the last slice); abort()
    // makes sure of it whatever ended the input.
    if (proto !== null) proto.abort();
    this._flags |= CLOSING_STARTED | CLOSED_DONE;
    if (this._server !== null) this._server._clientClosed(this);
    this._dropHeld();
    // RFC 6455 7.1.5: the peer's close code (1005 if its frame had none), else 1006.
    const code = proto === null ? 1006 : proto.closeCode;
    // The peer's bytes as they came, as ws gives them (not UTF-8 with skipUTF8Validation).
    const reason = proto === null ? EMPTY : proto.closeReasonBytes;
    this.emit('close', code, reason);
  }
}
Object.defineProperty(WebSocket.prototype, kBrand, { value: true });

// ws 8's property descriptors, which code inspecting a WebSocket (Object.keys of its prototype,
// a `for ... in` logger, a test of WebSocket.OPEN being constant) sees: the readyState
// constants are enumerable and read-only on the class and its prototype; the attributes, the
// event-handler attributes and addEventListener/removeEventListener are enumerable.
for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const) {
  Object.defineProperty(WebSocket, name, { enumerable: true, writable: false, configurable: false, value });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
}
for (const name of [
  'binaryType',
  'bufferedAmount',
  'extensions',
  'isPaused',
  'protocol',
  'readyState',
  'url',
  'onopen',
  'onerror',
  'onclose',
  'onmessage',
  'addEventListener',
  'removeEventListener',
  // Not in ws: the standard's, enumerable as WebIDL operations are.
  'dispatchEvent',
  // Inherited from EventEmitter.prototype in ws, where it is enumerable.
  'eventNames',
]) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}

/** Per-connection state few connections need, kept off the WebSocket (idle memory). */
class Extras {
  /** Client: the URL connected to (after redirects). */
  url: string | undefined = undefined;
  /** Client: the pending opening handshake, to cancel it. */
  req: Cancelable | null = null;
  /** Set while closing: destroys the transport if the peer does not finish in time. */
  closeTimer: NodeJS.Timeout | null = null;
  /** Published frames waiting for a fragmented send to finish (see _deliverFrames). */
  held: Buffer[] | null = null;
  /** Their bytes: counted in bufferedAmount, so maxBackpressure sees them. */
  heldBytes = 0;
  /** Payload bytes given to send()/ping()/pong() once closing had begun (never written). */
  afterClose = 0;
  /**
   * What was sent behind a message being compressed in slices or a Blob being read, in order
   * (bytes in heldBytes).
   */
  queue: Queued[] | null = null;
  /** The send, ping or pong whose Blob is being read (BLOB_READING; its size in heldBytes). */
  blob: Queued | null = null;
  /** That message's send callback: called with the write of its last frame. */
  slicedCb: SendCallback | undefined = undefined;
  /** Server: called when the descriptor is closed right after the closing handshake (_whenFinished). */
  finished: (() => void)[] | null = null;
}

const QUEUED_SEND = 0;
const QUEUED_FRAMES = 1;
const QUEUED_CLOSE = 2;
const QUEUED_CALLBACK = 3;
const QUEUED_PING = 4;
const QUEUED_PONG = 5;
const QUEUED_ANSWER = 6;

/**
 * A send(), a publish()'s frames, a close() or the answer to the peer's close frame waiting
 * behind a message compressed in slices or a Blob being read; the callback of a ping() or pong()
 * behind the former, the ping() or pong() itself behind the latter; or the send, ping or pong
 * whose own Blob is read (its data becomes the Blob's bytes once read).
 */
class Queued {
  constructor(
    readonly kind:
      | typeof QUEUED_SEND
      | typeof QUEUED_FRAMES
      | typeof QUEUED_CLOSE
      | typeof QUEUED_CALLBACK
      | typeof QUEUED_PING
      | typeof QUEUED_PONG
      | typeof QUEUED_ANSWER,
    /** send: the opcode (1 text, 2 binary); close: the code (0: none). */
    readonly opcode: number,
    public data: string | Buffer | readonly Buffer[] | Blob | null,
    readonly fin: boolean,
    readonly compress: boolean,
    readonly cb: SendCallback | undefined,
    /** Counted in bufferedAmount while waiting. */
    readonly bytes: number,
    readonly reason?: string,
  ) {}
}

function callWith(cb: SendCallback, err: Error): void {
  cb(err);
}

function blobFailed(ws: WebSocket, entry: Queued, err: unknown): void {
  ws._onBlobFailed(entry, err);
}

function compressTurn(ws: WebSocket): void {
  ws._compressTurn();
}

function notWritable(): Error {
  return handshakeError('WS_ERR_SOCKET_CLOSED');
}

function emitErrorAndClose(ws: WebSocket, err: Error): void {
  ws._reportError(err);
  ws._finishClose();
}

function finishClose(ws: WebSocket): void {
  ws._finishClose();
}

/**
 * 'close' waits for resume(): the transport ended while pause() holds input it brought
 * (CLOSE_PENDING and PAUSED, not yet CLOSED_DONE). terminate(), close(), the close timer and the
 * heartbeat end that wait.
 */
function waitsForResume(flags: number): boolean {
  return (flags & (CLOSE_PENDING | PAUSED | CLOSED_DONE)) === (CLOSE_PENDING | PAUSED);
}

function closeFrameWritten(ws: WebSocket, err?: Error | null): void {
  ws._closeFrameWritten(err);
}

function continueAfterThrow(ws: WebSocket): void {
  ws._continueAfterThrow();
}

function runContinueAfterThrow(proto: Protocol): void {
  proto.continueAfterThrow();
}

function closeTimeoutFired(ws: WebSocket): void {
  ws._onCloseTimeout();
}

function drainedWithoutWait(ws: WebSocket): void {
  ws._onDrainedWithoutWait();
}

function deliverDeferred(ws: WebSocket): void {
  ws._continue('deferred');
}

function deliverAfterResume(ws: WebSocket): void {
  ws._continue('resume');
}

function nextSlice(ws: WebSocket): void {
  ws._continue('slice');
}

// The work _receiving runs: shared functions, no closure per call.
function runReceiveEof(proto: Protocol): void {
  proto.receiveEof();
}
function runResume(proto: Protocol): void {
  proto.resume();
}
function runNextSlice(proto: Protocol): void {
  proto.nextSlice();
}

// --- shared transport listeners (this = the transport) ------------------------------------------

type AttachedTransport = Duplex & { [kWebSocket]: WebSocket };

function transportOnData(this: AttachedTransport, chunk: Buffer): void {
  this[kWebSocket]._onData(chunk, false);
}

/** A read into the shared buffer (internals.ts readIntoShared): its first `nread` bytes. */
function transportOnRead(this: AttachedTransport, nread: number, buf: Buffer): void {
  const ws = this[kWebSocket];
  if (isSharedReadBuffer(buf)) {
    ws._onData(new FastBuffer(buf.buffer, buf.byteOffset, nread), true);
  } else {
    // The read landed in the large payload's own buffer, asked for after the previous read.
    try {
      ws._onReadInPlace(nread);
    } catch (err) {
      restoreSharedRead(this); // a listener threw: Node will not ask for the next buffer
      throw err;
    }
  }
  // Last (Node asks for the next buffer right after this returns): inside a large payload the
  // next read goes straight into its buffer; otherwise, and after any pause, close or error,
  // reads go back to the shared buffer by themselves.
  if (this.destroyed) return;
  const target = ws._directTarget();
  if (target !== null) readNextInto(this, target);
}

function transportOnEnd(this: AttachedTransport): void {
  this[kWebSocket]._onEnd();
}

/** Replaces a net.Socket's own 'end' listener (internals.ts listenForEnd): Node's first, then ours. */
function transportOnEndAfterNode(this: AttachedTransport): void {
  callNodeOnEnd(this);
  this[kWebSocket]._onEnd();
}

function transportOnClose(this: AttachedTransport): void {
  // A paused transport does not read, so it mostly closes only when destroyed: terminate() and
  // the close timeout dropped what pause() holds first; otherwise (an error) 'close' waits for
  // resume() behind it (_finishClose).
  this[kWebSocket]._finishClose();
}

function transportOnError(this: AttachedTransport): void {
  this[kWebSocket]._onTransportError();
}

function socketOnDrain(this: AttachedTransport): void {
  this[kWebSocket]._onDrain();
}
