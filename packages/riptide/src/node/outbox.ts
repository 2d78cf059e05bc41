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
 *   - large total with send callbacks waiting: the batch is cut after the frames of a callback
 *     once CUT_MIN bytes have gathered since the last cut, and each part is written as above
 *     with its own callbacks. While the kernel takes the parts, each completes (and calls its
 *     callbacks) on its own, as ws's one write per frame does; once one has to wait, Node queues
 *     the rest and writes it in one writev when the kernel has room again.
 *   - a total over STREAM_PIECE (1 MiB) for an HTTP/2 stream (transport.ts meterWrites):
 *     writes of at most 1 MiB each (writePieces), so node's session, which counts what a write
 *     hands it against maxSessionMemory, never holds more than that of one stream; what waits
 *     in the stream's own buffer leaves in writes of up to 1 MiB too (transport.ts).
 * Nothing here allocates per message except the arrays the core hands over, and a closure per
 * write only when send callbacks are waiting for it (in a cut batch, per part: a closure, the
 * list of its buffers and the list of its callbacks).
 */
import type { Duplex } from 'node:stream';
import { writeDirect, writtenToKernel } from './internals.js';
import { kMetered, STREAM_PIECE } from './transport.js';

/** What the scheduler flushes: a WebSocket (which clears its own "queued" flag). */
export interface Flushable {
  _flushQueued(): void;
}

/** Below this total, frames are copied into one buffer: one write, no writev. */
const CONCAT_LIMIT = 16 * 1024;
/** Within a large batch, buffers at least this big are written without copying. */
const VECTOR_MIN = 4 * 1024;
/**
 * With send callbacks waiting, a batch is cut into writes of at least this many bytes, at the
 * end of a callback's frames: a callback is called once its part is written, at most this much
 * later than a write per message would call it, and a batch makes at most total / CUT_MIN + 1
 * writes.
 */
