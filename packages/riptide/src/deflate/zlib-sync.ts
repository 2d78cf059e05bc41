/**
 * Persistent raw DEFLATE contexts driven SYNCHRONOUSLY, with output bounded while it is produced.
 *
 * Theory of operation. The protocol core is synchronous, so the codec cannot wait for zlib's
 * thread pool. Node offers no public API for a persistent zlib context used synchronously:
 * `zlib.*Sync()` create a fresh context per call (no context takeover, and a new 200+ KiB
 * allocation per message), and the stream's `_processChunk(chunk, flag)` without a callback
 * CLOSES the handle after one call (checked on Node 20). So this file drives the stream's native
 * handle directly, the same call the stream itself makes:
 *
 *   handle.writeSync(flush, input, inOff, inLen, output, outOff, outLen)
 *   -> the stream's `_writeState` Uint32Array holds [availOutAfter, availInAfter]
 *
 * That handle API is internal but has been stable across Node releases; ../node/internals.ts
 * (the one module touching Node's private fields) probes it once, and negotiation declines
 * permessage-deflate if it is missing (the connection then simply runs uncompressed) instead of
 * failing at run time.
 *
 * Measured on Node 20 (bench/deflate-sync-vs-async.mjs, compress + decompress round trip):
 * 64 B: 9 us sync vs 267 us with the async stream (ws's way) vs 205 us with a one-shot
 * `deflateRawSync`; 16 KiB: 200 / 286 / 320 us. Synchronous, persistent contexts win at every
 * size, most for the small messages a chat or a game sends.
 *
 * Output goes into one process-wide scratch buffer (safe: nothing else runs during writeSync)
 * and is copied out at its exact size, so a 10-byte message never pins a 16 KiB chunk. Deflate
 * output skips that copy: it is written straight into a second process-wide buffer (a
 * `contiguous` Output) which the frame copies once (codec.ts compress).
 * Bytes allocated per 16 KiB echo of scenario 7 (bench/deflate-alloc.mjs): the deflate output
 * was copied twice, out of the scratch and into the frame; now only into the frame.
 * Every native call is given at most `limit - total + 1` bytes of output space, so a decompression bomb
 * stops as soon as it crosses the limit: memory is bounded by the limit plus one chunk. Work is
 * bounded too: `Output.stopAt` suspends a write once that much output was produced (SUSPENDED);
 * the caller continues it later with the input that is left, and zlib picks up where it stopped.
 *
 * After a zlib error the context is discarded (Node's own handler says there is no clean
 * recovery); callers create a new one lazily.
 */
import zlib from 'node:zlib';
import {
  type NativeZlibHandle,
  releaseNativeZlib,
  takeNativeZlib,
  zlibHandleSupported,
} from '../node/internals.js';

const { Z_SYNC_FLUSH } = zlib.constants;

/** zlib parameters of one context. For inflate only `windowBits` matters. */
export interface ZlibConfig {
  /** Base-2 logarithm of the LZ77 window, 8..15. */
  windowBits: number;
  /** Compression level -1..9 (-1: zlib's default, 6). */
  level: number;
  /** 1..9: memory for the match finder (2^(memLevel+9) bytes); zlib's default is 8. */
  memLevel: number;
  /** zlib strategy constant 0..4. */
  strategy: number;
}

export type ZlibKind = 'deflate' | 'inflate';

let liveContexts = 0;
let createdContexts = 0;

/** Number of zlib contexts currently allocated by this module, process-wide (tests, benchmarks). */
export function liveZlibContexts(): number {
  return liveContexts;
}

/** Number of zlib contexts ever allocated by this module (tests, benchmarks). */
export function createdZlibContexts(): number {
  return createdContexts;
}

/**
 * Whether this Node exposes the native handle API used here (probed once, in
 * ../node/internals.ts: the one module that touches Node's private fields).
 */
export function syncZlibSupported(): boolean {
  return zlibHandleSupported();
}

let scratch = Buffer.allocUnsafeSlow(16 * 1024);

function scratchOf(size: number): Buffer {
  if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(size);
  return scratch;
}

