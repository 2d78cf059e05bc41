import type { ProtocolError } from './errors.js';

/** A negotiated per-message extension for ONE connection (RFC 6455 9, RFC 7692). Synchronous. */
export interface PerMessageExtension {
  /** Decompress one frame's payload of a message whose first frame had RSV1. `fin` marks the last
   *  frame (then the 00 00 ff ff tail is appended and, without context takeover, the context reset).
   *  Must stop inflating as soon as this MESSAGE's total output would exceed `limit` bytes (0 = no
   *  limit) and return ProtocolError('WS_ERR_MESSAGE_TOO_BIG'); corrupt data -> ProtocolError('WS_ERR_INVALID_COMPRESSED_DATA').
   *  `budget` (default: none) bounds the output of this call: once it has produced that much with
   *  more to come it returns null, keeps the rest of `data` (which must stay valid, unless the
   *  caller then calls detachInput), and the frame is finished by resumeDecompress() calls, later,
   *  before any other decompress(). The result never refers to `data`'s memory. */
  decompress(data: Buffer, fin: boolean, limit: number, budget?: number): Buffer | ProtocolError | null;
  /**
   * After decompress() returned null: the `data` it was given is about to be reused (a read
   * buffer), so keep a copy of what is left of it. Optional: without it the receiver copies every
   * compressed payload out of its read buffer before decompress().
   */
  detachInput?(): void;
  /** Go on with a frame a decompress() call suspended (null again: the new budget ran out too). */
  resumeDecompress(budget?: number): Buffer | ProtocolError | null;
  /** Output bytes the last decompress() or resumeDecompress() call produced (for the budget). */
  readonly inflated: number;
  /**
   * While a frame is suspended (decompress() or resumeDecompress() returned null): the output it
   * has produced so far, in order, as pieces that do not change (the frame's Buffer, once done,
   * holds the same bytes). Optional: the receiver checks text as it is inflated with it, so invalid
   * UTF-8 fails the connection in the slice that produced it, not after the whole frame.
   */
  readonly suspendedOutput?: readonly Buffer[];
  /**
   * Compress a whole message; null = send it uncompressed (e.g. below threshold). Tail removed.
   * The result (of compressFirst and compressNext too) is valid only until the next compress
   * call on any connection (it may be a view of shared scratch memory): the caller copies it
   * into the frame before anything else runs, and never writes to it.
   */
  compress(data: Buffer, isBinary: boolean): Buffer | null;
  /**
   * Compress a large message in slices, one per event-loop turn (protocol.ts DEFLATE_SLICE):
   * compressFirst() compresses the first `slice` input bytes and returns the first frame's
   * payload (null = send the message uncompressed); compressNext() each following slice, while
   * compressLeft > 0; the last one has the tail removed. null from compressNext(): the
   * compressor failed, the message cannot be finished. No other compress call in between.
   */
  compressFirst(data: Buffer, isBinary: boolean, slice: number): Buffer | null;
  compressNext(slice: number): Buffer | null;
  /** Input bytes of the message being compressed in slices not compressed yet (0: none). */
  readonly compressLeft: number;
  /** Give up the message being compressed in slices (the connection is closing). */
  cancelCompress(): void;
  /** Release zlib resources (connection closed). */
  close(): void;
}