const CUT_MIN = 64 * 1024;
/** Writing to an HTTP/2 stream (writePieces): buffers at least this big are never copied. */
const PIECE_VECTOR_MIN = 64 * 1024;

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
 * The send callbacks waiting for a batch, in call order, each after a number: the byte offset in
 * the batch where the frames it waits for end (the batch's bytes queued when it was added), so
 * that a large batch can be cut between messages (writeBatch). Numbers never decrease.
 */
export type WriteCallbacks = Array<number | WriteCallback>;

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
  cbs: WriteCallbacks | null,
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
  if (total > STREAM_PIECE && (socket as Duplex & { [kMetered]?: boolean })[kMetered] === true) {
    writePieces(socket, out, cbs);
    return false;
  }
  if (cbs !== null && total > CUT_MIN) {
    const cut = cutAfter(cbs, 0, 0, total);
    if (cut >= 0) {
      writeCut(socket, out, total, cbs, cut);
      return false;
    }
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
  writeCorked(socket, out, cb);
  return false;
}

/**
 * `out` under cork(): buffers of VECTOR_MIN bytes or more as they are, the runs between them
 * concatenated; uncork() makes it one writev. `cb` goes with the last write.
 */
function writeCorked(socket: Duplex, out: Buffer[], cb: ((err?: Error | null) => void) | undefined): void {
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

/**
 * Where, from index `from` of `cbs` (a number's index), the part that starts at byte `start`
 * ends: the index of the number of the first callback whose frames end CUT_MIN bytes or more
 * after `start`, before the batch's end, and that is the last callback ending there. -1: none
 * (the rest is one part).
 */
function cutAfter(cbs: WriteCallbacks, from: number, start: number, total: number): number {
  for (let i = from; i < cbs.length; i += 2) {
    const end = cbs[i] as number;
    if (end >= total) return -1;
    if (end - start >= CUT_MIN && (i + 2 >= cbs.length || cbs[i + 2] !== end)) return i;
  }
  return -1;
}

/**
 * A large batch with send callbacks, written in parts cut at the end of a callback's frames (a
 * buffer holding the end of one part and the start of the next is split without copying): each
 * part its own write (its vectors under cork), called back with its callbacks once written.
 * `firstCut` is cutAfter()'s answer for the first part (writeBatch asked it already).
 */
function writeCut(socket: Duplex, out: Buffer[], total: number, cbs: WriteCallbacks, firstCut: number): void {
  let index = 0; // the buffer of `out` the next part starts in
  let offset = 0; // and where in it
  let start = 0; // the next part's first byte in the batch
  let from = 0; // the index in `cbs` of its first callback's number
  let cut = firstCut; // the index in `cbs` of its last callback's number; -1: the rest is one part
  for (;;) {
    const end = cut < 0 ? total : (cbs[cut] as number);
    const next = cut < 0 ? cbs.length : cut + 2;
    const part: Buffer[] = [];
    let bytes = end - start;
    while (bytes > 0) {
      const b = out[index];
      const take = Math.min(b.length - offset, bytes);
      part.push(offset === 0 && take === b.length ? b : b.subarray(offset, offset + take));
      bytes -= take;
      offset += take;
      if (offset === b.length) {
        index++;
        offset = 0;
      }
    }
    const partCbs = cbs.slice(from, next);
    const cb = (err?: Error | null) => callAll(partCbs, err ?? undefined);
    if (part.length === 1) socket.write(part[0], cb);
    else writeCorked(socket, part, cb);
    if (cut < 0) return;
    start = end;
    from = next;
    cut = cutAfter(cbs, from, start, total);
  }
}

/**
 * A batch larger than STREAM_PIECE for an HTTP/2 stream (transport.ts meterWrites): written as
 * writes of at most STREAM_PIECE bytes each, so that node's session never holds more than one
 * of them for this stream. A buffer of PIECE_VECTOR_MIN bytes or more goes as subarrays (never
 * copied); runs of smaller ones are copied together into writes of up to STREAM_PIECE. Each
 * send callback goes with the write that carries the last byte of its frames.
 */
function writePieces(socket: Duplex, out: Buffer[], cbs: WriteCallbacks | null): void {
  let runStart = 0; // the first buffer of the run of small buffers not written yet
  let runBytes = 0;
  let written = 0; // bytes of the batch written so far
  let from = 0; // the index in `cbs` of the next callback's number
  const piece = (data: Buffer): void => {
    written += data.length;
    let next = from;
    if (cbs !== null) while (next < cbs.length && (cbs[next] as number) <= written) next += 2;
    if (next === from) {
      socket.write(data);
      return;
    }
    const partCbs = from === 0 && next === cbs!.length ? cbs! : cbs!.slice(from, next);
    from = next;
    socket.write(data, (err?: Error | null) => callAll(partCbs, err ?? undefined));
  };
  const flushRun = (end: number): void => {
    if (runBytes > 0)
      piece(end - runStart === 1 ? out[runStart] : Buffer.concat(out.slice(runStart, end), runBytes));
    runBytes = 0;
  };
  for (let i = 0; i < out.length; i++) {
    const b = out[i];
    if (b.length >= PIECE_VECTOR_MIN) {
      flushRun(i);
      for (let at = 0; at < b.length; at += STREAM_PIECE) {
        piece(at === 0 && b.length <= STREAM_PIECE ? b : b.subarray(at, at + STREAM_PIECE));
      }
      runStart = i + 1;
    } else {
      if (runBytes + b.length > STREAM_PIECE) {
        flushRun(i);
        runStart = i;
      }
      runBytes += b.length;
    }
  }
  flushRun(out.length);
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

/** Call each callback with `err` (a failed or skipped write) or nothing (numbers are skipped). */
export function callAll(cbs: WriteCallbacks, err?: Error): void {
  for (let i = 0; i < cbs.length; i++) {
    const cb = cbs[i];
    if (typeof cb === 'function') cb(err);
  }
}
