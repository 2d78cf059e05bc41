/**
 * Every place the library relies on Node's private fields or undocumented behaviour, in ONE
 * module. Each use sits behind a feature probe that runs once (at load, or at first use) and a
 * fallback to public API, so a Node release that changes the internal costs memory or speed,
 * never correctness. The tests run each feature both ways (test/node/internals.test.ts, with
 * `overrideProbes`).
 *
 *   internal                                  used for                      fallback
 *   EventEmitter `_events` (preset table)     ~200 B less per connection    Node's default table
 *   net.Socket's own 'end' listener           ~70 B less per connection     a second 'end' listener
 *     (onReadableStreamEnd, replaced and
 *     called first by ours)
 *   zlib stream `_handle.writeSync`,          synchronous persistent        permessage-deflate is
 *     `_writeState`, `_outBuffer`             zlib contexts (deflate/)      declined (not offered)
 *   net.Socket `server` (the accepting        no property per socket for    a WeakMap entry per
 *     net.Server)                             the {port} head parser        socket
 *   TCP handle `writeBuffer`,                 a small write straight to     socket.write (Node's
 *     `writeQueueSize`, the write request     the kernel, without the       Writable: a request
 *     class (taken from Node's first write,   Writable's per-write work     object and a tick per
 *     where Node lends one: 20, 22; not                                     write)
 *     24.22, which passes null)
 *   net.Socket's `onread` mode (the          reads into one buffer         'data' events (a new
 *     kBuffer/kBufferCb symbols and the       shared by every socket:       Buffer from the heap
 *     handle's useUserBuffer), switched       no allocation per read,       per read, Node's
 *     on for an accepted or upgraded          no Readable machinery         Readable push/emit)
 *     socket
 *   net.Socket's `kBufferGen` (the           a large payload read straight the shared buffer (the
 *     onread buffer-function slot, asked      into its message's buffer:    core copies the bytes
 *     after each read for the next buffer     no copy, far fewer reads      out of it)
 *     by lib/internal/stream_base_commons
 *     onStreamRead)
 *   an http2 session's own 'stream'           telling whether an            "someone listens":
 *     listener (sessionOnStream, relaying     application listens to a      a closed server's
 *     to the server's 'stream')               session's 'stream' event      503 stays quiet
 */
