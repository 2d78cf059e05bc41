/**
 * UTF-8 validation (RFC 3629 section 4; RFC 6455 8.1: "When an endpoint is to interpret a byte
 * stream as UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream, that
 * endpoint MUST _Fail the WebSocket Connection_").
 *
 * Two ways in:
 * - `isValidUtf8(buf)`: a whole message at hand; Node's native `buffer.isUtf8`.
 * - `Utf8Validator`: a message that arrives in pieces (fragments, or one frame over several
 *   chunks). It fails fast: `feed` returns false at the first piece holding an invalid byte, so the
 *   connection closes with 1007 right then, not at the end of the message. The bulk of each piece
 *   still goes through the native check; only a code point split between pieces (at most 3 bytes
 *   on each side) walks the byte-level state machine below.
 *
 * Well-formed sequences (Unicode Table 3-7):
 *   00..7F
 *   C2..DF 80..BF
 *   E0     A0..BF 80..BF
 *   E1..EC 80..BF 80..BF
 *   ED     80..9F 80..BF        (no surrogates)
 *   EE..EF 80..BF 80..BF
 *   F0     90..BF 80..BF 80..BF
 *   F1..F3 80..BF 80..BF 80..BF
 *   F4     80..8F 80..BF 80..BF (nothing above U+10FFFF)
 */
import { isUtf8 } from 'node:buffer';
import { wordView } from './word-view.js';

/** Pieces shorter than this are walked byte by byte (no native call, no view allocation). */
const NATIVE_THRESHOLD = 64;

/** Up to this length an ASCII scan in JS beats the call into the native validator. */
export const ASCII_SCAN_MAX = 256;

export function isValidUtf8(buf: Uint8Array): boolean {
  if (buf.length <= ASCII_SCAN_MAX && isAscii(buf)) return true;
  return isUtf8(buf);
}

/** All bytes below 0x80? Scanned a 32-bit word at a time where aligned. */
function isAscii(buf: Uint8Array): boolean {
  const len = buf.length;
  let i = 0;
  if (len >= 16) {
    while (((buf.byteOffset + i) & 3) !== 0) {
      if (buf[i] >= 0x80) return false;
      i++;
    }
    const view = wordView(buf.buffer);
    let w = (buf.byteOffset + i) >>> 2;
    const words = (len - i) >>> 2;
    const last = w + words;
    let acc = 0;
    for (; w < last; w++) acc |= view[w];
    if ((acc & 0x80808080) !== 0) return false;
    i += words << 2;
  }
  for (; i < len; i++) if (buf[i] >= 0x80) return false;
  return true;
}

/** Length of the sequence a lead byte starts, or 0 for a byte that cannot lead. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc2) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 0;
}

export class Utf8Validator {
  /** Continuation bytes still expected for the current code point. */
  private need = 0;
  /** Allowed range of the next continuation byte. */
  private lo = 0x80;
  private hi = 0xbf;

  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  /** True when the bytes fed so far end on a code point boundary. */
  isComplete(): boolean {
    return this.need === 0;
  }

  /** Validate `buf[start, end)`, continuing the previous piece. False: invalid (stop). */
  feed(buf: Uint8Array, start: number, end: number): boolean {
    let i = start;
    // Finish a code point begun in an earlier piece.
    while (this.need > 0 && i < end) {
      if (!this.continuation(buf[i])) return false;
      i++;
    }
    if (i === end) return true;
    if (end - i < NATIVE_THRESHOLD) return this.walk(buf, i, end);
    // Find where a code point cut off by the end of this piece starts.
    let k = end - 1;
    let back = 0;
    while (k > i && back < 3 && (buf[k] & 0xc0) === 0x80) {
      k--;
      back++;
    }
    const len = sequenceLength(buf[k]);
    const tail = len > end - k ? k : end;
    if (tail > i && !isUtf8(buf.subarray(i, tail))) return false;
    return tail === end || this.walk(buf, tail, end);
  }

  private continuation(b: number): boolean {
    if (b < this.lo || b > this.hi) return false;
    this.lo = 0x80;
    this.hi = 0xbf;
    this.need--;
    return true;
  }

  private walk(buf: Uint8Array, start: number, end: number): boolean {
    for (let i = start; i < end; i++) {
      const b = buf[i];
      if (this.need > 0) {
        if (!this.continuation(b)) return false;
        continue;
      }
      if (b < 0x80) continue;
      const len = sequenceLength(b);
      if (len === 0) return false;
      this.need = len - 1;
      if (b === 0xe0) this.lo = 0xa0;
      else if (b === 0xed) this.hi = 0x9f;
      else if (b === 0xf0) this.lo = 0x90;
      else if (b === 0xf4) this.hi = 0x8f;
    }
    return true;
  }
}
