/**
 * If-None-Match (http/etag.ts), RFC 9110 13.1.2: `*`, or a list of entity tags compared weakly.
 * The routes that use it (the page's files, attachment downloads) are tested through a live server
 * in static.test.ts and attachments.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { etagMatches } from '../../src/server/http/etag.js';

const TAG = '"abc_-123"';

describe('RFC 9110 13.1.2 If-None-Match', () => {
  it('matches the tag alone, weak or strong, and `*`', () => {
    expect(etagMatches(TAG, TAG)).toBe(true);
    expect(etagMatches(`W/${TAG}`, TAG)).toBe(true);
    expect(etagMatches('*', TAG)).toBe(true);
    expect(etagMatches(' * ', TAG)).toBe(true);
  });

  it('matches the tag anywhere in a list, with or without whitespace', () => {
    expect(etagMatches(`"x", ${TAG}`, TAG)).toBe(true);
    expect(etagMatches(`"x",${TAG},"y"`, TAG)).toBe(true);
    expect(etagMatches(`W/"x" ,\tW/${TAG}`, TAG)).toBe(true);
    expect(etagMatches(`, ,"x", ${TAG},`, TAG)).toBe(true);
  });

  it('matches nothing else: no header, other tags, a prefix or an extension of the tag', () => {
    expect(etagMatches(undefined, TAG)).toBe(false);
    expect(etagMatches('', TAG)).toBe(false);
    expect(etagMatches('"x", "y"', TAG)).toBe(false);
    expect(etagMatches('"abc_-12"', TAG)).toBe(false);
    expect(etagMatches('"abc_-1234"', TAG)).toBe(false);
    expect(etagMatches('abc_-123', TAG)).toBe(false); // unquoted
    expect(etagMatches('w/"abc_-123"', TAG)).toBe(false); // W/ is case-sensitive
  });

  it('nothing after a fault in the header is read as a tag', () => {
    expect(etagMatches(`"x" junk ${TAG}`, TAG)).toBe(false);
    expect(etagMatches(`"x", *, ${TAG}`, TAG)).toBe(false); // `*` only alone
    expect(etagMatches('*, "x"', TAG)).toBe(false);
    expect(etagMatches(`"unterminated, ${TAG}`, TAG)).toBe(false);
  });

  it('reads a long header in one pass (work linear in its length)', () => {
    const many = Array.from({ length: 2000 }, (_, i) => `"t${i}"`).join(', ');
    expect(etagMatches(many, TAG)).toBe(false);
    expect(etagMatches(`${many}, ${TAG}`, TAG)).toBe(true);
    expect(etagMatches('"'.repeat(16_000), TAG)).toBe(false);
    expect(etagMatches(`W/${'W/'.repeat(8000)}`, TAG)).toBe(false);
  });
});
