/**
 * The incremental frame parser: bytes in, calls on its Protocol out.
 *
 * Theory of operation
 * -------------------
 * `receive(chunk)` walks the chunk frame by frame. Its phases:
 *
 *   HEADER --(header complete and valid)--> PAYLOAD --(payload complete)--> HEADER ...
 *      \                                      /
 *       `--(violation, close frame, EOF)--> DISCARD   (input ignored from then on: a state, not a flag)
 *
 * Fast path: a frame whose header and payload both lie inside the chunk is handed on as a view
 * into the chunk (zero copy), unmasked in place; when the chunk is borrowed (a read buffer the
 * I/O layer reuses, see `receive`) it is copied out instead, unmasked on the way, except a
 * compressed data frame: it is inflated from the chunk, and the extension copies only what a
 * suspended inflate has left (`detachInput`). A frame
 * spanning chunks is assembled into a buffer of exactly its length, allocated only after the
 * length passed the limits ("limits before allocation"); above FRAME_RESERVE_MAX the buffer
 * grows with the bytes received instead, so a header claiming 100 MiB reserves 1 MiB.
 * Fragmented messages are copied into one growing buffer, so memory is proportional to the
 * payload and never to the number of fragments.
 *
 * Direct reads (the 1 MiB echo, issue 17): inside a large uncompressed payload whose buffer is
 * allocated, `directTarget()` offers the I/O layer the unfilled part of that buffer (never more
 * than the bytes the frame still lacks, never beyond what is allocated), so the kernel copies
 * the next read straight into the frame's buffer; `receivedInPlace(n)` then accounts the n bytes
 * written there (unmasked in place at their mask phase, UTF-8 checked as they come, the frame
 * completed as `receive` would). No user-space copy of those bytes and far fewer reads. Only the
 * frame's own buffer is offered: a fragment of a message still lands there first and is then
 * appended to the message's buffer (that buffer grows geometrically while the fragments come,
 * so a read target inside it could be moved by the next append).
 *
 *   read ──> shared 64 KiB buffer ──> receive(chunk, borrowed) ──copy──> frameBuf
 *   read ──> directTarget() = frameBuf[received, end) ──> receivedInPlace(n)   (no copy)
 *
 * Text is validated as it arrives: a whole single-frame message with the native check, anything
 * in pieces with the incremental validator, so invalid UTF-8 fails the connection (1007) at the
 * piece that contains it, not at the end of the message.
 *
 * Every callback into the Protocol may run user code (it may close, terminate or pause). After
 * each one the loop re-checks its phase and the pause flag before touching the next frame; user
 * code never re-enters `receive`.
 *
 * Every violation goes through `violation(code)`, which hands a ProtocolError to the Protocol;
 * the close code comes from the PEER_ERRORS table in errors.ts.
 */
import { constants } from 'node:buffer';
import { type PeerViolation, ProtocolError, peerError, UsageRangeError } from './errors.js';
import type { PerMessageExtension } from './extension.js';
import { MAX_CONTROL_PAYLOAD, Opcode } from './frame.js';
import { applyMask, copyMasked, copyUnmaskShort, unmaskAscii } from './mask.js';
import { ASCII_SCAN_MAX, isValidUtf8, Utf8Validator } from './utf8.js';

/**
 * Node's Buffer subclass constructor (Buffer[Symbol.species]): `new FastBuffer(ab, offset, len)`
 * makes a view without the argument juggling of `subarray` (7% of the 64-byte parse profile).
 */
export const FastBuffer = (
  Buffer as unknown as {
    [Symbol.species]: {
      new (ab: ArrayBufferLike, offset: number, length: number): Buffer;
      new (length: number): Buffer;
    };
  }
)[Symbol.species];

/** What the receiver calls. The Protocol implements it. */
export interface FrameHandler {
  deliverMessage(data: Buffer, isBinary: boolean): void;
  handlePing(payload: Buffer): void;
  handlePong(payload: Buffer): void;
  handleClose(payload: Buffer): void;
  handleViolation(error: ProtocolError): void;
}

export interface ReceiverOptions {
  /** Server role: frames from the peer must be masked. Client role: they must not be. */
  expectMasked: boolean;
  /** Maximum message size in bytes (after decompression); 0 = unlimited. */
  maxPayload: number;
  /** Maximum frames per message; 0 = unlimited. */
  maxFragments?: number;
  /** Maximum input chunks held for one unfinished frame; 0 = unlimited. */
  maxBufferedChunks?: number;
  skipUtf8Validation: boolean;
  extension: PerMessageExtension | null;
}

/** What onFrame knows of a text payload's validity (see onFrame). */
type TextCheck = 0 | 1 | 2;
const UNCHECKED: TextCheck = 0;
const FED: TextCheck = 1;
const ASCII: TextCheck = 2;

const HEADER = 0;
const PAYLOAD = 1;
const DISCARD = 2;