/** Largest buffer kept as the process-wide contiguous output scratch (see Output.contiguous). */
const CONTIGUOUS_KEEP = 64 * 1024;
let contiguousScratch = Buffer.allocUnsafeSlow(16 * 1024);

/**
 * Output collected across `write` calls: exact-size copies, and their total. A `contiguous`
 * output is written straight into one process-wide buffer instead (no copy per chunk): its
 * `join()` is a VIEW of that buffer, valid only until the next write into a contiguous output
 * (the caller copies it where it must outlive that, e.g. into the frame; see codec.ts compress).
 */
export class Output {
  chunks: Buffer[] = [];
  total = 0;
  /** The contiguous output's buffer (bytes 0..total), or null: the output is `chunks`. */
  buffer: Buffer | null = null;
  /** `write` stops (WriteResult.LIMIT) as soon as `total` would exceed this. */
  readonly limit: number;
  /** Output granularity: at most this many bytes per native call. */
  readonly chunkSize: number;
  /**
   * `write` pauses (WriteResult.SUSPENDED) once `total` has reached this and zlib has more to
   * give: the caller's budget of work for now. Move it on and call `write` again with the input
   * from `consumed` to go on where it stopped.
   */
  stopAt = Number.POSITIVE_INFINITY;
  /** After SUSPENDED: how many bytes of the last `write`'s input zlib has taken. */
  consumed = 0;

  constructor(limit: number, chunkSize: number, contiguous = false) {
    this.limit = limit;
    this.chunkSize = chunkSize;
    if (contiguous) this.buffer = contiguousScratch;
  }

  /**
   * Room for `n` more bytes at `total` in the contiguous buffer (grown by doubling; a grown buffer
   * up to CONTIGUOUS_KEEP becomes the scratch for later outputs, a larger one is dropped after).
   */
  room(n: number): Buffer {
    let buf = this.buffer!;
    const need = this.total + n;
    if (buf.length < need) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, buf.length * 2));
      buf.copy(grown, 0, 0, this.total);
      if (grown.length <= CONTIGUOUS_KEEP) contiguousScratch = grown;
      this.buffer = buf = grown;
    }
    return buf;
  }

  /** The collected bytes as one Buffer, minus `dropTail` bytes at the end. */
  join(dropTail = 0): Buffer {
    const length = this.total - dropTail;
    if (this.buffer !== null) return this.buffer.subarray(0, length);
    const { chunks } = this;
    if (chunks.length === 1) return length === chunks[0].length ? chunks[0] : chunks[0].subarray(0, length);
    const out = Buffer.allocUnsafe(length);
    let offset = 0;
    for (const chunk of chunks) {
      if (offset >= length) break;
      const n = Math.min(chunk.length, length - offset);
      chunk.copy(out, offset, 0, n);
      offset += n;
    }
    return out;
  }

  /** The last `n` bytes equal `bytes` (which may span chunks). */
  endsWith(bytes: Buffer): boolean {
    if (this.total < bytes.length) return false;
    if (this.buffer !== null)
      return this.buffer.subarray(this.total - bytes.length, this.total).equals(bytes);
    let i = bytes.length - 1;
    for (let c = this.chunks.length - 1; c >= 0 && i >= 0; c--) {
      const chunk = this.chunks[c];
      for (let j = chunk.length - 1; j >= 0 && i >= 0; j--, i--) {
        if (chunk[j] !== bytes[i]) return false;
      }
    }
    return true;
  }
}

/** Results of `SyncZlib.write`. */
export const WriteResult = {
  /** All input consumed and all available output collected. */
  OK: 0,
  /** The output would exceed `out.limit`: stopped mid-stream (reset or close the context). */
  LIMIT: 1,
  /** zlib reported an error (`lastError` says which); the context is closed. */
  ERROR: 2,
  /** Inflate only: the DEFLATE stream ended (a block with BFINAL); trailing input was ignored. */
  ENDED: 3,
  /** `out.stopAt` was reached with more to do; `out.consumed` says where the input stands. */
  SUSPENDED: 4,
} as const;
export type WriteResult = (typeof WriteResult)[keyof typeof WriteResult];

