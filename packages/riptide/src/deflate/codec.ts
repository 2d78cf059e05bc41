/**
 * RFC 7692 permessage-deflate data path for one connection: `PerMessageDeflate` implements the
 * core's PerMessageExtension (core/extension.ts). The core sets and checks RSV1; this file turns
 * message payloads into DEFLATE data and back.
 *
 * Memory design (ws issues #1202 and #1369 were RSS growth and fragmentation from thousands of
 * zlib contexts, 300+ KiB each, created and freed through a thread pool):
 *
 *   1. No zlib context exists until the first compressed message in that direction. A message
 *      under `threshold` never allocates one (a direction without context takeover: ws 8 applies
 *      the threshold only there, and so does compress()); a connection that never receives a
 *      compressed message never has an inflater.
 *   2. A direction WITHOUT context takeover needs no state between messages, so its contexts
 *      come from a small process-wide pool keyed by zlib configuration and are reset after each
 *      message. All zlib work is synchronous (zlib-sync.ts), so compressing a whole message
 *      holds a pooled deflater only for the duration of one call: 10,000 connections with
 *      server_no_context_takeover share ONE deflater. A message above the deflate budget
 *      (compressFirst/compressNext, one slice per event-loop turn) borrows its deflater until
 *      its last slice. A pooled inflater is held from the first
 *      to the last frame of a message, so the pool only grows with messages whose fragments
 *      are in flight at the same time.
 *   3. A direction WITH context takeover keeps its own context for the connection's lifetime
 *      (the RFC requires the LZ77 window to survive between messages). Its size is set per side
 *      by the window bits (negotiated) and memLevel (zlibDeflateOptions); docs/deflate.md has the
 *      measured cost of each setting.
 *
 * Inflating runs in slices: decompress() takes a budget of output bytes and, once it is spent,
 * returns null and keeps the rest of the frame for resumeDecompress() (the receiver calls it after
 * the event loop has turned; core/receiver.ts INFLATE_SLICE). A 1 KB frame inflating to 1 MiB
 * therefore never holds the thread for more than a slice. Deflating is bounded the same way: a
 * message above core/protocol.ts DEFLATE_SLICE is compressed one slice per call
 * (compressFirst, then compressNext), each ending with a sync flush, and sent as fragments.
 *
 * The process-wide concurrency limit on zlib work is therefore structural: zlib runs only on the
 * JavaScript thread, one call at a time, never on the libuv pool, and the number of contexts is
 * (connections with context takeover) + (a handful of pooled ones). `concurrencyLimit` (ws's
 * name) bounds how many IDLE pooled contexts of one configuration are kept for reuse; busy ones
 * beyond that are freed when released.
 *
 *   message ──compress──> deflate(Z_SYNC_FLUSH) ──> strip 00 00 ff ff ──> payload (core sets RSV1)
 *   frames ──decompress──> inflate each frame ... last frame + 00 00 ff ff ──> message
 */
import { ProtocolError, peerError, UsageError } from '../core/errors.js';
import type { PerMessageExtension } from '../core/extension.js';
import type { DeflateOptions, DeflateParams } from './negotiation.js';
import { Output, SyncZlib, WriteResult, type ZlibConfig, type ZlibKind } from './zlib-sync.js';

// RFC 7692 7.2.1: the tail a sync flush ends with, removed by the sender, appended by the receiver.
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
// RFC 7692 7.2.3.6: an empty DEFLATE block with no compression (BFINAL 0, BTYPE 00, padding).
const EMPTY_BLOCK = Buffer.from([0x00]);

/** Process-wide pool of zlib contexts for directions without context takeover. */
class ContextPool {
  private readonly idle = new Map<string, SyncZlib[]>();

  private static key(kind: ZlibKind, c: ZlibConfig): string {
    return kind === 'inflate'
      ? `i${c.windowBits}`
      : `d${c.windowBits}:${c.level}:${c.memLevel}:${c.strategy}`;
  }

  acquire(kind: ZlibKind, config: ZlibConfig): SyncZlib {
    const list = this.idle.get(ContextPool.key(kind, config));
    return list?.pop() ?? new SyncZlib(kind, config);
  }

  /** Resets `ctx` and keeps it for reuse, unless `maxIdle` of its kind are already kept. */
  release(ctx: SyncZlib, maxIdle: number): void {
    if (ctx.closed) return;
    const key = ContextPool.key(ctx.kind, ctx.config);
    let list = this.idle.get(key);
    if (list === undefined) {
      list = [];
      this.idle.set(key, list);
    }
    if (list.length >= maxIdle) {
      ctx.close();
      return;
    }
    ctx.reset();
    list.push(ctx);
  }

