/**
 * Outgoing frames: turn a payload into the bytes of one frame, pushed onto an output list.
 *
 * The output list is what the Node layer writes in one go (one syscall per tick and socket), so
 * this file decides the vectors:
 *   - small frames (header and payload up to SLAB_FRAME_MAX bytes): written one after the other
 *     into a shared slab, so the frames one connection queues in a row form ONE vector (see
 *     "Slab runs" below);
 *   - large unmasked payloads: a small header buffer, then the caller's buffer itself (no copy);
 *   - masked frames (client role): always one new buffer, since masking must not touch the
 *     caller's data.
 *
 * RFC 6455 5.3: "The masking key is a 32-bit value chosen at random by the client"; "The
 * masking key needs to be unpredictable". The core takes no randomness of its own: `RandomFill`
 * is supplied by the caller (the Node layer passes a pooled crypto.randomFillSync).
 */
import { headerSize, writeHeader } from './frame.js';
import { applyMask } from './mask.js';

/** Fill `length` bytes of `target` from `offset` with unpredictable bytes. */
export type RandomFill = (target: Buffer, offset: number, length: number) => void;

/** Unmasked payloads up to this size are copied next to their header. */
export const COPY_THRESHOLD = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Slab runs
//
// A server answering 10 small messages from one read used to allocate 10 frame Buffers, which
// the Node layer then joined with Buffer.concat (an 11th allocation and a second copy). Small
// frames are instead written straight into a shared slab. The frames one output list receives
// in a row occupy consecutive bytes, "the open run", which becomes ONE Buffer (a view of the
// slab) only when that list is read (`closeRun`, called by Protocol.takeOutput), when anything
// else is pushed onto it, or when another list starts writing into the slab. Regions of a slab
// are never reused, so a view handed to a socket stays valid; a slab is freed when its last view
// is. Only one run is open at a time (module state, like Node's own buffer pool), so no
// connection carries any extra field for this.
//
//   slab: [ run of list A (sealed) | run of list B (sealed) | open run of list A ... | free ]

/** Frames up to this size (header + payload) are written into the slab. */
const SLAB_FRAME_MAX = 2048;
/** Bytes per slab: a small run pins at most this much while its write is pending. */
const SLAB_SIZE = 16 * 1024;

let slab: Buffer | null = null;
let slabUsed = 0;
/** The output list whose open run ends at slabUsed, or null. */
let runOut: Buffer[] | null = null;
let runStart = 0;

function sealOpenRun(): void {
  const out = runOut!;
  runOut = null;
  out.push(slab!.subarray(runStart, slabUsed));
}

/** Push `out`'s open run (if it has one) onto `out` as one Buffer. Call before reading `out`. */
export function closeRun(out: Buffer[]): void {
  if (runOut === out) sealOpenRun();
}

/**
 * Room for `n` bytes at the end of `out`'s open run (a new run, and a new slab, when needed):
 * returns the offset in `slab` to write them at; `slabUsed` has already moved past them.
 */
function reserve(out: Buffer[], n: number): number {
  if (runOut !== null && (runOut !== out || SLAB_SIZE - slabUsed < n)) sealOpenRun();
  if (slab === null || SLAB_SIZE - slabUsed < n) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabUsed = 0;
  }
  if (runOut === null) {
    runOut = out;
    runStart = slabUsed;
  }
  const at = slabUsed;
  slabUsed = at + n;
  return at;
}

/**
 * Frame `data` and push it onto `out`. `random` is null for unmasked (server) frames.
 * `transient`: `data` is valid only during this call (compressed output in shared scratch
 * memory, PerMessageExtension.compress), so it is copied whatever its size.
 * Returns the number of bytes pushed.
 */
export function pushFrame(
  out: Buffer[],
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  data: Buffer,
  random: RandomFill | null,
  transient = false,
): number {
  const len = data.length;
  const masked = random !== null;
  const hsize = headerSize(len, masked);
  if (!masked && len > COPY_THRESHOLD && !transient) {
    // The header joins the open run; the payload follows as its own vector.
    const at = reserve(out, hsize);
    writeHeader(slab!, at, opcode, fin, rsv1, len, false);
    sealOpenRun();
    out.push(data);
    return hsize + len;
  }
  return writeFrame(out, opcode, fin, rsv1, data, len, random);
}

/** Frame a string as UTF-8 without an intermediate buffer. Returns the number of bytes pushed. */
export function pushStringFrame(
  out: Buffer[],
  opcode: number,
  fin: boolean,
  data: string,
  random: RandomFill | null,
): number {
  return writeFrame(out, opcode, fin, false, data, Buffer.byteLength(data), random);
}

/**
 * Header, masking key and the `len` bytes of `data` (a Buffer, or a string as UTF-8), in the
 * open run of `out` when small enough, else in a Buffer of their own pushed onto `out`.
 */
function writeFrame(
  out: Buffer[],
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  data: Buffer | string,
  len: number,
  random: RandomFill | null,
): number {
  const masked = random !== null;
  const size = headerSize(len, masked) + len;
  let buf: Buffer;
  let o: number;
  if (size <= SLAB_FRAME_MAX) {
    o = reserve(out, size);
    buf = slab!;
  } else {
    closeRun(out);
    buf = Buffer.allocUnsafe(size);
    o = 0;
  }
  o = writeHeader(buf, o, opcode, fin, rsv1, len, masked);
  if (masked) {
    random(buf, o, 4);
    o += 4;
  }
  if (typeof data === 'string') buf.write(data, o, 'utf8');
  else data.copy(buf, o);
  if (masked) applyMask(buf, o, o + len, buf, o - 4, 0);
  if (size > SLAB_FRAME_MAX) out.push(buf);
  return size;
}

/**
 * Frame a whole unmasked message once, for many receivers (pub/sub). Returns the vectors; the
 * same buffers may be queued on any number of server-side connections.
 */
export function frameForBroadcast(opcode: number, data: Buffer | string, rsv1 = false): Buffer[] {
  const out: Buffer[] = [];
  if (typeof data === 'string') pushStringFrame(out, opcode, true, data, null);
  else pushFrame(out, opcode, true, rsv1, data, null);
  closeRun(out);
  return out;
}
