import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyMask,
  applyMaskJs,
  copyMasked,
  copyUnmaskShort,
  mask,
  maskBackend,
  unmaskAscii,
} from '../../src/core/mask.js';

function byteLoop(data: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  const out = Uint8Array.from(data);
  for (let i = 0; i < out.length; i++) out[i] ^= key[(i + phase) & 3];
  return out;
}

describe('RFC 6455 5.3 client-to-server masking', () => {
  it('masks the RFC 5.7 "Hello" example', () => {
    const buf = Buffer.from('Hello');
    mask(buf, Buffer.from([0x37, 0xfa, 0x21, 0x3d]));
    expect(buf.toString('hex')).toBe('7f9f4d5158');
  });

  it('is its own inverse', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    const original = Buffer.from('a somewhat longer payload that crosses the word threshold!');
    const buf = Buffer.from(original);
    mask(buf, key);
    expect(buf.equals(original)).toBe(false);
    mask(buf, key);
    expect(buf.equals(original)).toBe(true);
  });

  it('matches a byte loop at every alignment, length and key phase', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        (data, key, offset, phase) => {
          // Place the data at an arbitrary byte offset to exercise unaligned heads.
          const backing = new Uint8Array(data.length + offset);
          backing.set(data, offset);
          const view = backing.subarray(offset);
          applyMask(view, 0, view.length, key, 0, phase);
          expect(Buffer.from(view).equals(Buffer.from(byteLoop(data, key, phase)))).toBe(true);
        },
      ),
    );
  });

  it('masks a range inside a buffer and reads the key from anywhere', () => {
    const buf = Buffer.from('xxABCDEFGHxx');
    const key = Buffer.from('..\x01\x02\x03\x04', 'latin1');
    applyMask(buf, 2, 10, key, 2, 1);
    const expected = byteLoop(Buffer.from('ABCDEFGH'), Buffer.from([1, 2, 3, 4]), 1);
    expect(buf.subarray(2, 10).equals(Buffer.from(expected))).toBe(true);
    expect(buf.subarray(0, 2).toString()).toBe('xx');
    expect(buf.subarray(10).toString()).toBe('xx');
  });
});

describe('SIMD kernel (WebAssembly) agrees with the JS word loop', () => {
  it('is available on this machine (x64 with SSE4.1), else the JS loop is used', () => {
    expect(['wasm-simd', 'js']).toContain(maskBackend());
    if (process.arch === 'x64' || process.arch === 'arm64') expect(maskBackend()).toBe('wasm-simd');
  });

  it('in place, for lengths around the threshold, block size and arbitrary phases', () => {
    for (const len of [1023, 1024, 1025, 4096 + 3, 65535, 65536, 65537, 200_001]) {
      for (const phase of [0, 1, 2, 3]) {
        const data = Buffer.alloc(len + 8);
        for (let i = 0; i < data.length; i++) data[i] = (i * 31 + len) & 0xff;
        const key = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
        const a = Buffer.from(data);
        const b = Buffer.from(data);
        applyMask(a, 3, 3 + len, key, 0, phase);
        applyMaskJs(b, 3, 3 + len, key, 0, phase);
        expect(a.equals(b)).toBe(true);
      }
    }
  });

  it('copyMasked leaves the source alone and writes the masked bytes at the destination', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 150_000 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(7),
        (len, phase, at) => {
          const src = Buffer.alloc(len + 16, 0x5a);
          for (let i = 0; i < src.length; i += 7) src[i] = i & 0xff;
          const before = Buffer.from(src);
          const key = Buffer.from([9, 8, 7, 6, 1, 2, 3, 4]);
          const dst = Buffer.alloc(len + 16);
          copyMasked(src, at, at + len, dst, 5, key, 4, phase);
          expect(src.equals(before)).toBe(true);
          const expected = Buffer.from(src.subarray(at, at + len));
          applyMaskJs(expected, 0, len, key, 4, phase);
          expect(dst.subarray(5, 5 + len).equals(expected)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('unmaskAscii: unmask and check for ASCII in one pass (short text messages)', () => {
  it('unmasks like the byte loop and reports whether every unmasked byte is below 0x80', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        (data, key, offset, keyPos) => {
          // Mostly ASCII payloads, with the high bit set at an arbitrary place in some of them.
          const plain = data.map((b, i) => (i === data.length - 1 - (b % 5) && b > 200 ? b : b & 0x7f));
          const masked = byteLoop(plain, key, 0);
          const backing = new Uint8Array(masked.length + offset);
          backing.set(masked, offset);
          const view = backing.subarray(offset);
          const keyBuf = new Uint8Array(8);
          keyBuf.set(key, keyPos);
          const ascii = unmaskAscii(view, 0, view.length, keyBuf, keyPos);
          expect(Buffer.from(view).equals(Buffer.from(plain))).toBe(true);
          expect(ascii).toBe(plain.every((b) => b < 0x80));
        },
      ),
    );
  });

  it('finds a single high byte before, inside and after the aligned words', () => {
    const key = new Uint8Array([0x11, 0x22, 0x33, 0x44]);
    for (const at of [0, 1, 2, 3, 17, 40, 61, 62, 63]) {
      const plain = new Uint8Array(64).fill(0x41);
      plain[at] = 0xc3;
      const buf = Buffer.alloc(65);
      buf.set(byteLoop(plain, key, 0), 1);
      expect(unmaskAscii(buf, 1, 65, key, 0)).toBe(false);
      expect(buf.subarray(1).equals(Buffer.from(plain))).toBe(true);
    }
  });
});

describe('copyUnmaskShort: a short payload copied out of a reused read buffer', () => {
  it('copies unmasked (or plain) like the byte loop, leaves the source alone, and reports ASCII', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        (data, key, start, keyPos, masked) => {
          const plain = data.map((b, i) => (i === data.length - 1 - (b % 5) && b > 200 ? b : b & 0x7f));
          const wire = masked ? byteLoop(plain, key, 0) : Uint8Array.from(plain);
          const src = new Uint8Array(start + wire.length + 3).fill(0xff);
          src.set(wire, start);
          const before = Uint8Array.from(src);
          const keyBuf = new Uint8Array(8);
          keyBuf.set(key, keyPos);
          const dst = new Uint8Array(wire.length);
          const ascii = copyUnmaskShort(src, start, start + wire.length, dst, masked ? keyBuf : null, keyPos);
          expect(Buffer.from(dst).equals(Buffer.from(plain))).toBe(true);
          expect(Buffer.from(src).equals(Buffer.from(before))).toBe(true);
          expect(ascii).toBe(plain.every((b) => b < 0x80));
        },
      ),
    );
  });
});