  /** Idle contexts kept, all configurations. */
  get size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** Frees every idle context (tests; a process shutting down its servers). */
  clear(): void {
    for (const list of this.idle.values()) for (const ctx of list) ctx.close();
    this.idle.clear();
  }
}

const pool = new ContextPool();

/** Idle pooled zlib contexts, process-wide. */
export function pooledZlibContexts(): number {
  return pool.size;
}

/** Frees the idle pooled zlib contexts (they are otherwise kept for reuse). */
export function clearZlibPool(): void {
  pool.clear();
}

const NO_OUTPUT: readonly Buffer[] = Object.freeze([]);

function closedError(): UsageError {
  return new UsageError('WS_ERR_EXTENSION_CLOSED', 'permessage-deflate used after close()');
}

function busyCompressing(): UsageError {
  return new UsageError('WS_ERR_EXTENSION_BUSY', 'compress() while a message is being compressed in slices');
}

/** A large message being compressed in slices: its input, how far it got, its zlib context. */
class SlicedMessage {
  readonly ctx: SyncZlib;
  readonly input: Buffer;
  offset = 0;
  constructor(ctx: SyncZlib, input: Buffer) {
    this.ctx = ctx;
    this.input = input;
  }
}

/** permessage-deflate for ONE connection, with the agreed parameters. */
export class PerMessageDeflate implements PerMessageExtension {
  readonly role: 'server' | 'client';
  readonly params: DeflateParams;
  private readonly options: DeflateOptions;
  private readonly deflateConfig: ZlibConfig;
  private readonly inflateConfig: ZlibConfig;
  /** We may keep our compression window between messages. */
  private readonly deflateTakeover: boolean;
  /** The peer may refer to earlier messages: our inflate window must survive between them. */
  private readonly inflateTakeover: boolean;
  /** Own context (takeover) or none; pooled deflaters are held only by a sliced message. */
  private deflater: SyncZlib | null = null;
  /** The large message being compressed in slices (compressFirst, compressNext), or null. */
  private sliced: SlicedMessage | null = null;
  /** Own context (takeover), or a pooled one held from the first to the last frame of a message. */
  private inflater: SyncZlib | null = null;
  /** Decompressed bytes of the current message so far. */
  private messageBytes = 0;
  /** The current message has had compressed input (see the empty-payload case in decompress). */
  private messageHasInput = false;
  /** The current message's DEFLATE stream ended (BFINAL): ignore the rest of the message. */
  private inflateEnded = false;
  private closed = false;
  /** Output bytes the last decompress() or resumeDecompress() call produced. */
  inflated = 0;

  /** The output of the suspended frame so far (see PerMessageExtension.suspendedOutput). */
  get suspendedOutput(): readonly Buffer[] {
    return this.out === null ? NO_OUTPUT : this.out.chunks;
  }
  // A frame being inflated (set by decompress, cleared when it is done): what is left of its
  // input, whether the RFC 7692 tail is queued after it, its output so far, its fin bit.
  private input: Buffer | null = null;
  private tailQueued = false;
  private out: Output | null = null;
  private fin = false;

  constructor(role: 'server' | 'client', params: DeflateParams, options: DeflateOptions) {
    this.role = role;
    this.params = params;
    this.options = options;
    const server = role === 'server';
    const { level, memLevel, strategy } = options.deflate;
    // RFC 7692 7.1.2.1/7.1.2.2: each side compresses with at most its agreed window.
    this.deflateConfig = {
      windowBits: server ? params.serverMaxWindowBits : params.clientMaxWindowBits,
      level,
      memLevel,
      strategy,
    };
    this.inflateConfig = {
      windowBits: server ? params.clientMaxWindowBits : params.serverMaxWindowBits,
      level,
      memLevel,
      strategy,
    };
    // RFC 7692 7.1.1.1/7.1.1.2: "*_no_context_takeover" forbids the sender from reusing its
    // window; the receiver may then (and does) start each message with a fresh window.
    this.deflateTakeover = server ? !params.serverNoContextTakeover : !params.clientNoContextTakeover;
    this.inflateTakeover = server ? !params.clientNoContextTakeover : !params.serverNoContextTakeover;
  }

  /** Whether this connection currently holds a zlib context for that direction (tests). */
  hasContext(kind: ZlibKind): boolean {
    return (kind === 'deflate' ? this.deflater : this.inflater) !== null;
  }

