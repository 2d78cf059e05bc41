// Where the client's close frame ends, for the raw reflector (raw-net.mjs), which passes every
// byte through and must still notice the close frame among them.
//
// A byte pattern is not enough: a read can start anywhere inside a frame, and the payload bytes
// of client frames are masked with a random key, so a read that happens to begin with 0x88
// followed by a plausible length byte is no evidence of a close frame. Instead the tracker
// follows the frame boundaries: at each frame's start it reads the header (opcode, length; the
// payload is neither unmasked nor copied) and skips the payload. Per read this costs
//   - inside a frame's payload (the usual case for large messages): one comparison and one
//     subtraction;
//   - per frame that starts in the read: a few byte reads of its 2-14 header bytes;
//   - a header split across reads (rare): its first bytes, at most 13, are kept until the
//     next read completes it.
// The state lives on the object passed in (the socket), under two symbol keys, set at the first
// read; nothing is allocated per read unless a header is split.

// Bytes of the current frame still to come in later reads (0: the next read starts with a
// header); negative when that frame is the close frame (minus the bytes still to come).
const SKIP = Symbol('skip');
// The first bytes of a header that the last read cut short, or undefined.
const PARTIAL = Symbol('partialHeader');

/** The longest frame header: 2 bytes, 8 of extended length, 4 of mask. */
const MAX_HEADER = 14;

/**
 * The frame at `pos` in `buf`: its total length (header + payload), or -1 when the header is
 * not complete in `buf`.
 */
function frameLength(buf, pos) {
  const avail = buf.length - pos;
  if (avail < 2) return -1;
  const second = buf[pos + 1];
  const mask = second & 0x80 ? 4 : 0;
  const len = second & 0x7f;
  if (len < 126) return avail < 2 + mask ? -1 : 2 + mask + len;
  if (len === 126) return avail < 4 + mask ? -1 : 4 + mask + buf.readUInt16BE(pos + 2);
  if (avail < 10 + mask) return -1;
  return 10 + mask + buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6);
}

/**
 * A close frame that ends at `end` (past `chunk` when it goes on in later reads): the offset
 * just past it when it ends in this read, else -1 with the bytes still to come recorded.
 */
function closeAt(state, chunk, end) {
  if (end <= chunk.length) return end;
  state[SKIP] = chunk.length - end;
  return -1;
}

/**
 * Feed the next read of a connection's byte stream (after the opening handshake). Returns the
 * offset in `chunk` just past the end of the client's close frame once that frame is complete,
 * else -1. `state` is any object (the reflector passes the socket); it carries the position
 * between reads.
 */
export function closeFrameEnd(state, chunk) {
  const skip = state[SKIP] ?? 0;
  if (skip >= chunk.length) {
    // Inside a frame's payload, which goes on past this read.
    state[SKIP] = skip - chunk.length;
    return -1;
  }
  if (skip < 0) {
    // The rest of the close frame.
    if (-skip <= chunk.length) return -skip;
    state[SKIP] = skip + chunk.length;
    return -1;
  }
  let pos = skip;
  const partial = state[PARTIAL];
  if (partial !== undefined) {
    // The header began in an earlier read: complete it with this read's first bytes.
    const head = Buffer.concat([partial, chunk.subarray(0, MAX_HEADER - partial.length)]);
    const total = frameLength(head, 0);
    if (total === -1) {
      state[PARTIAL] = head;
      return -1;
    }
    state[PARTIAL] = undefined;
    pos = total - partial.length;
    if ((head[0] & 0x0f) === 0x8) return closeAt(state, chunk, pos);
  }
  while (pos < chunk.length) {
    const total = frameLength(chunk, pos);
    if (total === -1) {
      state[PARTIAL] = Buffer.from(chunk.subarray(pos));
      state[SKIP] = 0;
      return -1;
    }
    const end = pos + total;
    if ((chunk[pos] & 0x0f) === 0x8) return closeAt(state, chunk, end);
    pos = end;
  }
  state[SKIP] = pos - chunk.length;
  return -1;
}
