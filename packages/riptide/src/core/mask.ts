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
 *
 * Large ranges (at least WASM_MIN bytes) go through a 109-byte WebAssembly SIMD kernel instead,
 * when the runtime supports SIMD (x64 with SSE4.1, arm64): the bytes are copied into the
 * module's memory 64 KiB at a time, XORed 64 bytes per loop turn with v128.xor (~26 GB/s), and
 * copied back (or straight to their destination, see copyMasked). Measured on this machine:
 * copy + JS word loop ~2 GB/s, copy + SIMD + copy ~6.5 GB/s, bufferutil (native) ~12 GB/s. It is
 * written here by hand from the listing below, has no dependency, and falls back to the JS loop
 * if WebAssembly SIMD is unavailable. The JS loop stays the reference (tests compare the two).
 *
 *   (module
 *     (memory (export "memory") 2)
 *     (func (export "mask") (param $len i32) (param $key i32)
 *       (local $i i32) (local $end i32) (local $k v128)
 *       (local.set $k (i32x4.splat (local.get $key)))
 *       (local.set $end (i32.and (i32.add (local.get $len) (i32.const 63)) (i32.const -64)))
 *       (block $done (loop $next
 *         (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
 *         ;; four times, at offsets 0, 16, 32, 48:
 *         (v128.store offset=N (local.get $i) (v128.xor (v128.load offset=N (local.get $i)) (local.get $k)))
 *         (local.set $i (i32.add (local.get $i) (i32.const 64)))
 *         (br $next)))))
 *
 * The kernel rounds the length up to 64 bytes: it may XOR scratch bytes past `len`, which are
 * never copied out.
 */
import { wordView } from './word-view.js';

/** Below this length the word loop's setup costs more than it saves. */
const WORD_THRESHOLD = 16;

const scratch = new Uint8Array(4);
const scratchWord = new Int32Array(scratch.buffer);

/** Ranges at least this long use the SIMD kernel (below it, the copies cost more than they save). */
const WASM_MIN = 1024;
/** Bytes processed per kernel call: one WebAssembly page (the memory has two). */
const WASM_BLOCK = 64 * 1024;

const WASM_BYTES =
  'AGFzbQEAAAABBgFgAn9/AAMCAQAFAwEAAgcRAgZtZW1vcnkCAARtYXNrAAAKbwFtAgJ/AXsgAf0RIQQgAEE/akFAcSEDAkADQCACIANP' +
  'DQEgAiAC/QAEACAE/VH9CwQAIAIgAv0ABBAgBP1R/QsEECACIAL9AAQgIAT9Uf0LBCAgAiAC/QAEMCAE/VH9CwQwIAJBwABqIQIMAAsLCw==';

/** The slice of the WebAssembly JS API used here (the ES lib typings do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

let wasmMask: ((len: number, key: number) => void) | null = null;
let wasmMem: Uint8Array = new Uint8Array(0);
try {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM_BYTES, 'base64')));
  wasmMask = instance.exports.mask as (len: number, key: number) => void;
  wasmMem = new Uint8Array((instance.exports.memory as { buffer: ArrayBuffer }).buffer);
} catch {
  wasmMask = null; // no WebAssembly SIMD here: the JS word loop does all the work
}

/** Which implementation handles large ranges: 'wasm-simd' or 'js'. */
export function maskBackend(): 'wasm-simd' | 'js' {
  return wasmMask === null ? 'js' : 'wasm-simd';
}

/** The key bytes starting at phase p, as a little-endian 32-bit word (WebAssembly's byte order). */
function keyWord(key: Uint8Array, keyPos: number, p: number): number {
  return (
    key[keyPos + (p & 3)] |
    (key[keyPos + ((p + 1) & 3)] << 8) |
    (key[keyPos + ((p + 2) & 3)] << 16) |
    (key[keyPos + ((p + 3) & 3)] << 24)
  );
}

/**
 * Copy `src[srcStart, srcEnd)` to `dst` at `dstStart`, masked with the key at `key[keyPos..]`,
 * where `src[srcStart]` lines up with key byte `phase`. The source is left unchanged. With the
 * SIMD kernel this is one copy in and one copy out; otherwise a copy and the word loop.
 */
export function copyMasked(
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  dst: Uint8Array,
  dstStart: number,
  key: Uint8Array,
  keyPos: number,
  phase: number,
): void {
  const n = srcEnd - srcStart;
  if (wasmMask === null || n < WASM_MIN) {
    dst.set(src.subarray(srcStart, srcEnd), dstStart);
    applyMaskJs(dst, dstStart, dstStart + n, key, keyPos, phase);
    return;
  }
  // Blocks are multiples of 4 bytes, so every block starts at the same key phase.
  const word = keyWord(key, keyPos, phase);
  for (let off = 0; off < n; off += WASM_BLOCK) {
    const len = Math.min(WASM_BLOCK, n - off);
    wasmMem.set(src.subarray(srcStart + off, srcStart + off + len), 0);
    wasmMask(len, word);
    dst.set(wasmMem.subarray(0, len), dstStart + off);
  }
}

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
  if (wasmMask !== null && end - start >= WASM_MIN) {
    copyMasked(buf, start, end, buf, start, key, keyPos, phase);
    return;
  }
  applyMaskJs(buf, start, end, key, keyPos, phase);
}

