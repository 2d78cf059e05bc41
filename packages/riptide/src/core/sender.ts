/**
 * Outgoing frames: turn a payload into the bytes of one frame, pushed onto an output list.
 *
 * The output list is what the Node layer writes in one go (one syscall per tick and socket), so
 * this file decides the vectors:
 *   - small payloads and strings: header and payload in ONE buffer (one allocation from Node's
 *     buffer pool, one vector);
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

/**
 * Frame `data` and push it onto `out`. `random` is null for unmasked (server) frames.
 * Returns the number of bytes pushed.
 */
export function pushFrame(
  out: Buffer[],
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  data: Buffer,
  random: RandomFill | null,
): number {
  const len = data.length;
  const masked = random !== null;
  const hsize = headerSize(len, masked);
  if (!masked && len > COPY_THRESHOLD) {
    const header = Buffer.allocUnsafe(hsize);
    writeHeader(header, 0, opcode, fin, rsv1, len, false);
    out.push(header, data);
    return hsize + len;
  }
  const buf = Buffer.allocUnsafe(hsize + len);
  let o = writeHeader(buf, 0, opcode, fin, rsv1, len, masked);
  if (masked) {
    random(buf, o, 4);
    o += 4;
  }
  data.copy(buf, o);
  if (masked) applyMask(buf, o, o + len, buf, o - 4, 0);
  out.push(buf);
  return hsize + len;
}

/** Frame a string as UTF-8 without an intermediate buffer. Returns the number of bytes pushed. */
export function pushStringFrame(
  out: Buffer[],
  opcode: number,
  fin: boolean,
  data: string,
  random: RandomFill | null,
): number {
  const len = Buffer.byteLength(data);
  const masked = random !== null;
  const hsize = headerSize(len, masked);
  const buf = Buffer.allocUnsafe(hsize + len);
  let o = writeHeader(buf, 0, opcode, fin, false, len, masked);
  if (masked) {
    random(buf, o, 4);
    o += 4;
  }
  buf.write(data, o, 'utf8');
  if (masked) applyMask(buf, o, o + len, buf, o - 4, 0);
  out.push(buf);
  return hsize + len;
}

/**
 * Frame a whole unmasked message once, for many receivers (pub/sub). Returns the vectors; the
 * same buffers may be queued on any number of server-side connections.
 */
export function frameForBroadcast(opcode: number, data: Buffer | string, rsv1 = false): Buffer[] {
  const out: Buffer[] = [];
  if (typeof data === 'string') pushStringFrame(out, opcode, true, data, null);
  else pushFrame(out, opcode, true, rsv1, data, null);
  return out;
}
