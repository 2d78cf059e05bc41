import { describe, expect, it } from 'vitest';
import {
  ftsQuery,
  indexText,
  matchRanges,
  parseQuery,
  type SearchTerm,
} from '../../src/server/search/terms.js';

const terms = (q: string) => parseQuery(q) as SearchTerm[];

describe('parseQuery', () => {
  it('takes the words, folded, without duplicates; two letters or more match as a prefix', () => {
    expect(parseQuery('Café, café! B-52 ÉTÉ')).toEqual([
      { word: 'cafe', prefix: true },
      { word: 'b', prefix: false },
      { word: '52', prefix: true },
      { word: 'ete', prefix: true },
    ]);
    expect(parseQuery('שלום עולם')).toEqual([
      { word: 'שלום', prefix: true },
      { word: 'עולם', prefix: true },
    ]);
  });

  it('refuses a query without words, with too many, or too long', () => {
    expect(parseQuery('  *** "" ')).toEqual({ error: 'query must contain a word (letters or digits)' });
    expect(parseQuery('a b c d e f g h i')).toEqual({ error: 'query has more than 8 words' });
    expect(parseQuery('x'.repeat(201))).toEqual({ error: 'query is longer than 200 characters' });
  });
});

describe('matchRanges', () => {
  it('gives the UTF-16 ranges of every matching word of the original text', () => {
    // 😀 is two UTF-16 units: the offsets count units, as the page's String.slice does.
    expect(matchRanges('😀 Hello, HELLO-world héllo', terms('hello'))).toEqual([
      [3, 8],
      [10, 15],
      [22, 27],
    ]);
    expect(matchRanges('hello world', terms('wor hel'))).toEqual([
      [0, 5],
      [6, 11],
    ]);
  });

  it('is null unless every word matches', () => {
    expect(matchRanges('hello world', terms('hello moon'))).toBeNull();
    expect(matchRanges('a cat', terms('ca a'))).toEqual([
      [0, 1],
      [2, 5],
    ]);
    expect(matchRanges('abc', terms('a'))).toBeNull();
  });

  it('keeps a decomposed accent in its word, as FTS5 indexes it (the hit is highlighted, and found on Redis)', () => {
    // "e\u0301cole" (typed or pasted decomposed) was two words, "e" and "cole": SQLite found the
    // message for "ecole" but highlighted nothing, and the Redis scan did not find it at all.
    expect(matchRanges('e\u0301cole today', terms('ECOLE'))).toEqual([[0, 6]]);
    expect(matchRanges('e\u0301cole today', terms('cole'))).toBeNull();
    expect(parseQuery('e\u0301cole')).toEqual([{ word: 'ecole', prefix: true }]);
    // A mark FTS5 does not keep in a word (U+0305, combining overline) still splits it, as there.
    expect(matchRanges('ab\u0305cd', terms('cd'))).toEqual([[3, 5]]);
  });
});

describe('ftsQuery', () => {
  it('quotes every word, with * for a prefix', () => {
    expect(ftsQuery(terms('near OR b'))).toBe('"near"* "or"* "b"');
  });
});

describe('indexText', () => {
  it('is the folded words of the text, one space apart: what the SQLite index tokenizes', () => {
    expect(indexText('Die Straße, \ufb01le! ＡＢＣ e\u0301cole ½ --')).toBe('die strasse file abc ecole 12');
    expect(indexText('*** \u0301')).toBe('');
  });

  it('folds like the query and the highlight (Straße found and highlighted for "STRASSE")', () => {
    expect(parseQuery('STRASSE')).toEqual([{ word: 'strasse', prefix: true }]);
    expect(matchRanges('Die Straße', terms('STRASSE'))).toEqual([[4, 10]]);
  });
});
