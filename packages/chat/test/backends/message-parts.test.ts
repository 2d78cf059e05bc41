/**
 * server/backends/message-parts.ts: the quote of a replied-to message and the reactions map, as
 * every store presents them (SQLite and Redis answer alike: backends/message-parts-contract.ts).
 */
import { describe, expect, it } from 'vitest';
import { byCodePoint, excerpt, quoteOf, reactionsOf } from '../../src/server/backends/message-parts.js';
import { REPLY_EXCERPT_CHARS } from '../../src/shared/protocol.js';

describe('byCodePoint', () => {
  it('orders by code point, where the default sort orders UTF-16 code units', () => {
    // U+FF5E (one unit, 0xFF5E) sorts after U+1F600 (units 0xD83D 0xDE00) by code unit,
    // before it by code point.
    const a = '\uff5e';
    const b = '😀';
    expect([b, a].sort()).toEqual([b, a]);
    expect([b, a].sort(byCodePoint)).toEqual([a, b]);
  });

  it('a prefix sorts first; equal strings are 0', () => {
    expect(byCodePoint('ab', 'abc')).toBeLessThan(0);
    expect(byCodePoint('abc', 'ab')).toBeGreaterThan(0);
    expect(byCodePoint('😀x', '😀x')).toBe(0);
  });
});

describe('excerpt', () => {
  it(`keeps a text of up to ${REPLY_EXCERPT_CHARS} code points whole`, () => {
    const text = 'x'.repeat(REPLY_EXCERPT_CHARS);
    expect(excerpt(text)).toBe(text);
    // 200 astral characters are 400 UTF-16 units but 200 code points: kept whole.
    const astral = '😀'.repeat(REPLY_EXCERPT_CHARS);
    expect(excerpt(astral)).toBe(astral);
  });

  it('cuts at a code point, never inside a surrogate pair', () => {
    expect(excerpt('y'.repeat(REPLY_EXCERPT_CHARS + 1))).toBe('y'.repeat(REPLY_EXCERPT_CHARS));
    const cut = excerpt(`${'a'.repeat(REPLY_EXCERPT_CHARS - 1)}😀😀`);
    expect([...cut]).toHaveLength(REPLY_EXCERPT_CHARS);
    expect(cut.endsWith('😀')).toBe(true);
  });
});

describe('quoteOf', () => {
  it('quotes the excerpt, and never a deleted text', () => {
    expect(quoteOf({ seq: 4, user: 'ann', text: 'hello' })).toEqual({ seq: 4, user: 'ann', text: 'hello' });
    expect(quoteOf({ seq: 4, user: 'ann', text: 'secret', deleted: true })).toEqual({
      seq: 4,
      user: 'ann',
      text: '',
      deleted: true,
    });
    expect(quoteOf({ seq: 1, user: 'a', text: 'z'.repeat(500) }).text).toHaveLength(REPLY_EXCERPT_CHARS);
  });
});

describe('reactionsOf', () => {
  it('groups users by emoji, both in code point order; none is undefined', () => {
    expect(reactionsOf([])).toBeUndefined();
    const r = reactionsOf([
      ['👍', 'carol'],
      ['❤️', 'bob'],
      ['👍', 'Ann'],
      ['👍', 'ann'],
    ]);
    expect(r).toEqual({ '❤️': ['bob'], '👍': ['Ann', 'ann', 'carol'] });
    expect(Object.keys(r!)).toEqual(['❤️', '👍']);
  });
});
