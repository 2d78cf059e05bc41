/**
 * core/word-view.ts: one Int32Array over a whole ArrayBuffer, cached for the last small buffer,
 * which the masking and UTF-8 loops index by byte offset >>> 2.
 */
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { wordView } from '../../src/core/word-view.js';

const CACHE_MAX_BYTES = 256 * 1024;

describe('wordView', () => {
  it('covers the whole buffer from offset 0, a word per 4 bytes (a tail of 1-3 bytes left out)', () => {
    for (const bytes of [0, 1, 3, 4, 5, 8, 1023]) {
      const ab = new ArrayBuffer(bytes);
      const view = wordView(ab);
      expect(view, `${bytes} bytes`).toBeInstanceOf(Int32Array);
      expect(view.buffer).toBe(ab);
      expect(view.byteOffset).toBe(0);
      expect(view.length, `${bytes} bytes`).toBe(bytes >>> 2);
    }
  });

  it('word i is bytes 4i..4i+3 of the buffer (so a Buffer at offset o is word o >>> 2)', () => {
    const ab = new ArrayBuffer(64);
    const bytes = new Uint8Array(ab);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i;
    const view = wordView(ab);
    const check = new DataView(ab);
    for (let w = 0; w < view.length; w++) expect(view[w]).toBe(check.getInt32(w * 4, endianness() === 'LE'));
    // Writes go through to the bytes: the mask loop XORs in place.
    const buf = Buffer.from(ab, 8, 8);
    view[buf.byteOffset >>> 2] = 0;
    expect([...buf.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    expect(buf[4]).toBe(12);
  });

  it('returns the same view while the buffer is the same (no view per frame)', () => {
    const ab = new ArrayBuffer(4096);
    const first = wordView(ab);
    expect(wordView(ab)).toBe(first);
    expect(wordView(ab)).toBe(first);
  });

  it('a different buffer gets its own view, and replaces the cached one', () => {
    const a = new ArrayBuffer(16);
    const b = new ArrayBuffer(16);
    const viewA = wordView(a);
    const viewB = wordView(b);
    expect(viewB).not.toBe(viewA);
    expect(viewB.buffer).toBe(b);
    // a is no longer cached: a new (equal) view over it.
    const again = wordView(a);
    expect(again).not.toBe(viewA);
    expect(again.buffer).toBe(a);
  });

  it('does not cache a buffer above 256 KiB (a big message is not kept alive), nor evict the cached one', () => {
    const small = new ArrayBuffer(CACHE_MAX_BYTES);
    const cached = wordView(small);
    const big = new ArrayBuffer(CACHE_MAX_BYTES + 4);
    const bigView = wordView(big);
    expect(bigView.length).toBe((CACHE_MAX_BYTES + 4) / 4);
    expect(wordView(big)).not.toBe(bigView);
    // The buffer at the limit is cached, and still is after the big one.
    expect(wordView(small)).toBe(cached);
  });

  it('works over a SharedArrayBuffer too', () => {
    const sab = new SharedArrayBuffer(12);
    const view = wordView(sab);
    expect(view.length).toBe(3);
    expect(view.buffer).toBe(sab);
  });
});