import { EventEmitter } from 'node:events';
import { type Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import zlib from 'node:zlib';

/** The probes' results: true when the internal path is usable on this Node. */
export interface Probes {
  listenerTable: boolean;
  socketEndListener: boolean;
  zlibHandle: boolean;
  /** null: not known until the first accepted socket shows it. */
  socketServer: boolean | null;
  /** null: not known until the first write to a TCP socket shows it. */
  directWrite: boolean | null;
  /** null: not known until the first socket offered to readIntoShared shows it. */
  sharedRead: boolean | null;
  /** null: known with sharedRead (readNextInto). */
  directRead: boolean | null;
}

// Filled in at the end of this module, once the probes' own state is initialised.
const probes: Probes = {
  listenerTable: false,
  socketEndListener: false,
  zlibHandle: false,
  socketServer: null,
  directWrite: null,
  sharedRead: null,
  directRead: null,
};

/** The current results (a copy). */
export function probeResults(): Probes {
  return { ...probes };
}

/**
 * Tests only: force probe results (e.g. every fallback) until the returned function restores
 * the previous ones.
 */
export function overrideProbes(values: Partial<Probes>): () => void {
  const saved = { ...probes };
  Object.assign(probes, values);
  return () => {
    Object.assign(probes, saved);
  };
}

// ---------------------------------------------------------------------------------------------
// EventEmitter's listener table

interface WithEvents {
  _events: object;
}

function probeListenerTable(): boolean {
  try {
    const e = new EventEmitter() as EventEmitter & WithEvents;
    if (typeof e._events !== 'object' || e._events === null) return false;
    e._events = { probe: undefined };
    let calls = 0;
    e.on('probe', () => calls++);
    e.on('other', () => calls++);
    e.emit('probe');
    e.emit('other');
    return calls === 2 && e.listenerCount('probe') === 1 && e.listenerCount('other') === 1;
  } catch {
    return false;
  }
}

/**
 * Give `emitter` a listener table with `names` declared, in fast mode, as Node's own streams do:
 * EventEmitter's default `{ __proto__: null }` table is a dictionary-mode object (about 210 bytes
 * per idle connection in a heap snapshot). Each declared slot costs 8 bytes; other events still
 * work (they are added as properties when first listened to).
 */
export function presetListenerTable(emitter: EventEmitter, table: object): void {
  if (probes.listenerTable) (emitter as EventEmitter & WithEvents)._events = table;
}

/**
 * The events with listeners: Node's eventNames() lists a preset table's declared-but-empty slots
 * too (their value is undefined), so they are filtered out here.
 */
export function eventNamesWithListeners(emitter: EventEmitter): Array<string | symbol> {
  const events = (emitter as EventEmitter & { _events?: Record<string | symbol, unknown> })._events;
  if (events === undefined || events === null) return EventEmitter.prototype.eventNames.call(emitter);
  return Reflect.ownKeys(events).filter((name) => events[name] !== undefined);
}

// ---------------------------------------------------------------------------------------------
// net.Socket's own 'end' listener

/** Node's listener (its name in lib/net.js), found by the probe. */
let nodeOnEnd: ((this: Socket) => void) | null = null;

function probeSocketEndListener(): boolean {
  try {
    const listeners = new Socket().listeners('end');
    if (listeners.length !== 1 || (listeners[0] as { name?: string }).name !== 'onReadableStreamEnd') {
      return false;
    }
    nodeOnEnd = listeners[0] as (this: Socket) => void;
    return true;
  } catch {
    return false;
  }
}

/**
 * Listen to `socket`'s 'end' with `listener`. A net.Socket listens to its own 'end' (to stop
 * writes once a non-half-open socket has ended); a second listener would turn the slot into an
 * array (about 70 bytes per connection for its whole life). So when Node's listener is the only
 * one, it is replaced by one that calls it and then ours; otherwise ours is added.
 */
export function listenForEnd(
  socket: EventEmitter,
  listener: (this: never) => void,
  both: (this: never) => void,
): void {
  if (probes.socketEndListener && nodeOnEnd !== null) {
    // listenerCount(name, listener) (Node >= 18.16) allocates nothing; listeners() would copy
    // the table into a new array on every handshake.
    if (socket.listenerCount('end') === 1 && socket.listenerCount('end', nodeOnEnd) === 1) {
      socket.removeListener('end', nodeOnEnd);
      socket.on('end', both);
      return;
    }
  }
  socket.on('end', listener);
}

/** Call Node's own 'end' listener (from the listener that replaced it). */
export function callNodeOnEnd(socket: object): void {
  nodeOnEnd!.call(socket as Socket);
}

// ---------------------------------------------------------------------------------------------
// zlib's native handle

/** Node's native zlib handle (node/src/node_zlib.cc, CompressionStream). */
export interface NativeZlibHandle {
  writeSync(
    flush: number,
    input: Buffer,
    inOff: number,
    inLen: number,
    output: Buffer,
    outOff: number,
    outLen: number,
  ): void;
  close(): void;
  reset(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

interface ZlibStreamInternals {
  _handle: NativeZlibHandle | null;
  _writeState: Uint32Array;
  _outBuffer: Buffer;
}

/** A zlib stream's native handle and the Uint32Array it reports [availOut, availIn] in. */
export interface NativeZlib {
  handle: NativeZlibHandle;
  writeState: Uint32Array;
}

function probeZlibHandle(): boolean {
  try {
    const probe = zlib.createInflateRaw({ chunkSize: 64 }) as unknown as ZlibStreamInternals;
    const ok =
      probe._handle !== null &&
      typeof probe._handle?.writeSync === 'function' &&
      typeof probe._handle.close === 'function' &&
      typeof probe._handle.reset === 'function' &&
      probe._writeState instanceof Uint32Array;
    probe._handle?.close();
    probe._handle = null;
    return ok;
  } catch {
    return false;
  }
}

/** Whether synchronous persistent zlib contexts can be driven on this Node. */
export function zlibHandleSupported(): boolean {
  return probes.zlibHandle;
}

/**
 * Take over `stream`'s native handle (deflate/zlib-sync.ts drives it synchronously, the same
 * call the stream itself makes). The stream's own output buffer, never used then, is dropped:
 * kept for the connection's lifetime it would pin a slab of Buffer's pool.
 */
export function takeNativeZlib(
  stream: zlib.Deflate | zlib.Inflate | zlib.DeflateRaw | zlib.InflateRaw,
): NativeZlib {
  const s = stream as unknown as ZlibStreamInternals;
  s._outBuffer = NO_BUFFER;
  return { handle: s._handle!, writeState: s._writeState };
}

/** The stream no longer owns its handle (closed by its new owner). */
export function releaseNativeZlib(stream: object): void {
  (stream as ZlibStreamInternals)._handle = null;
}

const NO_BUFFER = Buffer.alloc(0);

// ---------------------------------------------------------------------------------------------
// The net.Server that accepted a socket

const serverOfFallback = new WeakMap<Socket, Server>();

/**
 * Remember which net.Server accepted `socket` (from its 'connection' listener). Node sets
 * `socket.server` itself; where it does, nothing is stored (a property of our own would stay in
 * the socket's hidden class for the connection's life).
 */
export function rememberServer(socket: Socket, server: Server): void {
  if (probes.socketServer === null) {
    probes.socketServer = (socket as Socket & { server?: unknown }).server === server;
  }
  if (!probes.socketServer) serverOfFallback.set(socket, server);
}

/** The net.Server that accepted `socket` (see rememberServer). */
export function serverOf(socket: Socket): Server | undefined {
  if (probes.socketServer) return (socket as Socket & { server?: Server }).server;
  // Weakly held: the entry goes with the socket.
  return serverOfFallback.get(socket);
}

// ---------------------------------------------------------------------------------------------
// Writing to a TCP socket's handle

/** The part of Node's native stream handle (node/src/stream_base.cc, StreamBase) used here. */
interface StreamHandle {
  /** Try the write at once; what the kernel did not take is queued (async, req completes). */
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  /** Bytes queued in libuv for this stream (not yet taken by the kernel). */
  readonly writeQueueSize: number;
}

/** Node's WriteWrap: touched by the native write only when the write has to wait. */
interface WriteReq {
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  buffer: Uint8Array | null;
  socket: Socket | null;
  /** Ours: the caller's completion callback of a direct write that had to wait (writeDirect's `done`). */
  done: ((err?: Error | null) => void) | null | undefined;
  /**
   * AsyncWrap's method (WriteWrap inherits it): the async id of the native request attached to
   * this object, -1 while none is. Node attaches one exactly when the write has to wait, and
   * detaches it when that write completes (after oncomplete).
   */
  getAsyncId(): number;
}

interface SocketInternals {
  _handle: StreamHandle | null;
}

/** Node's write request class and the handle class it was seen on (TCP), once captured. */
let WriteReqClass: (new () => WriteReq) | null = null;
let tcpHandleProto: object | null = null;
/** The request object lent to every direct write that completes at once (the common case). */
let spareReq: WriteReq | null = null;

/**
 * Write `data` to `socket`'s TCP handle directly when nothing else is queued on it: the same
 * native call Node's Writable ends in (handle.writeBuffer), without its request object, its
 * per-write state and its after-write tick. When the kernel takes everything at once (the
 * common case for small frames) nothing else happens; when it does not, libuv queues the rest
 * in order, the request keeps `data` alive until it completes, and later writes go through
 * socket.write (libuv's queue is no longer empty) behind it. False when this path does not
 * apply (not a plain TCP socket, something queued, corked or connecting, an idle timeout to
 * refresh, or the probe found no handle to use): the caller writes with socket.write.
 *
 * `done`, when given, is called once the write is done, when true is returned: at once (before
 * writeDirect returns) when the kernel took everything, else when libuv's completion comes (with
 * its error when the rest failed, as socket.write's callback would be). Returning true alone
 * says the bytes were taken, not that they all reached the kernel. Ordinary writes pass none:
 * the path then allocates nothing.
 *
 * The request class is Node's private WriteWrap, taken from the request Node's own first write
 * to a TCP socket passes to the handle (no deprecated process.binding).
 */
export function writeDirect(socket: Duplex, data: Uint8Array, done?: (err?: Error | null) => void): boolean {
  const direct = probes.directWrite;
  if (direct === false) return false;
  const handle = (socket as Duplex & SocketInternals)._handle;
  if (
    handle === null ||
    handle === undefined ||
    socket.writableLength !== 0 ||
    socket.writableCorked !== 0 ||
    (socket as Socket).connecting === true ||
    (socket as Socket).timeout
  ) {
    return false;
  }
  const proto = Object.getPrototypeOf(handle) as StreamHandle;
  if (proto !== tcpHandleProto) {
    // Not a TCP handle (TLS, a pipe), or the probe has not run: it runs on the first one.
    if (direct !== null || !isTcpHandle(proto)) return false;
    captureWriteReq(socket, handle, proto, data, done);
    return true; // written by socket.write while the probe looked
  }
  if (handle.writeQueueSize !== 0) return false;
  const req = spareReq!;
  if (handle.writeBuffer(req, data) !== 0) {
    // The kernel refused (EPIPE, ECONNRESET...) and nothing was written: Node's path meets the
    // same error and handles it (it destroys the socket with it).
    return false;
  }
  if (req.getAsyncId() !== -1) {
    // The kernel did not take everything at once and Node attached a native request to `req`:
    // the rest waits in libuv's queue, or libuv's own first attempt already wrote it and the
    // completion is still to come. Either way the request is in use until oncomplete runs (the
    // queue size alone cannot tell: it is 0 in the second case, and lending `req` again while
    // its request is attached would abort the process on Node's CHECK in
    // StreamReq::AttachToObject).
    req.buffer = data;
    req.socket = socket as Socket;
    req.done = done;
    req.oncomplete = directWriteDone;
    spareReq = new WriteReqClass!();
  } else if (done !== undefined) {
    done();
  }
  return true;
}

/**
 * Bytes a direct write left queued in libuv, which the socket's writableLength does not show
 * (for bufferedAmount). When the socket's own buffer is not empty its bytes and libuv's queue
 * overlap, and only writableLength counts.
 */
export function queuedBelowSocket(socket: Duplex): number {
  if (tcpHandleProto === null || socket.writableLength !== 0) return 0;
  const handle = (socket as Duplex & SocketInternals)._handle;
  if (handle === null || handle === undefined || Object.getPrototypeOf(handle) !== tcpHandleProto) return 0;
  return handle.writeQueueSize;
}

/**
 * True when every byte written to `socket` is in the kernel: a plain TCP socket with nothing
 * in its Writable and nothing in libuv's write queue (a direct write whose completion is still
 * to come has its bytes in the kernel already). Closing the descriptor then still sends them,
 * followed by the FIN. False for TLS, pipes and HTTP/2 streams.
 */
export function writtenToKernel(socket: Duplex): boolean {
  if (socket.writableLength !== 0) return false;
  const handle = (socket as Duplex & SocketInternals)._handle;
  if (handle === null || handle === undefined) return false;
  const proto = Object.getPrototypeOf(handle) as StreamHandle;
  if (proto !== tcpHandleProto && !isTcpHandle(proto)) return false;
  return handle.writeQueueSize === 0;
}

function isTcpHandle(proto: StreamHandle): boolean {
  return (proto.constructor as { name?: string }).name === 'TCP' && typeof proto.writeBuffer === 'function';
}

/**
 * A queued direct write completed (this = its request): a failure destroys the socket, as Node's
 * does; the caller's `done`, if any, learns the outcome. A write libuv completed reports success
 * also when the socket was destroyed meanwhile (its bytes are in the kernel: a server's immediate
 * close after its close frame); one cancelled by that destroy (UV_ECANCELED) reports its error.
 */
function directWriteDone(this: WriteReq, status: number): void {
  const socket = this.socket!;
  const done = this.done;
  this.buffer = null;
  this.socket = null;
  this.done = null;
  if (status < 0) {
    const err = writeError(status);
    if (!socket.destroyed) socket.destroy(err);
    if (done !== undefined && done !== null) done(err);
  } else if (done !== undefined && done !== null) {
    done();
  }
}

function writeError(status: number): Error {
  const code = getSystemErrorName(status);
  const err = new Error(`write ${code}`) as Error & { errno: number; code: string; syscall: string };
  err.errno = status;
  err.code = code;
  err.syscall = 'write';
  return err;
}

/**
 * The probe, on the first TCP socket written to: `data` is written by socket.write while the
 * handle's writeBuffer is looked at on the way, to find Node's request class.
 */
function captureWriteReq(
  socket: Duplex,
  handle: StreamHandle,
  proto: StreamHandle,
  data: Uint8Array,
  done: ((err?: Error | null) => void) | undefined,
): void {
  const target = handle as { writeBuffer?: StreamHandle['writeBuffer'] };
  const own = Object.getOwnPropertyDescriptor(handle, 'writeBuffer');
  const inner = (own === undefined ? proto.writeBuffer : own.value) as StreamHandle['writeBuffer'];
  const seen: { req: unknown } = { req: undefined };
  target.writeBuffer = function (this: StreamHandle, req: WriteReq, d: Uint8Array): number {
    seen.req = req; // nothing else here: this runs inside Node's own write
    return inner.call(this, req, d);
  };
  try {
    socket.write(data, done);
  } finally {
    if (own === undefined) delete target.writeBuffer;
    else Object.defineProperty(handle, 'writeBuffer', own);
  }
  probes.directWrite = false;
  // Node 24.x from some release on passes null here: its native write makes a request only
  // when the write has to wait and returns it, a contract this path does not speak (and that
  // already spares Node's own path the request per write). Only the classic contract, Node's
  // request object lent to every write, is used.
  const req = seen.req;
  if (req === null || typeof req !== 'object' || typeof handle.writeQueueSize !== 'number') return;
  const ctor = (req as { constructor?: unknown }).constructor;
  if (typeof ctor !== 'function') return;
  let spare: WriteReq;
  try {
    spare = new (ctor as new () => WriteReq)();
    // A fresh request must read "no native request attached", or writeDirect cannot tell.
    if (typeof spare.getAsyncId !== 'function' || spare.getAsyncId() !== -1) return;
  } catch {
    return;
  }
  spareReq = spare;
  WriteReqClass = ctor as new () => WriteReq;
  tcpHandleProto = proto;
  probes.directWrite = true;
}

// ---------------------------------------------------------------------------------------------
// Reading a TCP socket into one shared buffer

/**
 * The buffer every socket switched by readIntoShared reads into. Reads happen one at a time on
 * this thread and each is handed to its callback at once, so one buffer serves every socket as
 * long as no callback keeps a reference into it after it returns (the core copies what it keeps:
 * Receiver#receive with `borrowed`). 64 KiB is the read size Node asks libuv for by default.
 */
const SHARED_READ_SIZE = 64 * 1024;
let sharedReadBuffer: Buffer | null = null;

/** net.Socket's private symbols for its `onread` option (lib/net.js), found on the first socket. */
let kBuffer: symbol | null = null;
let kBufferCb: symbol | null = null;
let kBufferGen: symbol | null = null;

interface ReadHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
  reading?: boolean;
}

/** Called with the number of bytes read into `buf` (this = the socket); see readIntoShared. */
export type SharedReadCallback = (this: never, nread: number, buf: Buffer) => void;

function probeSharedRead(socket: Socket): boolean {
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    if (sym.description === 'kBuffer') kBuffer = sym;
    else if (sym.description === 'kBufferCb') kBufferCb = sym;
    else if (sym.description === 'kBufferGen') kBufferGen = sym;
  }
  const fields = socket as unknown as Record<symbol, unknown>;
  const ok = kBuffer !== null && kBufferCb !== null && fields[kBuffer] === null;
  if (probes.directRead === null)
    probes.directRead = ok && kBufferGen !== null && fields[kBufferGen] === null;
  return ok;
}

/**
 * Switch `socket` (a plain TCP net.Socket whose handshake is done) to Node's `onread` mode with
 * the shared buffer: from now on each read lands in that buffer and `onRead` is called with its
 * length, instead of a new Buffer per read pushed through the Readable ('data' is no longer
 * emitted; 'end', 'close', pause() and resume() work as before: Node's Socket handles the mode
 * in both). This is what `new net.Socket({ onread })` does for a socket it creates, applied to a
 * socket that exists (Node offers no public way to). False when it does not apply (TLS, an HTTP/2
 * stream, a socket with data already buffered, paused, or without a native handle, or the probe
 * found no way): the caller listens to 'data'.
 */
export function readIntoShared(socket: Duplex, onRead: SharedReadCallback): boolean {
  if (probes.sharedRead === false) return false;
  if (!(socket instanceof Socket) || (socket as Socket & { encrypted?: boolean }).encrypted === true)
    return false;
  const handle = (socket as unknown as { _handle: ReadHandle | null })._handle;
  if (
    handle === null ||
    handle === undefined ||
    typeof handle.useUserBuffer !== 'function' ||
    socket.readableLength !== 0 ||
    socket.readableFlowing === false ||
    socket.destroyed ||
    socket.connecting
  ) {
    return false;
  }
  if (probes.sharedRead === null) probes.sharedRead = probeSharedRead(socket);
  if (!probes.sharedRead) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[kBuffer!] !== null) return false; // already in onread mode (someone else's)
  if (sharedReadBuffer === null) sharedReadBuffer = Buffer.allocUnsafeSlow(SHARED_READ_SIZE);
  handle.useUserBuffer(sharedReadBuffer);
  fields[kBuffer!] = sharedReadBuffer;
  fields[kBufferCb!] = onRead;
  // A 'data' listener would have started the flow; here nothing pulls, so start reading if the
  // handle is not (Socket#resume starts the handle in this mode).
  if (handle.reading !== true) socket.resume();
  return true;
}

