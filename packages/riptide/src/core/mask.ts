/**
 * Masking (RFC 6455 5.3), in place, a 32-bit word at a time.
 *
 *   "Octet i of the transformed data ("transformed-octet-i") is the XOR of octet i of the
 *    original data ("original-octet-i") with octet at index i modulo 4 of the masking key"
 *
 * Masking and unmasking are the same operation. A payload that arrives in several chunks is
 * unmasked piece by piece: `phase` is the index into the key of the piece's first byte.
 *
 * Word-at-a-time: the bytes before the first 4-byte-aligned address are done one by one; the
 * aligned middle through an Int32Array view with the key rotated to that alignment (Int32 rather
 * than Uint32: XOR yields an int32, which V8 stores without a conversion; with the 8-way unrolled
 * loop this measured about twice as fast as a Uint32Array loop); the rest one by one. The rotated key word is built through a scratch Uint8Array/Uint32Array pair, so the
 * code is right on either byte order.
 */
import { wordView } from './word-view.js';

/** Below this length the word loop's setup costs more than it saves. */
const WORD_THRESHOLD = 16;

const scratch = new Uint8Array(4);
const scratchWord = new Int32Array(scratch.buffer);

/**
 * XOR `buf[start, end)` in place with the 4-byte key found at `key[keyPos .. keyPos + 3]`,
 * where `buf[start]` lines up with key byte `phase` (0..3).
 */
export function applyMask(
  buf: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  keyPos: number,
  phase: number,
): void {
  const k0 = key[keyPos];
  const k1 = key[keyPos + 1];
  const k2 = key[keyPos + 2];
  const k3 = key[keyPos + 3];
  let i = start;
  let p = phase & 3;
  if (end - start >= WORD_THRESHOLD) {
    // Bytes up to the first aligned address.
    while (((buf.byteOffset + i) & 3) !== 0) {
      buf[i] ^= p === 0 ? k0 : p === 1 ? k1 : p === 2 ? k2 : k3;
      i++;
      p = (p + 1) & 3;
    }
    const words = (end - i) >>> 2;
    // The key as it lines up with the aligned word, in memory order.
    scratch[0] = p === 0 ? k0 : p === 1 ? k1 : p === 2 ? k2 : k3;
    scratch[1] = p === 0 ? k1 : p === 1 ? k2 : p === 2 ? k3 : k0;
    scratch[2] = p === 0 ? k2 : p === 1 ? k3 : p === 2 ? k0 : k1;
    scratch[3] = p === 0 ? k3 : p === 1 ? k0 : p === 2 ? k1 : k2;
    const m = scratchWord[0];
    const view = wordView(buf.buffer);
    let w = (buf.byteOffset + i) >>> 2;
    const last = w + words;
    const unrolled = w + (words & ~7);
    for (; w < unrolled; w += 8) {
      view[w] ^= m;
      view[w + 1] ^= m;
      view[w + 2] ^= m;
      view[w + 3] ^= m;
      view[w + 4] ^= m;
      view[w + 5] ^= m;
      view[w + 6] ^= m;
      view[w + 7] ^= m;
    }
    for (; w < last; w++) view[w] ^= m;
    i += words << 2;
    // p is unchanged: a whole number of words keeps the key phase.
  }
  for (; i < end; i++) {
    buf[i] ^= p === 0 ? k0 : p === 1 ? k1 : p === 2 ? k2 : k3;
    p = (p + 1) & 3;
  }
}

/** Convenience: mask/unmask a whole buffer with a 4-byte key. */
export function mask(buf: Uint8Array, key: Uint8Array): void {
  applyMask(buf, 0, buf.length, key, 0, 0);
}
