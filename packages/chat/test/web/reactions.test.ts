/**
 * Reactions and mentions without a DOM (web/reactions.ts, web/mentions.ts): set semantics that
 * make a replayed `reacted` harmless, the hover text, the typed-emoji check, and `@` autocomplete.
 */
import { describe, expect, it } from 'vitest';
import { insertMention, mentionAt, mentionCandidates } from '../../src/web/mentions.js';
import { applyReaction, typedEmoji, whoReacted } from '../../src/web/reactions.js';

describe('applyReaction', () => {
  it('sets and removes, idempotently, keeping users sorted and emoji in code point order', () => {
    let r = applyReaction(undefined, 'bob', '👍', true);
    r = applyReaction(r, 'alice', '👍', true);
    r = applyReaction(r, 'alice', '👍', true); // again: no change
    r = applyReaction(r, 'carol', '🎉', true);
    r = applyReaction(r, 'carol', '❤️', true);
    expect(r).toEqual({ '❤️': ['carol'], '🎉': ['carol'], '👍': ['alice', 'bob'] });
    expect(Object.keys(r ?? {})).toEqual(['❤️', '🎉', '👍']);
    r = applyReaction(r, 'carol', '🎉', false);
    r = applyReaction(r, 'carol', '🎉', false);
    r = applyReaction(r, 'carol', '❤️', false);
    expect(r).toEqual({ '👍': ['alice', 'bob'] });
    expect(applyReaction(applyReaction(r, 'alice', '👍', false), 'bob', '👍', false)).toBeUndefined();
  });

  it('replaying the events after the current state ends in the current state', () => {
    // The server's example: current {❤️: bob, 🎉: alice}, then the events 👍 on, 🎉 on, 👍 off, ❤️ on.
    let r = applyReaction({ '❤️': ['bob'], '🎉': ['alice'] }, 'bob', '👍', true);
    r = applyReaction(r, 'alice', '🎉', true);
    r = applyReaction(r, 'bob', '👍', false);
    r = applyReaction(r, 'bob', '❤️', true);
    expect(r).toEqual({ '❤️': ['bob'], '🎉': ['alice'] });
  });

  it('says who reacted, the reader as "you"', () => {
    expect(whoReacted(['alice', 'bob', 'carol'], 'bob', '👍')).toBe('alice, carol and you reacted with 👍');
    expect(whoReacted(['alice'], 'bob', '🎉')).toBe('alice reacted with 🎉');
  });

  it('accepts one emoji typed, with modifiers, flags and keycaps, and nothing else', () => {
    for (const e of ['👍', '👍🏽', '❤️', '👩‍💻', '🇫🇷', '1️⃣', ' 🎉 ']) expect(typedEmoji(e)).toBe(e.trim());
    for (const e of ['', 'ok', '👍👍', 'a👍', '<b>']) expect(typedEmoji(e)).toBeNull();
  });
});

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