/** The buffer the read being handled asked for next (readNextInto); null: the shared one. */
let nextReadBuffer: Buffer | null = null;

/**
 * net.Socket's buffer function (its `kBufferGen` slot): Node's onStreamRead calls it right after
 * the read callback returns and both reads the next read into what it returns (the native
 * listener's buffer, CustomBufferJSListener::OnStreamRead) and stores it in the socket's
 * `kBuffer`, the buffer the next callback is given (which also keeps it alive while the handle
 * may write into it). By default that is the shared buffer again, so a target lasts exactly one
 * read unless the callback asks for it again.
 */
function takeNextReadBuffer(): Buffer {
  const next = nextReadBuffer ?? sharedReadBuffer!;
  nextReadBuffer = null;
  return next;
}

/**
 * From inside `socket`'s read callback (readIntoShared), as its LAST step: the next read goes
 * into `target` (at most target.length bytes) instead of the shared buffer, and the callback is
 * then given `target` as its buffer (see isSharedReadBuffer). Every read after that goes back to
 * the shared buffer unless the callback asks again. False when the probe found no way (the
 * buffer stays the shared one).
 *
 * Not handle.useUserBuffer: each call of it pushes another native listener on the stream
 * (StreamBase::UseUserBuffer), kept until the socket is destroyed.
 */
