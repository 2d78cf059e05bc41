import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidUtf8, Utf8Validator } from '../../src/core/utf8.js';

const VALID = ['', 'ascii', 'κόσμε', '€', '𝄞 clef', '\u{10FFFF}', 'a'.repeat(200) + '€'.repeat(50)];
const INVALID_HEX = [
  'ff', // never valid
  'c0af', // overlong
  'c328', // bad continuation
  'eda080', // surrogate U+D800
  'f4908080', // above U+10FFFF
  'e282', // truncated (only invalid at the end)
  '80', // lone continuation
  'f8888080', // 5-byte form
];

function feedPieces(bytes: Buffer, cuts: number[]): { ok: boolean; complete: boolean } {
  const v = new Utf8Validator();
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (!v.feed(bytes, prev, cut)) return { ok: false, complete: false };
    prev = cut;
  }
  return { ok: true, complete: v.isComplete() };
}

describe('RFC 3629 UTF-8 validation', () => {
  it('accepts valid strings whole and in every split', () => {
    for (const s of VALID) {
      const b = Buffer.from(s);
      expect(isValidUtf8(b)).toBe(true);
      for (let cut = 0; cut <= b.length; cut++) {
        expect(feedPieces(b, [cut])).toEqual({ ok: true, complete: true });
      }
    }
  });

  it('rejects invalid sequences whole, and incrementally by the end', () => {
    for (const h of INVALID_HEX) {
      const b = Buffer.from(h, 'hex');
      expect(isValidUtf8(b), h).toBe(false);
      const r = feedPieces(b, []);
      expect(r.ok && r.complete, h).toBe(false);
    }
  });

  it('fails fast: the piece holding the invalid byte is rejected, not the end of the message', () => {
    const v = new Utf8Validator();
    expect(v.feed(Buffer.from('κόσμε'), 0, 10)).toBe(true);
    const bad = Buffer.concat([Buffer.from('a'.repeat(100)), Buffer.from([0xed, 0xa0, 0x80])]);
    expect(v.feed(bad, 0, bad.length)).toBe(false);
  });

  it('a code point split across pieces at every position is still checked (surrogate split)', () => {
    const b = Buffer.concat([
      Buffer.from('x'.repeat(70)),
      Buffer.from('eda080', 'hex'),
      Buffer.from('y'.repeat(70)),
    ]);
    for (let cut = 0; cut <= b.length; cut++)
      expect(feedPieces(b, [cut]).ok && feedPieces(b, [cut]).complete).toBe(false);
  });

  it('agrees with the native validator on arbitrary bytes split arbitrarily', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (data, rawCuts) => {
          const b = Buffer.from(data);
          const cuts = [...new Set(rawCuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
          const r = feedPieces(b, cuts);
          expect(r.ok && r.complete).toBe(isValidUtf8(b));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('agrees with the native validator on mostly-valid text split arbitrarily', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), fc.nat(), fc.nat(), (s, cut, flip) => {
        const b = Buffer.from(s);
        if (b.length > 0 && flip % 3 === 0) b[flip % b.length] ^= 0x40;
        const r = feedPieces(b, [cut % (b.length + 1)]);
        expect(r.ok && r.complete).toBe(isValidUtf8(b));
      }),
      { numRuns: 2000 },
    );
  });
});