  /**
   * The payload is a view of a process-wide buffer, valid until the next compress call of any
   * connection (PerMessageExtension.compress): the frame copies it. Copying the output once,
   * into the frame, instead of out of zlib's scratch and then into the frame, is a Buffer less
   * per compressed message waiting for V8's next scavenge (bench/deflate-alloc.mjs).
   */
  compress(data: Buffer, _isBinary: boolean): Buffer | null {
    if (this.closed) throw closedError();
    if (this.sliced !== null) throw busyCompressing();
    if (this.belowThreshold(data)) return null;
    const ctx = this.messageDeflater();
    const out = new Output(Number.POSITIVE_INFINITY, this.options.deflate.chunkSize, true);
    const result = ctx.write(data, out);
    if (!this.deflateTakeover) pool.release(ctx, this.options.concurrencyLimit);
    if (result !== WriteResult.OK) {
      // Only a zlib failure (e.g. out of memory) gets here; the context is closed. Sending this
      // message uncompressed is safe: a fresh deflater never refers to earlier messages.
      if (this.deflateTakeover) this.deflater = null;
      return null;
    }
    // RFC 7692 7.2.3.6: zlib emits nothing for an empty message when nothing is pending; the
    // payload is then one empty stored block.
    if (out.total === 0) return EMPTY_BLOCK;
    // RFC 7692 7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
    return out.endsWith(TAIL) ? out.join(TAIL.length) : out.join();
  }

  /**
   * `threshold` as ws 8 applies it: only to a direction WITHOUT context takeover, where a short
   * message compresses poorly on its own. With context takeover every message is compressed
   * (it may refer to the earlier ones: that is where short, similar messages shrink most), as
   * ws does and as its README says ("Payloads smaller than this will not be compressed if
   * context takeover is disabled").
   */
  private belowThreshold(data: Buffer): boolean {
    return !this.deflateTakeover && data.length < this.options.threshold;
  }

  /** The deflater for the next message: our own (created on first use), or a pooled one. */
  private messageDeflater(): SyncZlib {
    let ctx = this.deflater;
    if (ctx === null) {
      ctx = this.deflateTakeover
        ? new SyncZlib('deflate', this.deflateConfig)
        : pool.acquire('deflate', this.deflateConfig);
      if (this.deflateTakeover) this.deflater = ctx;
    }
    return ctx;
  }

  /** Input bytes of the sliced message not compressed yet (0: none in progress). */
  get compressLeft(): number {
    const sliced = this.sliced;
    return sliced === null ? 0 : sliced.input.length - sliced.offset;
  }

  /**
   * Start compressing `data` in slices of `slice` input bytes: compresses the first slice and
   * returns its output (the payload of the message's first frame). compressNext() does the rest,
   * one slice per call, until compressLeft is 0; the last slice's output has the tail removed.
   * The zlib context is held from here to the last slice: a pooled one is borrowed for the
   * whole message, never shared with another connection mid-stream. Each slice ends with a
   * sync flush, so its output is whole DEFLATE blocks the peer can inflate at once (an empty
   * stored block, 5 bytes, per slice). null: send the message uncompressed (below threshold,
   * or zlib failed before anything was produced).
   */
  compressFirst(data: Buffer, _isBinary: boolean, slice: number): Buffer | null {
    if (this.closed) throw closedError();
    if (this.sliced !== null) throw busyCompressing();
    if (this.belowThreshold(data)) return null;
    this.sliced = new SlicedMessage(this.messageDeflater(), data);
    return this.compressSlice(slice);
  }

  /**
   * Compress the next `slice` input bytes of the message compressFirst started. null: zlib
   * failed (out of memory); the message cannot be finished and its context is gone.
   */
  compressNext(slice: number): Buffer | null {
    if (this.closed) throw closedError();
    if (this.sliced === null) {
      throw new UsageError('WS_ERR_EXTENSION_BUSY', 'compressNext() without a message being compressed');
    }
    return this.compressSlice(slice);
  }

  /** Give up the sliced message (its connection is closing): release its zlib context. */
  cancelCompress(): void {
    const sliced = this.sliced;
    if (sliced === null) return;
    this.sliced = null;
    if (this.deflateTakeover) {
      // The window holds a message the peer never got whole: later messages must not refer to it.
      sliced.ctx.close();
      this.deflater = null;
    } else {
      pool.release(sliced.ctx, this.options.concurrencyLimit);
    }
  }

  private compressSlice(slice: number): Buffer | null {
    const sliced = this.sliced!;
    const { input, ctx } = sliced;
    const end = Math.min(input.length, sliced.offset + slice);
    const out = new Output(Number.POSITIVE_INFINITY, this.options.deflate.chunkSize, true);
    const result = ctx.write(input.subarray(sliced.offset, end), out);
    sliced.offset = end;
    const last = end === input.length;
    if (result !== WriteResult.OK) {
      // zlib closed the context (see compress()).
      this.sliced = null;
      if (this.deflateTakeover) this.deflater = null;
      return null;
    }
    if (!last) return out.join();
    this.sliced = null;
    if (!this.deflateTakeover) pool.release(ctx, this.options.concurrencyLimit);
    // RFC 7692 7.2.1: the tail of the whole message's output (the last slice's sync flush).
    return out.endsWith(TAIL) ? out.join(TAIL.length) : out.join();
  }

