/**
 * Write batching: everything queued for a socket leaves in one socket write.
 *
 * Theory of operation:
 *
 *   'data' chunk ──> proto.receive() ──> handlers call send()/close() ──> ws._flush() (same tick)
 *   send() outside a 'data' handler ──> queueFlush(ws) ──> one process.nextTick for ALL dirty
 *                                                         sockets ──> ws._flushQueued() each
 *
 * This module owns no connection state: the WebSocket decides when it is dirty and what to
 * write (websocket.ts _flush); here are the one nextTick for all of them, and the write itself:
 *   - small total: one Buffer.concat, one write (one syscall, one TCP segment when it fits),
 *     straight to the TCP handle when nothing is queued on the socket (internals.ts);
 *   - large total: cork(), each vector written as is (large payloads never copied; runs of
 *     small buffers between them concatenated), uncork() -> one writev.
 * Nothing here allocates per message except the arrays the core hands over, and a closure per
 * write only when send callbacks are waiting for it.
 */
import type { Duplex } from 'node:stream';
import { writeDirect, writtenToKernel } from './internals.js';

/** What the scheduler flushes: a WebSocket (which clears its own "queued" flag). */
export interface Flushable {
  _flushQueued(): void;
}

/** Below this total, frames are copied into one buffer: one write, no writev. */
const CONCAT_LIMIT = 16 * 1024;
/** Within a large batch, buffers at least this big are written without copying. */
const VECTOR_MIN = 4 * 1024;

const dirty: Flushable[] = [];
let scheduled = false;

/**
 * Flush `target` later in this tick (after the current synchronous code). The caller makes sure
 * it is queued once until its _flush() runs (it keeps its own "dirty" flag).
 */
export function queueFlush(target: Flushable): void {
  dirty.push(target);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(flushDirty);
  }
}

function flushDirty(): void {
  // Targets queued while this loop runs are appended and flushed by the same loop.
  for (let i = 0; i < dirty.length; i++) dirty[i]._flushQueued();
  dirty.length = 0;
  scheduled = false;
}

export type WriteCallback = (err?: Error) => void;

/**
 * True when writeBatch(socket, out, total, null) goes straight to the kernel (a plain TCP socket
 * with nothing queued, a batch small enough for one write): no callback is needed to know that
 * the write was made.
 */
export function writesStraightToKernel(socket: Duplex, total: number): boolean {
  return total <= CONCAT_LIMIT && writtenToKernel(socket);
}

/**
 * Write `out` (`total` bytes) to `socket`; `cbs`, if any, are called once the write is done.
 * True when the bytes were handed straight to the handle (only without `cbs`, see
 * writesStraightToKernel). `done` (with `cbs` null and a batch for that path) is called once the
 * write is done, whichever way it went: at once when the kernel took it all (before writeBatch
 * returns), at libuv's completion when the kernel took part of it, or as the callback of the
 * socket.write that carries it when the direct path declined.
 */
export function writeBatch(
  socket: Duplex,
  out: Buffer[],
  total: number,
  cbs: WriteCallback[] | null,
  done?: (err?: Error | null) => void,
): boolean {
  if (cbs === null && total <= CONCAT_LIMIT) {
    // The common case (small frames, no send callbacks): straight to the kernel when nothing
    // is queued on the socket (internals.ts writeDirect), else through the socket.
    const data = out.length === 1 ? out[0] : Buffer.concat(out, total);
    if (writeDirect(socket, data, done)) return true;
    socket.write(data, done);
    return false;
  }
  const cb = cbs === null ? undefined : (err?: Error | null) => callAll(cbs, err ?? undefined);
  if (out.length === 1) {
    socket.write(out[0], cb);
    return false;
  }
  if (total <= CONCAT_LIMIT) {
    socket.write(Buffer.concat(out, total), cb);
    return false;
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
  return false;
}

function writeRun(
  socket: Duplex,
  out: Buffer[],
  start: number,
  end: number,
  bytes: number,
  cb: ((err?: Error | null) => void) | undefined,
): void {
  if (end - start === 1) socket.write(out[start], cb);
  else socket.write(Buffer.concat(out.slice(start, end), bytes), cb);
}

/** Call each callback with `err` (a failed or skipped write) or nothing. */
export function callAll(cbs: WriteCallback[], err?: Error): void {
  for (let i = 0; i < cbs.length; i++) cbs[i](err);
}
