/**
 * server/hub/mentions.ts: which members a message names as `@name`. The server decides, from
 * the text and the room's members; a name counts standing alone only.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CANDIDATES, mentionCandidates, resolveMentions } from '../../src/server/hub/mentions.js';
import type { AccountStore, RoomStore } from '../../src/server/ports.js';

describe('mentionCandidates', () => {
  it('finds @name standing alone, once per name (case-insensitively), at most 20', () => {
    expect(
      mentionCandidates(
        '@Bob hi @bob, (@carol) @dave. mail a@b.c @x-long-name @toolongnametoolongnametoolong',
      ),
    ).toEqual(['bob', 'carol', 'dave', 'x-long-name']);
    expect(mentionCandidates('no mentions @ all')).toEqual([]);
    // A link's @ is part of its path (regression: a profile link notified that user).
    expect(
      mentionCandidates('read https://example.social/@bob and HTTP://x.org/u/@carol/post, thanks @dave'),
    ).toEqual(['dave']);
    const many = Array.from({ length: 30 }, (_, i) => `@u${i}`).join(' ');
    expect(mentionCandidates(many)).toEqual(Array.from({ length: 20 }, (_, i) => `u${i}`));
  });
});

describe('resolveMentions', () => {
  // Only the two reads resolveMentions makes; the rest of the stores is never touched.
  const users = new Map([
    ['bob', 'Bob'],
    ['carol', 'carol'],
    ['dave', 'Dave'],
  ]);
  const members = new Set(['Bob@general', 'Dave@general', 'carol@other']);
  const reads: string[] = [];
  const accounts = {
    getUser: async (name: string) => {
      reads.push(name);
      const canonical = users.get(name.toLowerCase());
      return canonical === undefined ? null : { name: canonical };
    },
  } as unknown as AccountStore;
  const rooms = {
    isMember: async (user: string, room: string) => members.has(`${user}@${room}`),
  } as unknown as RoomStore;

  it('keeps the names that are members of the room, in their canonical spelling, sorted', async () => {
    expect(await resolveMentions('@dave @BOB @carol @nobody', 'general', accounts, rooms)).toEqual([
      'Bob',
      'Dave',
    ]);
    expect(await resolveMentions('@carol', 'other', accounts, rooms)).toEqual(['carol']);
  });

  it('reads nothing for a text without @, and each name once however often it is written', async () => {
    reads.length = 0;
    expect(await resolveMentions('no mentions here', 'general', accounts, rooms)).toEqual([]);
    expect(reads).toEqual([]);
    expect(await resolveMentions('@bob @Bob @BOB', 'general', accounts, rooms)).toEqual(['Bob']);
    expect(reads).toEqual(['bob']);
  });

  it('looks up at most MAX_CANDIDATES names per message', async () => {
    reads.length = 0;
    const text = Array.from({ length: MAX_CANDIDATES + 5 }, (_, i) => `@user${i}`).join(' ');
    await resolveMentions(text, 'general', accounts, rooms);
    expect(reads).toHaveLength(MAX_CANDIDATES);
  });
});
