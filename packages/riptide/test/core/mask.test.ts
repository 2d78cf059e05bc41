import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMask, mask } from '../../src/core/mask.js';

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
