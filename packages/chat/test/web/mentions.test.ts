/**
 * `@name` autocomplete without a DOM (web/mentions.ts): the `@prefix` at the caret, the names
 * offered, and the text with the chosen name put in. The server decides what is a mention
 * (server/hub/mentions.ts).
 */
import { describe, expect, it } from 'vitest';
import { insertMention, mentionAt, mentionCandidates } from '../../src/web/mentions.js';

describe('@ autocomplete', () => {
  it('finds the @prefix at the caret, not in an e-mail address', () => {
    expect(mentionAt('hi @al', 6)).toEqual({ start: 3, prefix: 'al' });
    expect(mentionAt('@', 1)).toEqual({ start: 0, prefix: '' });
    expect(mentionAt('mail a@b', 8)).toBeNull();
    expect(mentionAt('hi @al there', 12)).toBeNull();
  });

  it('offers names starting with the prefix first, then containing it, never the user', () => {
    const names = ['Alice', 'bob', 'malory', 'al', 'carol'];
    expect(mentionCandidates('al', names, 'carol')).toEqual(['Alice', 'al', 'malory']);
    expect(mentionCandidates('', names, 'bob')).toEqual(['Alice', 'al', 'carol', 'malory']);
  });

  it('puts the chosen name in with one space after it', () => {
    const q = mentionAt('hi @al and', 6);
    expect(q).not.toBeNull();
    expect(insertMention('hi @al and', 6, q as NonNullable<typeof q>, 'Alice')).toEqual({
      text: 'hi @Alice and',
      caret: 10,
    });
  });
});