/**
 * Up to this length a payload copied out of borrowed input goes to a Buffer of its own (V8 keeps
 * typed arrays of at most 64 bytes on its heap) in one unmask-and-copy pass.
 */
const SHORT_COPY_MAX = 64;

/** Initial capacity of a fragmented message's buffer. */
const MESSAGE_INITIAL_CAPACITY = 1024;

/**
 * The largest message assembled, whatever maxPayload says: 4 GiB, the largest Buffer on Node 20
 * (Node 22 raised constants.MAX_LENGTH to 2^53 - 1, but no heap gives that). It is the limit
 * when maxPayload is 0 ("no limit"), and the same on every Node version, so a header claiming
 * more is 1009 at once, like any message above a limit (issue 12, hole 3: the length went to
 * Buffer.allocUnsafe, which threw inside the socket's 'data' handler). Frames above
 * FRAME_RESERVE_MAX no longer reserve their claimed length, so without this ceiling a claim
 * of 2^53 - 1 bytes would simply wait for bytes on Node 22.
 */
const MAX_BUFFER = Math.min(constants.MAX_LENGTH, 2 ** 32);

/**
 * The most a frame's buffer is given before its payload has arrived. A frame spanning reads is
 * assembled in one buffer; up to this length it is allocated whole at the first read (one
 * allocation, no copy: the 1 MiB echo benchmarks), a longer one starts at this size and doubles
 * as bytes arrive. Without the cap, a header claiming maxPayload (100 MiB) followed by one byte
 * reserved 100 MiB: 200 such connections held 20 GB of ArrayBuffers for 200 KB sent.
 */
export const FRAME_RESERVE_MAX = 1024 * 1024;

/**
 * Inflated bytes one connection may produce before it lets the event loop turn (issue 12, hole
 * 6): a 1 KB frame can inflate to 1 MiB, so without a bound one 64 KiB read could take the
 * thread for 64 MiB of zlib work while every other connection waits. The count goes on across
 * reads; when it runs out the receiver stops (sliceSpent) and the Node layer calls nextSlice()
 * after a turn of the event loop. zlib stops within one output chunk of it, mid-frame if need be.
 */
export const INFLATE_SLICE = 256 * 1024;

/**
 * The payload bytes a frame must still lack for directTarget to offer its buffer: below one
 * read of the shared buffer (64 KiB) a direct read saves nothing worth the switch.
 */
export const DIRECT_READ_MIN = 64 * 1024;

export class Receiver {
  private readonly handler: FrameHandler;
  private readonly expectMasked: boolean;
  /** The message size limit: maxPayload, or MAX_BUFFER when that is 0 or above it. */
  private readonly maxPayload: number;
  private readonly maxFragments: number;
  private readonly maxChunks: number;
  private readonly skipUtf8: boolean;
  private readonly ext: PerMessageExtension | null;

  private phase = HEADER;
  private paused = false;
  /** Chunks that ended inside the current frame (or wait while paused), for maxBufferedChunks. */
  private heldChunks = 0;
  /** The inflate budget of this slice ran out: input waits for nextSlice(). */
  private spent = false;
  /** The current frame's decompression was suspended by the budget (resumeDecompress goes on). */
  private inflating = false;
  /** Inflated bytes left in this slice. */
  private sliceLeft = INFLATE_SLICE;
  /**
   * Text of the frame being inflated that was UTF-8 checked while the frame was suspended: the
   * pieces of its output (extension.suspendedOutput) and their bytes; -1: none yet.
   */
  private fedPieces = 0;
  private fedBytes = -1;
  /** Input that arrived while paused or spent (or after either stopped the loop mid-chunk). */
  private pending: Buffer | null = null;
  /** Inside receive(chunk, true): the chunk's memory is reused after it (see receive). */
  private borrowed = false;
  /** The compressed frame being handed to onFrame is a view of borrowed input (detachInput). */
  private payloadBorrowed = false;

  // Partial header bytes (a header split across chunks); allocated on first need.
  private headerBuf: Buffer | null = null;
  private headerLen = 0;

  // The current frame.
  private fin = false;
  private opcode = 0;
  private masked = false;
  private length = 0;
  private received = 0;
  /** Incremental UTF-8 validation applies to this frame's raw payload pieces. */
  private validateRaw = false;
  private keyBuf: Uint8Array | null = null;
  private keyPos = 0;
  private ownKey: Uint8Array | null = null;
  private frameBuf: Buffer | null = null;

  // The current fragmented message (msgOpcode 0: none in progress).
  private msgOpcode = 0;
  private msgCompressed = false;
  /** Payload bytes of this message on the wire (compressed size if compressed). */
  private msgWire = 0;
  /** Data frames of this message so far, for maxFragments. */
  private msgFrames = 0;
  private msgBuf: Buffer | null = null;
  private msgLen = 0;
  private utf8: Utf8Validator | null = null;