/** One persistent raw deflate or inflate context. */
export class SyncZlib {
  readonly kind: ZlibKind;
  readonly config: ZlibConfig;
  /** zlib's message for the last error (after WriteResult.ERROR). */
  lastError = '';
  /** zlib's errno and code (Z_DATA_ERROR ...) for the last error, as Node reports them. */
  lastErrno = 0;
  lastCode: string | undefined = undefined;
  private stream: object;
  private handle: NativeZlibHandle | null;
  private readonly writeState: Uint32Array;
  private failed: { message: string; errno: number; code: string | undefined } | null = null;

  constructor(kind: ZlibKind, config: ZlibConfig) {
    this.kind = kind;
    this.config = config;
    // chunkSize 64 (zlib's minimum): the stream's own output buffer is never used here.
    const stream =
      kind === 'deflate'
        ? zlib.createDeflateRaw({
            chunkSize: 64,
            windowBits: config.windowBits,
            level: config.level,
            memLevel: config.memLevel,
            strategy: config.strategy,
          })
        : zlib.createInflateRaw({ chunkSize: 64, windowBits: config.windowBits });
    this.stream = stream;
    // The stream's own 64-byte output buffer is a slice of Buffer's shared 8 KiB pool: kept alive
    // for the connection's lifetime it would pin a whole pool slab (measured: ~2.6 KiB of
    // arrayBuffers per connection); takeNativeZlib drops it.
    const native = takeNativeZlib(stream);
    this.handle = native.handle;
    this.writeState = native.writeState;
    // Replaces the stream's handler, which would destroy the stream and emit 'error' later.
    this.handle!.onerror = (message: string, errno: number, code?: string) => {
      this.failed = { message, errno, code };
    };
    liveContexts++;
    createdContexts++;
  }

  get closed(): boolean {
    return this.handle === null;
  }

  /**
   * Feeds `input` with Z_SYNC_FLUSH and collects the output into `out` while `out.total` stays
   * within `out.limit`.
   */
  write(input: Buffer, out: Output): WriteResult {
    const handle = this.handle;
    if (handle === null) throw new Error('zlib context used after close');
    const state = this.writeState;
    const { chunkSize, limit } = out;
    const contiguous = out.buffer !== null;
    let buf = contiguous ? out.buffer! : scratchOf(chunkSize);
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      // One byte more than the limit allows: producing it proves the output is too big.
      const outLen = Math.min(chunkSize, limit - out.total + 1);
      // A contiguous output takes zlib's bytes in place, after what it holds.
      const outOff = contiguous ? out.total : 0;
      if (contiguous) buf = out.room(outLen);
      handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, buf, outOff, outLen);
      if (this.failed !== null) {
        this.lastError = this.failed.message;
        this.lastErrno = this.failed.errno;
        this.lastCode = this.failed.code;
        this.close();
        return WriteResult.ERROR;
      }
      const availOut = state[0];
      const availIn = state[1];
      const produced = outLen - availOut;
      if (produced > 0) {
        out.total += produced;
        if (out.total > limit) return WriteResult.LIMIT;
        if (!contiguous) {
          const copy = Buffer.allocUnsafe(produced);
          buf.copy(copy, 0, 0, produced);
          out.chunks.push(copy);
        }
      }
      inOff += inLen - availIn;
      inLen = availIn;
      if (availOut !== 0) {
        // zlib stopped with output space left: it used all the input, or (inflate) the stream
        // ended and the rest of the input follows the final block.
        return inLen > 0 ? WriteResult.ENDED : WriteResult.OK;
      }
      if (out.total >= out.stopAt) {
        // Output space ran out, so zlib may have more (pending in its state, or from the rest of
        // the input): the next write, with the input from `consumed`, continues from here.
        out.consumed = inOff;
        return WriteResult.SUSPENDED;
      }
    }
  }

  /** Starts a new DEFLATE stream, forgetting the window (keeps the allocation). */
  reset(): void {
    this.handle?.reset();
  }

  /** Frees zlib's memory now (idempotent). */
  close(): void {
    const handle = this.handle;
    if (handle === null) return;
    this.handle = null;
    releaseNativeZlib(this.stream);
    handle.close();
    liveContexts--;
  }
}