export function readNextInto(socket: Duplex, target: Buffer): boolean {
  if (probes.directRead !== true) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[kBufferGen!] !== takeNextReadBuffer) {
    if (fields[kBuffer!] !== sharedReadBuffer) return false; // not a socket readIntoShared switched
    fields[kBufferGen!] = takeNextReadBuffer;
  }
  nextReadBuffer = target;
  return true;
}

/**
 * The read callback threw while `socket`'s handle was reading into a target (a 'message'
 * listener that threw, with the process kept alive by an 'uncaughtException' handler): Node's
 * onStreamRead then never asks for the next buffer, and the handle would go on reading into the
 * tail of a message already delivered. Point it back at the shared buffer the only other way
 * there is (useUserBuffer: one native listener more, in this rare case only).
 */
export function restoreSharedRead(socket: Duplex): void {
  nextReadBuffer = null;
  const handle = (socket as unknown as { _handle: ReadHandle | null })._handle;
  if (handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') return;
  handle.useUserBuffer(sharedReadBuffer!);
  (socket as unknown as Record<symbol, unknown>)[kBuffer!] = sharedReadBuffer;
}

/** In a read callback: `buf` is the shared buffer (else the target readNextInto asked for). */
export function isSharedReadBuffer(buf: Buffer): boolean {
  return buf === sharedReadBuffer;
}

probes.listenerTable = probeListenerTable();
probes.socketEndListener = probeSocketEndListener();
probes.zlibHandle = probeZlibHandle();

// ---------------------------------------------------------------------------------------------
// An http2 server session's own 'stream' listener

/**
 * True when something besides node's http2 server listens to `session`'s 'stream' event: an
 * application's `session.on('stream')`, run after the server's 'stream' event (http2-server.ts's
 * answerAfterClose must then leave the stream alone). Node's server relays each session's
 * streams to its own 'stream' event through one listener, sessionOnStream (20, 22 and 24). When
 * that listener is not found by its name (a Node that relays otherwise), the answer is true: a
 * stream someone may handle is never answered for them, at the cost of the 503.
 */
export function othersListenToSession(session: EventEmitter): boolean {
  const listeners = session.listeners('stream');
  return listeners.length !== 1 || listeners[0]!.name !== 'sessionOnStream';
}