/** The key as it lines up with an aligned word starting at key byte `p`, in memory order. */
function rotatedKey(k0: number, k1: number, k2: number, k3: number, p: number): number {
  scratch[0] = p === 0 ? k0 : p === 1 ? k1 : p === 2 ? k2 : k3;
  scratch[1] = p === 0 ? k1 : p === 1 ? k2 : p === 2 ? k3 : k0;
  scratch[2] = p === 0 ? k2 : p === 1 ? k3 : p === 2 ? k0 : k1;
  scratch[3] = p === 0 ? k3 : p === 1 ? k0 : p === 2 ? k1 : k2;
  return scratchWord[0];
}

/**
 * Unmask `buf[start, end)` in place (key phase 0) and report whether every unmasked byte is
 * ASCII (below 0x80): the one pass a short text message needs before the UTF-8 check, which an
 * all-ASCII message then skips. For short ranges (the word loop is not unrolled).
 */
export function unmaskAscii(
  buf: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  keyPos: number,
): boolean {
  const k0 = key[keyPos];
  const k1 = key[keyPos + 1];
  const k2 = key[keyPos + 2];
  const k3 = key[keyPos + 3];
  let i = start;
  let p = 0;
  let high = 0;
  if (end - start >= WORD_THRESHOLD) {
    // byteOffset read once: a getter call per loop test cost about a fifth of a 64-byte unmask.
    const base = buf.byteOffset;
    while (((base + i) & 3) !== 0) {
      const b = buf[i] ^ (p === 0 ? k0 : p === 1 ? k1 : p === 2 ? k2 : k3);
      buf[i] = b;
      high |= b;
      i++;
      p = (p + 1) & 3;
    }
    const words = (end - i) >>> 2;
    const m = rotatedKey(k0, k1, k2, k3, p);
    const view = wordView(buf.buffer);
    let w = (base + i) >>> 2;
    const last = w + words;
    let acc = 0;
    for (; w < last; w++) {
      const x = view[w] ^ m;
      view[w] = x;
      acc |= x;
    }
    if ((acc & 0x80808080) !== 0) high = 0x80;
    i += words << 2;
  }
  for (; i < end; i++) {
    const b = buf[i] ^ (p === 0 ? k0 : p === 1 ? k1 : p === 2 ? k2 : k3);
    buf[i] = b;
    high |= b;
    p = (p + 1) & 3;
  }
  return (high & 0x80) === 0;
}

/**
 * Copy `src[start, end)` into `dst` from index 0, unmasked with the key at `key[keyPos..]` (key
 * phase 0 at `start`; `key` null: a plain copy), and report whether every copied byte is ASCII
 * (below 0x80). For a short payload leaving a read buffer that is about to be reused: one pass,
 * four bytes per turn, instead of an unmask in place, a scan and a Buffer copy, whose call
 * overhead is most of the cost at this size.
 */
export function copyUnmaskShort(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  key: Uint8Array | null,
  keyPos: number,
): boolean {
  let k0 = 0;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  if (key !== null) {
    k0 = key[keyPos];
    k1 = key[keyPos + 1];
    k2 = key[keyPos + 2];
    k3 = key[keyPos + 3];
  }
  const n = end - start;
  let high = 0;
  let i = 0;
  let s = start;
  for (; i + 4 <= n; i += 4, s += 4) {
    const b0 = src[s] ^ k0;
    const b1 = src[s + 1] ^ k1;
    const b2 = src[s + 2] ^ k2;
    const b3 = src[s + 3] ^ k3;
    dst[i] = b0;
    dst[i + 1] = b1;
    dst[i + 2] = b2;
    dst[i + 3] = b3;
    high |= b0 | b1 | b2 | b3;
  }
  // At most three bytes left, at key phases 0, 1, 2.
  for (let p = 0; i < n; i++, s++, p++) {
    const b = src[s] ^ (p === 0 ? k0 : p === 1 ? k1 : k2);
    dst[i] = b;
    high |= b;
  }
  return (high & 0x80) === 0;
}

/** The JS word loop (also the reference implementation for tests). */
export function applyMaskJs(
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
    const base = buf.byteOffset;
    while (((base + i) & 3) !== 0) {
      buf[i] ^= p === 0 ? k0 : p === 1 ? k1 : p === 2 ? k2 : k3;
      i++;
      p = (p + 1) & 3;
    }
    const words = (end - i) >>> 2;
    const m = rotatedKey(k0, k1, k2, k3, p);
    const view = wordView(buf.buffer);
    let w = (base + i) >>> 2;
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