  constructor(handler: FrameHandler, options: ReceiverOptions) {
    this.handler = handler;
    this.expectMasked = options.expectMasked;
    const max = options.maxPayload;
    this.maxPayload = max === 0 || max > MAX_BUFFER ? MAX_BUFFER : max;
    this.maxFragments = options.maxFragments ?? 0;
    this.maxChunks = options.maxBufferedChunks ?? 0;
    this.skipUtf8 = options.skipUtf8Validation;
    this.ext = options.extension;
  }

  /** True once input is being ignored (after a close frame, a violation or EOF). */
  get discarding(): boolean {
    return this.phase === DISCARD;
  }

  /** Ignore all further input and drop partial state. */
  discard(): void {
    this.phase = DISCARD;
    // Nothing waits for a slice any more: the I/O layer may read on (to see the end).
    this.spent = false;
    this.inflating = false;
    this.fedBytes = -1;
    this.pending = null;
    this.frameBuf = null;
    this.msgBuf = null;
  }

  /** Stop delivering after the current message; keep the rest for `resume`. */
  pause(): void {
    this.paused = true;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.proceed();
  }

  /** The inflate budget ran out: the caller should let the event loop turn, then call nextSlice(). */
  get sliceSpent(): boolean {
    return this.spent;
  }

  /** A new slice of inflate budget (the event loop has turned): go on with what is waiting. */
  nextSlice(): void {
    this.sliceLeft = INFLATE_SLICE;
    if (!this.spent) return;
    this.spent = false;
    this.proceed();
  }

  /**
   * A callback threw out of `receive` (user code: a 'message' listener, with the process kept
   * alive by an 'uncaughtException' handler): parse the input it left, from the frame after the
   * one being handed on. Nothing is lost or skipped: the next frame starts where that one ended.
   * Does nothing while paused or spent (resume and nextSlice go on with it then).
   */
  continueAfterThrow(): void {
    if (this.pending !== null) this.proceed();
  }

  /** Input a callback's throw left unparsed, waiting for continueAfterThrow (or the next receive). */
  get unparsedAfterThrow(): boolean {
    return this.pending !== null && !this.paused && !this.spent && this.phase !== DISCARD;
  }

