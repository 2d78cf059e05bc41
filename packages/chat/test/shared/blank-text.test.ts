import { describe, expect, it } from 'vitest';
import { isBlankText } from '../../src/shared/blank-text.js';

describe('isBlankText', () => {
  it('is true for empty text and white space, as trim() sees it', () => {
    for (const text of ['', ' ', '\t\n\r ', '\u00A0\u3000\u2028'])
      expect(isBlankText(text), JSON.stringify(text)).toBe(true);
  });

  it('is true for zero-width, default-ignorable and format characters, alone or with spaces', () => {
    // Regression: "\u200B" passed the server's "not only spaces" check and was stored as a message
    // nobody could see.
    const invisible = [
      '\u200B', // zero width space
      '\u200C', // zero width non-joiner
      '\u200D', // zero width joiner
      '\u2060', // word joiner
      '\uFEFF', // zero width no-break space (BOM)
      '\u00AD', // soft hyphen
      '\u180E', // Mongolian vowel separator
      '\u200E\u200F\u202E\u2066', // bidi marks and controls
      '\u2061\u2062\u2063\u2064', // invisible math operators
      '\uFE0F', // variation selector
      '\u3164\u115F\uFFA0', // Hangul fillers
      '\u{E0001}\u{E0041}', // tags
      '\u034F', // combining grapheme joiner
    ];
    for (const text of invisible) {
      expect(isBlankText(text), JSON.stringify(text)).toBe(true);
      expect(isBlankText(` ${text}\n${text} `), JSON.stringify(text)).toBe(true);
    }
  });

  it('is false when anything visible is there, invisible characters among it included', () => {
    const visible = [
      'a',
      ' x ',
      '\u200Bhi\u200B',
      '\u{1F469}\u200D\u{1F4BB}', // woman technologist: a ZWJ sequence
      '\u{1F3F3}\uFE0F\u200D\u{1F308}', // rainbow flag
      'می\u200Cخواهم', // Persian "I want", with a ZWNJ
      '.',
      '\u0600', // Arabic number sign: format (Cf) but drawn
      '\u06DD', // Arabic end of ayah
      '\u{110BD}', // Kaithi number sign
    ];
    for (const text of visible) expect(isBlankText(text), JSON.stringify(text)).toBe(false);
  });
});
