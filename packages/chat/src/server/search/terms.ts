/**
 * What a search query means, the same on every backend: the words of the query, each of which a
 * message must contain (AND). A word is a run of letters, digits and private-use characters (the
 * SQLite FTS5 `unicode61` tokenizer's default token characters) and the combining accents that
 * tokenizer's `remove_diacritics` keeps in their word and drops (DIACRITIC, the marks of accented
 * Latin letters), so a decomposed "e\u0301cole" is one word there and here; everything else
 * separates words.
 * Words compare folded (search/fold.ts): compatibility forms, case and diacritics set aside
 * ("Café" finds "cafe" and "CAFÉ", "strasse" finds "Straße", "file" finds "ﬁle").
 *
 * A query word of two or more characters also matches longer words it begins ("hel" finds
 * "hello"), so results come while typing; a one-character word must match a whole word, so that a
 * single letter cannot make a search walk every word of the index.
 *
 * Pure functions, no I/O: the SQLite backend indexes each text's folded words (indexText) and turns
 * terms into an FTS5 MATCH expression (ftsQuery), the Redis backend matches texts itself
 * (matchRanges), and both compute the highlight ranges with matchRanges. The page only draws the
 * ranges it is sent, so it never folds.
 */
import { MAX_SEARCH_QUERY, MAX_SEARCH_TERMS } from '../../shared/protocol.js';
import { fold } from './fold.js';

export interface SearchTerm {
  /** The folded word. */
  word: string;
  /** Matches words that begin with it (else only the whole word). */
  prefix: boolean;
}

// The second class: the combining accents FTS5 `unicode61` (remove_diacritics 2) keeps inside a
// word and drops; any other mark splits a word, there and here.
const WORD =
  /(?:[\p{L}\p{N}\p{Co}]|[\u0300-\u0304\u0306-\u030c\u030f\u0311\u031b\u0323-\u0328\u032d\u032e\u0330\u0331])+/gu;

/**
 * What the SQLite index stores for a text: its words folded, one space apart. The FTS5 tokenizer
 * then finds exactly these words (a folded word is letters, digits and private-use characters
 * only), so the index and the query fold alike, here, and not by the tokenizer's own rules.
 */
export function indexText(text: string): string {
  const words: string[] = [];
  for (const [raw] of text.matchAll(WORD)) {
    const word = fold(raw);
    if (word !== '') words.push(word);
  }
  return words.join(' ');
}

/** The query's terms (duplicates removed), or the reason it is not a query. */
export function parseQuery(query: string): SearchTerm[] | { error: string } {
  if (query.length > MAX_SEARCH_QUERY)
    return { error: `query is longer than ${MAX_SEARCH_QUERY} characters` };
  const seen = new Set<string>();
  const terms: SearchTerm[] = [];
  for (const [raw] of query.matchAll(WORD)) {
    const word = fold(raw);
    if (word === '' || seen.has(word)) continue;
    seen.add(word);
    terms.push({ word, prefix: [...word].length >= 2 });
  }
  if (terms.length === 0) return { error: 'query must contain a word (letters or digits)' };
  if (terms.length > MAX_SEARCH_TERMS) return { error: `query has more than ${MAX_SEARCH_TERMS} words` };
  return terms;
}

function matches(term: SearchTerm, word: string): boolean {
  return term.prefix ? word.startsWith(term.word) : word === term.word;
}

/**
 * The [start, end) UTF-16 ranges of the words of `text` that match a term, in order; null unless
 * every term matches at least one word (the message is then not a hit).
 */
export function matchRanges(text: string, terms: readonly SearchTerm[]): [number, number][] | null {
  const ranges: [number, number][] = [];
  const found = new Array<boolean>(terms.length).fill(false);
  for (const m of text.matchAll(WORD)) {
    const word = fold(m[0]);
    let hit = false;
    for (let i = 0; i < terms.length; i++) {
      if (matches(terms[i], word)) {
        found[i] = true;
        hit = true;
      }
    }
    if (hit) ranges.push([m.index, m.index + m[0].length]);
  }
  return found.every(Boolean) ? ranges : null;
}

/**
 * The FTS5 MATCH expression for the terms: each a quoted string (a folded word holds no quote or
 * operator), `*` for a prefix; juxtaposed strings are ANDed.
 */
export function ftsQuery(terms: readonly SearchTerm[]): string {
  return terms.map((t) => `"${t.word}"${t.prefix ? '*' : ''}`).join(' ');
}

/** Cursors are opaque to clients: base64url of a backend's JSON. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor(cursor: string): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    return undefined;
  }
}

/**
 * A backend's cursor: `{ ok: true, value: null }` without one, `{ ok: false }` when `cursor` is not
 * one of this backend's (the search then answers null).
 */
export function readCursor<T>(
  cursor: string | undefined,
  is: (value: unknown) => value is T,
): { ok: true; value: T | null } | { ok: false } {
  if (cursor === undefined) return { ok: true, value: null };
  const value = decodeCursor(cursor);
  return is(value) ? { ok: true, value } : { ok: false };
}