  decompress(
    data: Buffer,
    fin: boolean,
    limit: number,
    budget = Number.POSITIVE_INFINITY,
  ): Buffer | ProtocolError | null {
    if (this.closed) throw closedError();
    if (this.out !== null) {
      throw new UsageError('WS_ERR_EXTENSION_BUSY', 'decompress() before the suspended frame was finished');
    }
    let ctx = this.inflater;
    if (ctx === null) {
      ctx = this.inflateTakeover
        ? new SyncZlib('inflate', this.inflateConfig)
        : pool.acquire('inflate', this.inflateConfig);
      this.inflater = ctx;
    }
    const remaining = limit > 0 ? limit - this.messageBytes : Number.POSITIVE_INFINITY;
    if (data.length > 0) this.messageHasInput = true;
    this.out = new Output(remaining, this.options.inflate.chunkSize);
    this.input = data;
    this.tailQueued = false;
    this.fin = fin;
    return this.inflateSome(ctx, budget);
  }

  /**
   * The suspended frame's input lives in the receiver's read buffer, reused once the receiver
   * returns: copy only what is left of it. The receiver inflates straight from its read buffer
   * otherwise, which saves a copy of every compressed payload (bench/deflate-alloc.mjs).
   */
  detachInput(): void {
    const input = this.input;
    if (input !== null && input !== TAIL) this.input = Buffer.from(input);
  }

  resumeDecompress(budget = Number.POSITIVE_INFINITY): Buffer | ProtocolError | null {
    if (this.closed) throw closedError();
    if (this.out === null) {
      throw new UsageError('WS_ERR_EXTENSION_BUSY', 'resumeDecompress() without a suspended frame');
    }
    return this.inflateSome(this.inflater!, budget);
  }

  /**
   * Inflate the current frame's input until it is all used, or until `budget` bytes of output
   * were produced in this call (null: suspended, the input left is kept for resumeDecompress).
   */
  private inflateSome(ctx: SyncZlib, budget: number): Buffer | ProtocolError | null {
    const out = this.out!;
    const start = out.total;
    out.stopAt = start + budget;
    let result: WriteResult = WriteResult.OK;
    while (this.input !== null && !this.inflateEnded) {
      result = ctx.write(this.input, out);
      if (result === WriteResult.SUSPENDED) {
        this.input = this.input.subarray(out.consumed);
        this.inflated = out.total - start;
        return null;
      }
      // RFC 7692 7.2.3.4: a sender may end the message with a BFINAL block; what follows it
      // (its padding byte and our tail) is not part of the stream.
      if (result === WriteResult.ENDED) this.inflateEnded = true;
      if (result !== WriteResult.OK) break;
      // RFC 7692 7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload
      // of the message" before decompressing. A message with an EMPTY payload (7.2.3.6 says to
      // send 0x00, but some senders send nothing) is taken as empty: the tail alone would leave
      // the inflater inside an unfinished stored block and corrupt the next message.
      if (this.fin && this.messageHasInput && !this.tailQueued) {
        this.tailQueued = true;
        this.input = TAIL;
      } else {
        this.input = null;
      }
    }
    this.inflated = out.total - start;
    this.input = null;
    this.out = null;
    const fin = this.fin;
    if (result === WriteResult.LIMIT || result === WriteResult.ERROR) {
      const error =
        result === WriteResult.LIMIT
          ? // RFC 6455 10.4 / RFC 7692 8: the limit applies to the decompressed size.
            peerError('WS_ERR_MESSAGE_TOO_BIG')
          : // zlib's own message, errno and code (Z_DATA_ERROR ...), as ws reports them.
            ProtocolError.fromZlib(ctx.lastError, ctx.lastErrno, ctx.lastCode);
      this.dropInflater();
      return error;
    }
    this.messageBytes += out.total;
    if (fin) {
      this.messageBytes = 0;
      this.messageHasInput = false;
      if (!this.inflateTakeover) {
        pool.release(ctx, this.options.concurrencyLimit);
        this.inflater = null;
      } else if (this.inflateEnded) {
        // The peer ended its DEFLATE stream, so its next message starts a new one.
        ctx.reset();
      }
      this.inflateEnded = false;
    }
    return out.join();
  }

  /** Gives up the inflater after a failed message (the connection is being failed). */
  private dropInflater(): void {
    const ctx = this.inflater;
    this.inflater = null;
    this.input = null;
    this.out = null;
    this.messageBytes = 0;
    this.messageHasInput = false;
    this.inflateEnded = false;
    if (ctx === null) return;
    if (this.inflateTakeover) ctx.close();
    else pool.release(ctx, this.options.concurrencyLimit);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelCompress();
    this.deflater?.close();
    this.deflater = null;
    this.dropInflater();
  }
}
