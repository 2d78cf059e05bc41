/**
 * Write batching: everything queued for a socket leaves in one socket write.
 *
 * Theory of operation:
 *
 *   'data' chunk ──> proto.receive() ──> handlers call send()/close() ──> flush(ws)   (same tick)
 *   send() outside a 'data' handler ──> schedule(ws) ──> one process.nextTick for ALL dirty
 *                                                         sockets ──> flush(ws) each
 *
 * flush() drains the core's output (which may hold frames built once for many sockets by
 * publish(), see topics.ts) and writes it:
 *   - small total: one Buffer.concat, one write (one syscall, one TCP segment when it fits);
 *   - large total: cork(), each vector written as is (large payloads never copied; runs of
 *     small buffers between them concatenated), uncork() -> one writev.
 * Send callbacks wait for that write to complete. Nothing here allocates per message except
 * the arrays the core hands over, and a closure per flush only when callbacks are pending.
 */
import type { Socket } from 'node:net';
import { RiptideError } from '../core/errors.js';

/** The fields of a WebSocket the outbox reads and writes (kept on the WebSocket itself). */
export interface OutboxHost {
  _socket: Socket | null;
  _proto: {
    readonly outputBytes: number;
    readonly endTransport: boolean;
    readonly closeSent: boolean;
    takeOutput(): Buffer[] | null;
  } | null;
  /** On the dirty list already. */
  _dirty: boolean;
  /** Send callbacks waiting for the next write to complete. */
  _cbs: Array<(err?: Error) => void> | null;
  /** socket.end() was called. */
  _ended: boolean;
  /** Called after a flush that sent a close frame or ended the transport (arms the close timer). */
  _onCloseFlushed(): void;
}

/** Below this total, frames are copied into one buffer: one write, no writev. */
const CONCAT_LIMIT = 16 * 1024;
/** Within a large batch, buffers at least this big are written without copying. */
const VECTOR_MIN = 4 * 1024;

const dirty: OutboxHost[] = [];
let scheduled = false;

/** Flush `ws` once, later in this tick (after the current synchronous code). */
export function schedule(ws: OutboxHost): void {
  if (ws._dirty) return;
  ws._dirty = true;
  dirty.push(ws);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(flushDirty);
  }
}

function flushDirty(): void {
  // Sockets scheduled while this loop runs are appended and flushed by the same loop.
  for (let i = 0; i < dirty.length; i++) {
    const ws = dirty[i];
    ws._dirty = false;
    flush(ws);
  }
  dirty.length = 0;
  scheduled = false;
}

/** Bytes queued for `ws` and not yet handed to the socket. */
export function pendingBytes(ws: OutboxHost): number {
  return ws._proto === null ? 0 : ws._proto.outputBytes;
}

export function flush(ws: OutboxHost): void {
  const proto = ws._proto;
  const socket = ws._socket;
  if (proto === null || socket === null) return;
  const total = proto.outputBytes;
  const out = total > 0 ? proto.takeOutput() : null;
  const cbs = ws._cbs;
  if (cbs !== null) ws._cbs = null;
  if (out !== null && out.length > 0) {
    if (socket.destroyed || socket.writableEnded) {
      if (cbs !== null) process.nextTick(callAll, cbs, notWritable());
    } else {
      write(socket, out, total, cbs === null ? undefined : (err?: Error | null) => callAll(cbs, err));
    }
  } else if (cbs !== null) {
    // Nothing to write (e.g. the core dropped it): still answer the callbacks, asynchronously.
    process.nextTick(callAll, cbs, socket.destroyed ? notWritable() : undefined);
  }
  if (proto.endTransport && !ws._ended) {
    ws._ended = true;
    // RFC 6455 7.1.1: the underlying TCP connection is closed once the close frames are
    // exchanged (or the connection failed); the close timer bounds how long the peer may wait.
    socket.end();
  }
  if (proto.closeSent || ws._ended) ws._onCloseFlushed();
}

function write(
  socket: Socket,
  out: Buffer[],
  total: number,
  cb: ((err?: Error | null) => void) | undefined,
): void {
  if (out.length === 1) {
    socket.write(out[0], cb);
    return;
  }
  if (total <= CONCAT_LIMIT) {
    socket.write(Buffer.concat(out, total), cb);
    return;
  }
  socket.cork();
  let runStart = 0;
  let runBytes = 0;
  const last = out.length - 1;
  for (let i = 0; i <= last; i++) {
    const b = out[i];
    if (b.length >= VECTOR_MIN) {
      if (i > runStart) writeRun(socket, out, runStart, i, runBytes, undefined);
      socket.write(b, i === last ? cb : undefined);
      runStart = i + 1;
      runBytes = 0;
    } else {
      runBytes += b.length;
    }
  }
  if (runStart <= last) writeRun(socket, out, runStart, last + 1, runBytes, cb);
  socket.uncork();
}

function writeRun(
  socket: Socket,
  out: Buffer[],
  start: number,
  end: number,
  bytes: number,
  cb: ((err?: Error | null) => void) | undefined,
): void {
  if (end - start === 1) socket.write(out[start], cb);
  else socket.write(Buffer.concat(out.slice(start, end), bytes), cb);
}

function callAll(cbs: Array<(err?: Error) => void>, err?: Error | null): void {
  for (let i = 0; i < cbs.length; i++) cbs[i](err ?? undefined);
}

function notWritable(): Error {
  return new RiptideError('WS_ERR_SOCKET_CLOSED', 'The socket was closed before the data was written');
}
