import { describe, expect, it } from 'vitest';
import { fold } from '../../src/server/search/fold.js';

describe('fold', () => {
  it.each([
    ['Straße', 'strasse'],
    ['STRASSE', 'strasse'],
    ['STRAẞE', 'strasse'],
    ['ﬁle', 'file'],
    ['ﬀ', 'ff'],
    ['ＡＢＣ', 'abc'],
    ['Café', 'cafe'],
    ['e\u0301cole', 'ecole'],
    ['Mädchen', 'madchen'],
    ['x²', 'x2'],
    ['½', '12'],
    ['ΟΔΟΣ', 'οδοσ'],
    ['ϲ', 'σ'],
    ['ᾼ', 'αι'],
    ['İstanbul', 'istanbul'],
    ['ısı', 'ısı'],
    ['ſ', 's'],
    ['\u212a', 'k'],
  ])('%s -> %s', (word, folded) => {
    expect(fold(word)).toBe(folded);
    expect(fold(folded)).toBe(folded);
  });

  it('keeps ä and ae apart (a German spelling rule, not a folding), and ı apart from i', () => {
    expect(fold('Mädchen')).not.toBe(fold('Maedchen'));
    expect(fold('ısı')).not.toBe(fold('isi'));
  });

  it("folds a final sigma like any sigma, so a prefix is a prefix whatever follows (toLowerCase's Final_Sigma does not)", () => {
    expect(fold('ΟΔΟΣΜΟΣ').startsWith(fold('ΟΔΟΣ'))).toBe(true);
  });

  it("agrees with JavaScript's Unicode case data at every code point", () => {
    // Two characters equal under /iu (Unicode simple case folding) fold alike, and so does a
    // character with its one-to-many upper case (SpecialCasing: ß/SS, ﬁ/FI, ᾳ/ΑΙ).
    const wrong: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      for (const other of [c.toUpperCase(), c.toLowerCase()]) {
        if (other === c) continue;
        if ([...other].length === 1 && !new RegExp(`^\\u{${cp.toString(16)}}$`, 'iu').test(other)) continue;
        if (fold(c) !== fold(other))
          wrong.push(`U+${cp.toString(16)} ${c}/${other}: ${fold(c)} ${fold(other)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
