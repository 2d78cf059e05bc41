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
 */
import { EventEmitter } from 'node:events';
import { type Server, Socket } from 'node:net';
import zlib from 'node:zlib';

/** The probes' results: true when the internal path is usable on this Node. */
export interface Probes {
  listenerTable: boolean;
  socketEndListener: boolean;
  zlibHandle: boolean;
  /** null: not known until the first accepted socket shows it. */
  socketServer: boolean | null;
}

// Filled in at the end of this module, once the probes' own state is initialised.
const probes: Probes = {
  listenerTable: false,
  socketEndListener: false,
  zlibHandle: false,
  socketServer: null,
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
    const existing = socket.listeners('end');
    if (existing.length === 1 && existing[0] === nodeOnEnd) {
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

probes.listenerTable = probeListenerTable();
probes.socketEndListener = probeSocketEndListener();
probes.zlibHandle = probeZlibHandle();