  /** After a pause or a spent slice: finish a suspended frame, then parse the waiting input. */
  private proceed(): void {
    if (this.paused || this.spent || this.phase === DISCARD) return;
    if (this.inflating) {
      this.inflated(this.ext!.resumeDecompress(this.sliceLeft));
      if (this.paused || this.spent || this.phase === DISCARD) return;
    }
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      this.receive(pending);
    }
  }

  /**
   * Parse `chunk`. `borrowed`: the caller reuses the chunk's memory once this returns (a read
   * buffer shared by many sockets), so nothing may keep a view into it: payloads are handed on
   * as copies, and what waits for later (input while paused, a mask key) is copied too.
   */
  receive(chunk: Buffer, borrowed = false): void {
    if (this.phase === DISCARD) return;
    if (this.pending !== null && !this.paused && !this.spent) {
      // What a callback's throw left unparsed (parse) comes first.
      chunk = Buffer.concat([this.pending, chunk]);
      this.pending = null;
      borrowed = false;
    }
    // ws 8's maxBufferedChunks: the chunks a frame has been spread over so far (a peer sending
    // a frame a few bytes per packet), checked before taking another one.
    const max = this.maxChunks;
    if (max > 0 && this.heldChunks >= max) {
      this.violation('WS_ERR_TOO_MANY_BUFFERED_PARTS');
      return;
    }
    this.borrowed = borrowed;
    this.parse(chunk);
    this.borrowed = false;
    if (this.phase !== DISCARD && (this.phase === PAYLOAD || this.headerLen > 0 || this.pending !== null)) {
      this.heldChunks++;
    }
  }

  /**
   * Where the next read may go: a view of the current frame's buffer from the first byte not yet
   * received up to the end of what is allocated (at most the bytes the frame still lacks, so the
   * next frame's bytes stay with the I/O layer). Null unless inside the payload of an
   * uncompressed data frame that still lacks at least `min` bytes, with no input waiting and the
   * receiver neither paused, spent nor discarding. The view is valid until the next call to
   * `receive` or `receivedInPlace`; bytes written there are given with `receivedInPlace`.
   */
  directTarget(min = DIRECT_READ_MIN): Buffer | null {
    if (this.phase !== PAYLOAD || this.paused || this.spent || this.pending !== null) return null;
    const length = this.length;
    const from = this.received;
    // Compressed payloads are not the message (they go through the extension first).
    if (length - from < min || this.msgCompressed || this.opcode >= 0x8) return null;
    let fb = this.frameBuf;
    if (fb === null) {
      // The header ended with its read: the buffer parse would allocate with the next bytes.
      fb = allocate(Math.min(length, FRAME_RESERVE_MAX));
      if (fb === null) return null; // the next bytes meet the same failure in parse (1009)
      this.frameBuf = fb;
      if (this.masked) this.keepKey();
    } else if (from === fb.length) {
      // A frame above FRAME_RESERVE_MAX whose buffer is full of bytes that did arrive: grow it
      // as parse would (limits before allocation still hold: memory follows bytes received).
      const grown = allocate(Math.min(fb.length * 2, length));
      if (grown === null) return null;
      fb.copy(grown, 0, 0, from);
      this.frameBuf = fb = grown;
    }
    return new FastBuffer(fb.buffer, fb.byteOffset + from, fb.length - from);
  }

  /**
   * `n` bytes were written at the start of the last directTarget(): take them as the next bytes
   * of the payload. Throws a UsageRangeError (WS_ERR_DIRECT_READ_RANGE) if n is more than that target held (caller misuse).
   */
  receivedInPlace(n: number): void {
    if (this.phase === DISCARD) return; // the target's bytes are dropped with the frame
    const fb = this.frameBuf;
    const from = this.received;
    if (this.phase !== PAYLOAD || fb === null || n < 0 || from + n > fb.length || from + n > this.length) {
      throw new UsageRangeError(
        'WS_ERR_DIRECT_READ_RANGE',
        `receivedInPlace(${n}): no direct target holds that many bytes`,
      );
    }
    if (this.paused || this.spent || this.pending !== null) {
      // Paused since the target was offered: the bytes wait as input, in order, like any read.
      this.receive(new FastBuffer(fb.buffer, fb.byteOffset + from, n), true);
      return;
    }
    const max = this.maxChunks;
    if (max > 0 && this.heldChunks >= max) {
      this.violation('WS_ERR_TOO_MANY_BUFFERED_PARTS');
      return;
    }
    const to = from + n;
    if (this.masked) applyMask(fb, from, to, this.keyBuf!, this.keyPos, from & 3);
    if (this.validateRaw && !this.utf8!.feed(fb, from, to)) {
      this.violation('WS_ERR_INVALID_UTF8');
      return;
    }
    this.received = to;
    if (to === this.length) {
      this.frameBuf = null;
      this.phase = HEADER;
      this.onFrame(fb, this.validateRaw ? FED : UNCHECKED);
    } else {
      this.heldChunks++;
    }
  }

  private parse(chunk: Buffer): void {
    if (this.paused || this.spent) {
      this.pending =
        this.pending !== null
          ? Buffer.concat([this.pending, chunk])
          : this.borrowed
            ? Buffer.from(chunk)
            : chunk;
      return;
    }
    const end = chunk.length;
    let pos = 0;
    // Every callback below is made with `pos` already past its frame: when user code throws out
    // of one, the rest of the chunk is kept (keepUnparsed) instead of being lost with the stack,
    // which would leave the next chunk to be read from the middle of a frame.
    try {
      while (pos < end) {
        if (this.phase === HEADER) {
          if (this.headerLen === 0) {
            const size = this.decodeHeader(chunk, pos, end - pos);
            if (size < 0) return;
            if (size === 0) {
              this.stashHeader(chunk, pos, end);
              return;
            }
            pos += size;
          } else {
            // Complete a header begun in an earlier chunk.
            const had = this.headerLen;
            const take = Math.min(14 - had, end - pos);
            const hb = this.headerBuf!;
            chunk.copy(hb, had, pos, pos + take);
            const size = this.decodeHeader(hb, 0, had + take);
            if (size < 0) return;
            if (size === 0) {
              this.headerLen = had + take;
              return;
            }
            this.headerLen = 0;
            pos += size - had;
          }
          if (this.length === 0) {
            this.phase = HEADER;
            this.onFrame(EMPTY, UNCHECKED);
            if (this.stopped(chunk, pos)) return;
            continue;
          }
          this.phase = PAYLOAD;
          // The header ended exactly at the end of the chunk: the payload comes with the next one.
          if (pos === end) {
            if (this.borrowed && this.masked) this.keepKey();
            return;
          }
        }

        // PAYLOAD
        const length = this.length;
        if (this.received === 0 && end - pos >= length) {
          // The whole payload is in this chunk: a view, unmasked in place. A short text message
          // is checked for ASCII in the same pass (then it needs no UTF-8 validation).
          let checked: TextCheck = UNCHECKED;
          // A compressed data frame is inflated straight from borrowed input (unmasked in place:
          // those bytes are consumed); the extension copies what a suspended inflate leaves of it
          // (detachInput), so no payload copy is made per compressed frame.
          const inflateInPlace =
            this.borrowed && this.opcode < 0x8 && this.msgCompressed && this.ext?.detachInput !== undefined;
          if (this.borrowed && length <= SHORT_COPY_MAX && !inflateInPlace) {
            // Borrowed input, a short payload: copied out unmasked (and scanned) in one pass, into
            // a buffer V8 keeps on its own heap at this size (cheaper than a slice of Node's pool).
            const copy = new FastBuffer(length);
            const ascii = copyUnmaskShort(
              chunk,
              pos,
              pos + length,
              copy,
              this.masked ? this.keyBuf : null,
              this.keyPos,
            );
            pos += length;
            this.phase = HEADER;
            this.onFrame(
              copy,
              ascii && this.opcode === Opcode.TEXT && this.fin && !this.msgCompressed ? ASCII : UNCHECKED,
            );
            if (this.stopped(chunk, pos)) return;
            continue;
          }
          let unmaskOnCopy = false;
          if (this.masked) {
            if (
              length <= ASCII_SCAN_MAX &&
              this.opcode === Opcode.TEXT &&
              this.fin &&
              !this.msgCompressed &&
              !this.skipUtf8
            ) {
              checked = unmaskAscii(chunk, pos, pos + length, this.keyBuf!, this.keyPos) ? ASCII : UNCHECKED;
            } else if (this.borrowed && !inflateInPlace) {
              unmaskOnCopy = true; // straight into the copy below (one pass)
            } else {
              applyMask(chunk, pos, pos + length, this.keyBuf!, this.keyPos, 0);
            }
          }
          let payload: Buffer;
          if (unmaskOnCopy) {
            payload = Buffer.allocUnsafe(length);
            copyMasked(chunk, pos, pos + length, payload, 0, this.keyBuf!, this.keyPos, 0);
          } else if (this.borrowed && !inflateInPlace) {
            // The chunk is the I/O layer's to reuse: the payload leaves as a copy.
            payload = Buffer.allocUnsafe(length);
            chunk.copy(payload, 0, pos, pos + length);
          } else {
            payload = new FastBuffer(chunk.buffer, chunk.byteOffset + pos, length);
          }
          pos += length;
          this.phase = HEADER;
          this.payloadBorrowed = inflateInPlace;
          this.onFrame(payload, checked);
          if (this.stopped(chunk, pos)) return;
          continue;
        }
        let fb = this.frameBuf;
        if (fb === null) {
          // A frame up to FRAME_RESERVE_MAX gets its whole buffer now; a longer one starts there
          // and grows with what arrives (a declared length is a claim, not bytes received).
          fb = allocate(Math.min(length, FRAME_RESERVE_MAX));
          if (fb === null) {
            this.violation('WS_ERR_MESSAGE_TOO_BIG', 'out of memory');
            return;
          }
          this.frameBuf = fb;
          if (this.masked) this.keepKey();
        }
        const from = this.received;
        const take = Math.min(length - from, end - pos);
        if (from + take > fb.length) {
          // Only frames above FRAME_RESERVE_MAX get here.
          fb = this.growFrame(fb, from, from + take, length);
          if (fb === null) return;
        }
        if (this.masked) copyMasked(chunk, pos, pos + take, fb, from, this.keyBuf!, this.keyPos, from & 3);
        else chunk.copy(fb, from, pos, pos + take);
        pos += take;
        if (this.validateRaw && !this.utf8!.feed(fb, from, from + take)) {
          this.violation('WS_ERR_INVALID_UTF8');
          return;
        }
        this.received = from + take;
        if (this.received === length) {
          this.frameBuf = null;
          this.phase = HEADER;
          this.onFrame(fb, this.validateRaw ? FED : UNCHECKED);
          if (this.stopped(chunk, pos)) return;
        }
      }
    } catch (err) {
      this.keepUnparsed(chunk, pos);
      throw err;
    }
  }

  /** A callback threw out of parse: keep the chunk's bytes after `pos` for continueAfterThrow. */
  private keepUnparsed(chunk: Buffer, pos: number): void {
    if (this.phase === DISCARD || pos >= chunk.length) return;
    const rest = this.borrowed ? Buffer.from(chunk.subarray(pos)) : chunk.subarray(pos);
    this.pending = this.pending === null ? rest : Buffer.concat([rest, this.pending]);
  }

  /**
   * A frame above FRAME_RESERVE_MAX whose bytes outgrew its buffer: double it (at least to
   * `need`, at most to the frame's `length`), so memory follows the bytes received, not the
   * length the header claims, and the copies add up to less than the frame. Null after
   * reporting a violation when the heap cannot give the larger buffer.
   */
  private growFrame(fb: Buffer, used: number, need: number, length: number): Buffer | null {
    let cap = fb.length * 2;
    if (cap < need) cap = need;
    if (cap > length) cap = length;
    const grown = allocate(cap);
    if (grown === null) {
      this.violation('WS_ERR_MESSAGE_TOO_BIG', 'out of memory');
      return null;
    }
    fb.copy(grown, 0, 0, used);
    this.frameBuf = grown;
    return grown;
  }

  /**
   * The current frame's payload continues past this chunk: keep the mask key, which lives in the
   * chunk (or the header buffer), in our own 4 bytes.
   */
  private keepKey(): void {
    if (this.keyBuf === this.ownKey) return;
    if (this.ownKey === null) this.ownKey = new Uint8Array(4);
    const own = this.ownKey;
    const kb = this.keyBuf!;
    const kp = this.keyPos;
    own[0] = kb[kp];
    own[1] = kb[kp + 1];
    own[2] = kb[kp + 2];
    own[3] = kb[kp + 3];
    this.keyBuf = own;
    this.keyPos = 0;
  }

  /** After a callback: stop the loop if input is now discarded, the receiver paused or spent. */
  private stopped(chunk: Buffer, pos: number): boolean {
    if (this.phase === DISCARD) return true;
    if (this.paused || this.spent) {
      if (pos < chunk.length) {
        this.pending = this.borrowed ? Buffer.from(chunk.subarray(pos)) : chunk.subarray(pos);
      }
      return true;
    }
    return false;
  }

  private stashHeader(chunk: Buffer, pos: number, end: number): void {
    if (this.headerBuf === null) this.headerBuf = Buffer.allocUnsafe(14);
    const hb = this.headerBuf;
    chunk.copy(hb, 0, pos, end);
    this.headerLen = end - pos;
  }

  private violation(code: PeerViolation, detail?: string | number): void {
    this.handler.handleViolation(peerError(code, detail));
  }

  /**
   * Decode and validate a frame header at buf[at..at+avail). Returns its size, 0 if more bytes
   * are needed, or -1 after reporting a violation.
   */
  private decodeHeader(buf: Uint8Array, at: number, avail: number): number {
    if (avail < 2) return 0;
    const b0 = buf[at];
    const b1 = buf[at + 1];
    const len7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    const size = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (masked ? 4 : 0);
    if (avail < size) return 0;

    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    // RFC 6455 5.2: "MUST be 0 unless an extension is negotiated that defines meanings for
    // non-zero values. If a nonzero value is received and none of the negotiated extensions
    // defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
    // WebSocket Connection_."
    // The checks run in ws 8's order, so a frame broken in two ways is reported as ws reports it.
    if ((b0 & 0x30) !== 0) return this.fail('WS_ERR_UNEXPECTED_RSV_2_3');
    if (rsv1 && this.ext === null) return this.fail('WS_ERR_UNEXPECTED_RSV_1');
    if (opcode === Opcode.CONTINUATION) {
      // RFC 7692 6.1: RSV1 only on the first frame of a message
      if (rsv1) return this.fail('WS_ERR_UNEXPECTED_RSV_1');
      // RFC 6455 5.4: a continuation frame only continues a fragmented message
      if (this.msgOpcode === 0) return this.fail('WS_ERR_UNEXPECTED_CONTINUATION', opcode);
    } else if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
      // "the fragments of one message MUST NOT be interleaved between the fragments of another"
      if (this.msgOpcode !== 0) return this.fail('WS_ERR_EXPECTED_CONTINUATION', opcode);
    } else if (opcode >= 0x8 && opcode <= 0xa) {
      // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less and
      // MUST NOT be fragmented."
      if (!fin) return this.fail('WS_ERR_FRAGMENTED_CONTROL');
      // RFC 7692 6.1: RSV1 only on the first frame of a data message
      if (rsv1) return this.fail('WS_ERR_UNEXPECTED_RSV_1');
      // RFC 6455 5.5.1: a close payload is empty or starts with a 2-byte status code.
      if (len7 > MAX_CONTROL_PAYLOAD || (opcode === Opcode.CLOSE && len7 === 1)) {
        return this.fail('WS_ERR_CONTROL_TOO_LONG', len7);
      }
    } else {
      return this.fail('WS_ERR_INVALID_OPCODE', opcode);
    }
    // RFC 6455 5.1: "a client MUST mask all frames that it sends to the server"; "The server
    // MUST close the connection upon receiving a frame that is not masked." and "A server MUST
    // NOT mask any frames that it sends to the client. A client MUST close a connection if it
    // detects a masked frame."
    if (masked !== this.expectMasked) {
      return this.fail(masked ? 'WS_ERR_UNEXPECTED_MASK' : 'WS_ERR_EXPECTED_MASK');
    }

    let length = len7;
    if (len7 === 126) {
      length = (buf[at + 2] << 8) | buf[at + 3];
      // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length"
      if (length < 126) return this.fail('WS_ERR_NON_MINIMAL_LENGTH');
    } else if (len7 === 127) {
      const hi = ((buf[at + 2] << 24) | (buf[at + 3] << 16) | (buf[at + 4] << 8) | buf[at + 5]) >>> 0;
      const lo = ((buf[at + 6] << 24) | (buf[at + 7] << 16) | (buf[at + 8] << 8) | buf[at + 9]) >>> 0;
      // Above 2^53 - 1 a length is not exact in a JS number: too big (1009). RFC 6455 5.2: "the
      // most significant bit MUST be 0"; with it set the header is invalid (1002).
      if (hi > 0x1fffff) {
        return this.fail(hi >= 0x80000000 ? 'WS_ERR_LENGTH_MSB' : 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH');
      }
      length = hi * 0x100000000 + lo;
      if (length < 0x10000) return this.fail('WS_ERR_NON_MINIMAL_LENGTH');
    }

    if (opcode < 0x8) {
      // Limits before allocation: the message so far plus this frame.
      const wire = (opcode === Opcode.CONTINUATION ? this.msgWire : 0) + length;
      if (wire > this.maxPayload) {
        return this.fail(
          'WS_ERR_MESSAGE_TOO_BIG',
          wire > MAX_BUFFER ? 'larger than a Buffer can hold' : undefined,
        );
      }
      this.msgWire = wire;
      // ws 8's maxFragments: counted before the frame's payload is read (limits before allocation).
      const frames = (opcode === Opcode.CONTINUATION ? this.msgFrames : 0) + 1;
      if (this.maxFragments > 0 && frames > this.maxFragments) return this.fail('WS_ERR_TOO_MANY_FRAGMENTS');
      this.msgFrames = frames;
      const compressed = opcode === Opcode.CONTINUATION ? this.msgCompressed : rsv1;
      const isText =
        opcode === Opcode.TEXT || (opcode === Opcode.CONTINUATION && this.msgOpcode === Opcode.TEXT);
      if (opcode === Opcode.TEXT) this.utf8?.reset();
      // Raw pieces of a frame that spans chunks are validated as they arrive (fail fast).
      this.validateRaw = isText && !compressed && !this.skipUtf8;
      if (opcode !== Opcode.CONTINUATION) this.msgCompressed = rsv1;
    } else {
      this.validateRaw = false;
    }
    if (this.validateRaw && this.utf8 === null) this.utf8 = new Utf8Validator();

    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.length = length;
    this.received = 0;
    if (masked) {
      this.keyBuf = buf;
      this.keyPos = at + size - 4;
    }
    return size;
  }

  private fail(code: PeerViolation, detail?: string | number): -1 {
    this.violation(code, detail);
    return -1;
  }

  /**
   * A complete frame. `checked`: what is known of its text already (UNCHECKED; FED: its raw
   * bytes went through the incremental UTF-8 validator piece by piece; ASCII: all below 0x80).
   */
  private onFrame(payload: Buffer, checked: TextCheck): void {
    this.heldChunks = 0;
    const opcode = this.opcode;
    if (opcode >= 0x8) {
      if (opcode === Opcode.PING) this.handler.handlePing(payload);
      else if (opcode === Opcode.PONG) this.handler.handlePong(payload);
      else this.handler.handleClose(payload);
      return;
    }
    if (opcode !== Opcode.CONTINUATION && !this.fin) {
      this.msgOpcode = opcode;
      this.msgLen = 0;
    }
    if (this.msgCompressed) {
      this.fedPieces = 0;
      this.fedBytes = -1;
      const out = this.ext!.decompress(payload, this.fin, this.maxPayload, this.sliceLeft);
      if (out === null && this.payloadBorrowed) this.ext!.detachInput!();
      this.payloadBorrowed = false;
      this.inflated(out);
      return;
    }
    this.frameData(payload, checked);
  }

  /** What the extension made of a compressed frame's payload (null: suspended by the budget). */
  private inflated(out: Buffer | ProtocolError | null): void {
    this.sliceLeft -= this.ext!.inflated;
    if (out === null) {
      this.inflating = true;
      this.spent = true;
      // RFC 6455 8.1 fail-fast for a large compressed text frame too: the slice inflated so far
      // is checked now, not once the whole frame (up to maxPayload) has been inflated.
      if (this.inflatingText()) this.feedSuspended();
      return;
    }
    this.inflating = false;
    if (out instanceof ProtocolError) {
      this.handler.handleViolation(out);
      return;
    }
    let checked: TextCheck = UNCHECKED;
    const fed = this.fedBytes;
    if (fed >= 0) {
      // Checked up to `fed` while suspended: the validator goes on with the rest only.
      this.fedBytes = -1;
      if (!this.utf8!.feed(out, fed, out.length)) {
        this.violation('WS_ERR_INVALID_UTF8');
        return;
      }
      checked = FED;
    }
    // Budget spent with the frame done: deliver it, then stop before the next frame.
    if (this.sliceLeft <= 0) this.spent = true;
    this.frameData(out, checked);
  }

  /** The frame being inflated belongs to a text message whose UTF-8 is checked. */
  private inflatingText(): boolean {
    if (this.skipUtf8) return false;
    const opcode = this.opcode;
    return opcode === Opcode.TEXT || (opcode === Opcode.CONTINUATION && this.msgOpcode === Opcode.TEXT);
  }

  /** Feed the validator what a suspended frame has produced since the last call. */
  private feedSuspended(): void {
    const pieces = this.ext!.suspendedOutput;
    if (pieces === undefined) return;
    if (this.utf8 === null) this.utf8 = new Utf8Validator();
    const v = this.utf8;
    if (this.fedBytes < 0) {
      // The frame's first check: a new message starts a new validation (as utf8FeedAll does).
      if (this.msgLen === 0 && this.msgBuf === null) v.reset();
      this.fedBytes = 0;
    }
    for (let i = this.fedPieces; i < pieces.length; i++) {
      const piece = pieces[i];
      if (!v.feed(piece, 0, piece.length)) {
        this.violation('WS_ERR_INVALID_UTF8');
        return;
      }
      this.fedBytes += piece.length;
    }
    this.fedPieces = pieces.length;
  }

  /**
   * A data frame's payload, decompressed: a whole message in one frame is delivered, a fragment
   * is added to its message (delivered with the last one). `checked`: see onFrame.
   */
  private frameData(payload: Buffer, checked: TextCheck): void {
    const opcode = this.opcode;
    const fin = this.fin;
    if (opcode !== Opcode.CONTINUATION && fin) {
      // A whole message in one frame: the common case.
      const data = payload;
      const isBinary = opcode === Opcode.BINARY;
      // RFC 6455 8.1: a text message that is not valid UTF-8 MUST fail the connection
      if (!isBinary && !this.skipUtf8) {
        const valid = checked === ASCII || (checked === FED ? this.utf8!.isComplete() : isValidUtf8(data));
        if (!valid) {
          this.violation('WS_ERR_INVALID_UTF8');
          return;
        }
      }
      this.msgWire = 0;
      this.msgCompressed = false;
      this.handler.deliverMessage(data, isBinary);
      return;
    }
    const isText = this.msgOpcode === Opcode.TEXT && !this.skipUtf8;
    const data = payload;
    if (this.msgCompressed) {
      if (isText && checked !== FED && !this.utf8FeedAll(data)) return;
    } else if (isText && checked !== FED && !this.utf8!.feed(data, 0, data.length)) {
      this.violation('WS_ERR_INVALID_UTF8');
      return;
    }
    if (!this.append(data)) {
      this.violation('WS_ERR_MESSAGE_TOO_BIG', 'out of memory');
      return;
    }
    if (!fin) return;
    if (isText && !this.utf8!.isComplete()) {
      this.violation('WS_ERR_INVALID_UTF8');
      return;
    }
    const message = this.msgBuf === null ? EMPTY : this.msgBuf.subarray(0, this.msgLen);
    const isBinary = this.msgOpcode === Opcode.BINARY;
    this.msgBuf = null;
    this.msgLen = 0;
    this.msgOpcode = 0;
    this.msgWire = 0;
    this.msgCompressed = false;
    this.handler.deliverMessage(message, isBinary);
  }

  /** Validate decompressed text (the validator is created on demand for compressed text). */
  private utf8FeedAll(data: Buffer): boolean {
    if (this.utf8 === null) this.utf8 = new Utf8Validator();
    const v = this.utf8;
    if (this.msgLen === 0 && this.msgBuf === null) v.reset();
    if (v.feed(data, 0, data.length)) return true;
    this.violation('WS_ERR_INVALID_UTF8');
    return false;
  }

  /**
   * Append a fragment's data to the message buffer, growing it geometrically. False if the
   * heap could not give the larger buffer.
   */
  private append(data: Buffer): boolean {
    const n = data.length;
    if (n === 0) {
      if (this.msgBuf === null) this.msgBuf = Buffer.allocUnsafe(0);
      return true;
    }
    const need = this.msgLen + n;
    let buf = this.msgBuf;
    if (buf === null || buf.length < need) {
      let cap = buf === null ? Math.max(MESSAGE_INITIAL_CAPACITY, n) : buf.length * 2;
      if (cap < need) cap = need;
      if (cap > this.maxPayload) cap = Math.max(need, this.maxPayload);
      const grown = allocate(cap);
      if (grown === null) return false;
      if (buf !== null) buf.copy(grown, 0, 0, this.msgLen);
      this.msgBuf = buf = grown;
    }
    data.copy(buf, this.msgLen);
    this.msgLen = need;
    return true;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Buffer.allocUnsafe(length), or null when the heap cannot give that much: a length a Buffer
 * may hold can still be more memory than there is (with maxPayload 0, or on a Node whose Buffers
 * may exceed 4 GiB), and that is the peer's message being too big (1009), never a throw.
 */
function allocate(length: number): Buffer | null {
  try {
    return Buffer.allocUnsafe(length);
  } catch {
    return null;
  }
}
