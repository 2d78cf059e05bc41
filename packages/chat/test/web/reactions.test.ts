/**
 * Reactions without a DOM (web/reactions.ts): set semantics that make a replayed `reacted`
 * harmless, the hover text and the typed-emoji check. (`@` autocomplete: web/mentions.test.ts.)
 */
import { describe, expect, it } from 'vitest';
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
