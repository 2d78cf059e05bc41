import { describe, expect, it } from 'vitest';
import {
  CLIENT_TYPES,
  normalizeEmoji,
  normalizeTopic,
  parseClientMessage,
} from '../../src/server/hub/validate.js';
import { MAX_TOPIC_CHARS } from '../../src/shared/protocol.js';

describe('parseClientMessage', () => {
  it('accepts every documented client message type, with or without a ref', () => {
    const valid = [
      { v: 2, type: 'hello', rooms: { general: 12, 'dm:ann:bob': 3 } },
      { v: 2, type: 'hello', ref: 'h' },
      { v: 2, type: 'hello', rooms: { general: 12 }, tags: { general: 'Ab-_9zXq' } },
      { v: 2, type: 'sync', room: 'general', after: 7, tag: 'Ab-_9zXq' },
      { v: 2, type: 'read', ref: 'r', room: 'general', seq: 7, tag: 'Ab-_9zXq' },
      { v: 2, type: 'ping' },
      { v: 2, type: 'send', id: 'k3J9', room: 'general', text: 'hi' },
      { v: 2, type: 'edit', ref: 'e1', room: 'general', seq: 3, text: 'hi!' },
      { v: 2, type: 'delete', room: 'dm:ann:bob', seq: 3 },
      { v: 2, type: 'history', room: 'general', before: 51 },
      { v: 2, type: 'sync', room: 'general', after: 0 },
      { v: 2, type: 'typing', room: 'general' },
      { v: 2, type: 'read', room: 'general', seq: 4 },
      { v: 2, type: 'rooms', after: 'random' },
      { v: 2, type: 'members', ref: 'm', room: 'plans', after: 'Bob_2' },
      { v: 2, type: 'members', room: 'dm:ann:bob' },
      { v: 2, type: 'create', room: 'new-room_1', private: true },
      { v: 2, type: 'join', room: 'general' },
      { v: 2, type: 'leave', room: 'dm:ann:bob' },
      { v: 2, type: 'invite', room: 'plans', user: 'Bob_2' },
      { v: 2, type: 'accept', ref: 'a1', room: 'plans' },
      { v: 2, type: 'decline', room: 'plans' },
      { v: 2, type: 'remove', ref: 'x1', room: 'plans', user: 'Bob_2' },
      { v: 2, type: 'dm', user: 'bob' },
      { v: 2, type: 'delete_room', room: 'plans' },
      { v: 2, type: 'send', id: 'r1', room: 'general', text: 'yes', replyTo: 3 },
      { v: 2, type: 'history', room: 'general', around: 40 },
      { v: 2, type: 'react', ref: 'x', room: 'general', target: 3, emoji: '👍', on: true },
      { v: 2, type: 'search', ref: 's', query: 'lunch', room: 'dm:ann:bob', before: 'WzEsImEiLDFd' },
      { v: 2, type: 'send', id: 'f1', room: 'general', text: '', attachments: ['aB3_-x'] },
      { v: 2, type: 'block', ref: 'b', user: 'Bob_2' },
      { v: 2, type: 'unblock', user: 'bob' },
      { v: 2, type: 'unban', ref: 'u', room: 'plans', user: 'Bob_2' },
      { v: 2, type: 'bans', room: 'plans' },
      { v: 2, type: 'bans', ref: 'b', room: 'plans', after: 'Bob_2' },
      { v: 2, type: 'topic', ref: 't', room: 'plans', text: 'Friday plans' },
      { v: 2, type: 'topic', room: 'dm:ann:bob', text: '' },
    ];
    expect(new Set(valid.map((m) => m.type))).toEqual(new Set(CLIENT_TYPES));
    for (const m of valid)
      expect(parseClientMessage(JSON.stringify(m), 4096), JSON.stringify(m)).toEqual({
        ok: true,
        message: m,
      });
  });

  it('remove: a room that can be named (not a direct message), a user name, nothing else', () => {
    const remove = (fields: Record<string, unknown>) =>
      parseClientMessage(JSON.stringify({ v: 2, type: 'remove', ref: 'x', ...fields }), 4096);
    expect(remove({ room: 'plans' })).toEqual({
      ok: false,
      code: 'bad_message',
      message: 'remove needs user',
      ref: 'x',
    });
    expect(remove({ user: 'bob' })).toMatchObject({
      ok: false,
      code: 'bad_message',
      message: 'remove needs room',
    });
    expect(remove({ room: 'dm:ann:bob', user: 'bob' })).toMatchObject({ ok: false, code: 'bad_room_name' });
    expect(remove({ room: 'plans', user: 'not a name' })).toMatchObject({
      ok: false,
      code: 'bad_message',
      message: 'user must be a user name (1-24 of A-Z a-z 0-9 - _)',
    });
    expect(remove({ room: 'plans', user: 'bob', reason: 'spam' })).toMatchObject({
      ok: false,
      code: 'bad_message',
      message: 'unknown field "reason" for remove',
    });
  });

  it('unban and bans: a room that can be named (not a direct message); a user name, or as the cursor', () => {
    const parse = (fields: Record<string, unknown>) =>
      parseClientMessage(JSON.stringify({ v: 2, ...fields }), 4096);
    expect(parse({ type: 'unban', room: 'dm:ann:bob', user: 'bob' })).toMatchObject({
      ok: false,
      code: 'bad_room_name',
    });
    expect(parse({ type: 'unban', room: 'plans' })).toMatchObject({ ok: false, message: 'unban needs user' });
    expect(parse({ type: 'bans', room: 'dm:ann:bob' })).toMatchObject({ ok: false, code: 'bad_room_name' });
    expect(parse({ type: 'bans', room: 'plans', after: 'not a name' })).toMatchObject({
      ok: false,
      code: 'bad_message',
    });
    expect(parse({ type: 'bans', room: 'plans', user: 'bob' })).toMatchObject({
      ok: false,
      message: 'unknown field "user" for bans',
    });
  });

  it('members: any room the user can be in (direct messages too), a user name as the cursor', () => {
    const members = (fields: Record<string, unknown>) =>
      parseClientMessage(JSON.stringify({ v: 2, type: 'members', ref: 'm', ...fields }), 4096);
    expect(members({})).toEqual({ ok: false, code: 'bad_message', message: 'members needs room', ref: 'm' });
    expect(members({ room: 'Not A Room' })).toMatchObject({ ok: false, code: 'bad_room_name', ref: 'm' });
    expect(members({ room: 7 })).toMatchObject({
      ok: false,
      code: 'bad_message',
      message: 'room must be a string',
    });
    expect(members({ room: 'plans', after: '' })).toEqual({
      ok: false,
      code: 'bad_message',
      message: 'after must be a user name (1-24 of A-Z a-z 0-9 - _)',
      ref: 'm',
    });
    expect(members({ room: 'plans', after: 'x'.repeat(25) })).toMatchObject({
      ok: false,
      code: 'bad_message',
    });
    expect(members({ room: 'plans', limit: 5 })).toMatchObject({
      ok: false,
      code: 'bad_message',
      message: 'unknown field "limit" for members',
    });
  });

  it('names the request in its error: ref, and a send\u2019s id', () => {
    expect(parseClientMessage('{"v":2,"type":"send","id":"m1","room":"general","text":""}', 4096)).toEqual({
      ok: false,
      code: 'bad_message',
      message: 'text must not be empty',
      id: 'm1',
    });
    expect(parseClientMessage('{"v":2,"type":"join","ref":"r","room":"-x"}', 4096)).toMatchObject({
      ok: false,
      code: 'bad_room_name',
      ref: 'r',
    });
  });

  it('refuses text of only spaces or invisible characters, as it refuses empty text', () => {
    // Regression: "\u200B" (and other zero-width or format characters) passed the "not only spaces"
    // check, so a message nobody could see was stored and fanned out.
    const send = (text: string) => JSON.stringify({ v: 2, type: 'send', id: 'z1', room: 'general', text });
    const empty = { ok: false, code: 'bad_message', message: 'text must not be empty', id: 'z1' };
    expect(parseClientMessage(send('  \n '), 4096)).toEqual(empty);
    for (const text of ['\u200B', '\u200C\u200D', ' \u2060 ', '\uFEFF', '\u00AD\n\u202E', '\u3164'])
      expect(parseClientMessage(send(text), 4096), JSON.stringify(text)).toEqual(empty);
    expect(
      parseClientMessage('{"v":2,"type":"edit","room":"general","seq":1,"text":"\\u200b "}', 4096),
    ).toEqual({ ok: false, code: 'bad_message', message: 'text must not be empty' });
    // Files alone still need text to be exactly empty, not invisible.
    expect(
      parseClientMessage(
        JSON.stringify({
          v: 2,
          type: 'send',
          id: 'z1',
          room: 'general',
          text: '\u200B',
          attachments: ['a1'],
        }),
        4096,
      ),
    ).toEqual(empty);
  });

  it('keeps invisible characters that sit among visible text (ZWJ emoji, Persian ZWNJ)', () => {
    for (const text of ['\u{1F469}\u200D\u{1F4BB}', 'می\u200Cخواهم', '\u200Bhi'])
      expect(
        parseClientMessage(JSON.stringify({ v: 2, type: 'send', id: 'z2', room: 'general', text }), 4096),
      ).toMatchObject({ ok: true, message: { text } });
  });

  it('keeps direct message rooms out of create, join and invite', () => {
    for (const type of ['create', 'join', 'delete_room'])
      expect(parseClientMessage(JSON.stringify({ v: 2, type, room: 'dm:a:b' }), 10)).toMatchObject({
        code: 'bad_room_name',
      });
  });

  it('measures the text limit in UTF-8 bytes', () => {
    const at = JSON.stringify({ v: 2, type: 'send', id: 'a', room: 'r', text: '€'.repeat(3) }); // 9 bytes
    expect(parseClientMessage(at, 9).ok).toBe(true);
    expect(parseClientMessage(at, 8)).toMatchObject({ ok: false, code: 'text_too_long' });
  });

  it('refuses text and queries with a lone surrogate, which UTF-8 cannot carry', () => {
    // Regression: "x\ud800y" was acknowledged and sent live as it was (JSON escapes it), but SQLite
    // stored it as three U+FFFD, so history differed from what everyone had been shown.
    const send = (text: string) => `{"v":2,"type":"send","id":"s1","room":"general","text":"${text}"}`;
    expect(parseClientMessage(send('x\\ud800y'), 4096)).toEqual({
      ok: false,
      code: 'bad_message',
      message: 'text must be valid Unicode (no lone surrogate)',
      id: 's1',
    });
    expect(parseClientMessage(send('\\udc00'), 4096)).toMatchObject({ code: 'bad_message' });
    expect(
      parseClientMessage('{"v":2,"type":"edit","room":"general","seq":1,"text":"a\\ud83d"}', 4096),
    ).toMatchObject({ code: 'bad_message' });
    expect(parseClientMessage('{"v":2,"type":"search","query":"pic\\udfffnic"}', 4096)).toMatchObject({
      code: 'bad_message',
      message: 'query must be valid Unicode (no lone surrogate)',
    });
    expect(parseClientMessage(send('smile \\ud83d\\ude00'), 4096)).toMatchObject({ ok: true }); // a pair: 😀
  });

  it('rejects version 1 with the version it speaks, prototype tricks and wrong types', () => {
    expect(parseClientMessage('{"v":1,"type":"hello"}', 10)).toMatchObject({
      code: 'unsupported_version',
      message: 'this server speaks version 2: v must be 2',
    });
    expect(parseClientMessage('{"v":2,"type":"hasOwnProperty"}', 10)).toMatchObject({ code: 'unknown_type' });
    expect(parseClientMessage('{"v":2,"type":"hello","rooms":{"general":-1}}', 10)).toMatchObject({
      code: 'bad_message',
    });
    expect(parseClientMessage('{"v":2,"type":"read","room":"general","seq":"4"}', 10)).toMatchObject({
      code: 'bad_message',
    });
  });

  it('takes tags of 1-16 of A-Z a-z 0-9 - _ in hello (per room), sync and read', () => {
    const hello = (tags: unknown) => parseClientMessage(JSON.stringify({ v: 2, type: 'hello', tags }), 4096);
    const sync = (tag: unknown) =>
      parseClientMessage(JSON.stringify({ v: 2, type: 'sync', room: 'general', after: 1, tag }), 4096);
    expect(hello({ general: 'x'.repeat(16) }).ok).toBe(true);
    for (const bad of [
      [],
      'abc',
      { general: '' },
      { general: 'x'.repeat(17) },
      { general: 'a.b' },
      { general: 7 },
    ])
      expect(hello(bad), JSON.stringify(bad)).toEqual({
        ok: false,
        code: 'bad_message',
        message:
          Array.isArray(bad) || typeof bad === 'string'
            ? 'tags must be an object of room name to tag'
            : 'tags must map room names to tags',
      });
    expect(hello({ 'Not a room': 'abc' })).toMatchObject({
      ok: false,
      message: 'tags must map room names to tags',
    });
    const read = (tag: unknown) =>
      parseClientMessage(JSON.stringify({ v: 2, type: 'read', room: 'general', seq: 1, tag }), 4096);
    for (const one of [sync, read]) {
      expect(one('x'.repeat(16)).ok).toBe(true);
      for (const bad of ['', 'x'.repeat(17), 'a b', 3])
        expect(one(bad)).toEqual({
          ok: false,
          code: 'bad_message',
          message: 'tag must be 1-16 characters of A-Z a-z 0-9 - _',
        });
    }
  });

  it('accepts one emoji per reaction: ZWJ sequences, skin tones, flags, keycaps, at most 32 bytes', () => {
    const react = (emoji: string) =>
      parseClientMessage(JSON.stringify({ v: 2, type: 'react', room: 'g', target: 1, emoji, on: true }), 10);
    for (const emoji of ['👍', '❤️', '👍🏽', '👩‍💻', '🏳️‍🌈', '🇫🇷', '1️⃣', '#⃣', '👨‍👩‍👧‍👦', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '©️'])
      expect(react(emoji).ok, emoji).toBe(true);
    for (const emoji of ['', 'a', '👍👍', '👍 ', ':)', '🇫', '🇫🇷🇩🇪', '<b>', '\u200d', '👍\u200d', '1'])
      expect(react(emoji), JSON.stringify(emoji)).toMatchObject({ ok: false, code: 'bad_emoji' });
    // Nine ZWJ-joined pictographs are one pattern match but 9 * 4 + 8 * 3 = 60 bytes.
    expect(react(Array(9).fill('👩').join('\u200d'))).toMatchObject({ ok: false, code: 'bad_emoji' });
    expect(
      parseClientMessage('{"v":2,"type":"react","room":"g","target":1,"emoji":"👍","on":"yes"}', 10),
    ).toMatchObject({ ok: false, code: 'bad_message' });
  });

  it('takes a reply target and a history anchor as seqs; before, around and after exclude each other', () => {
    const send = (replyTo: unknown) =>
      parseClientMessage(JSON.stringify({ v: 2, type: 'send', id: 'a', room: 'g', text: 't', replyTo }), 10);
    expect(send(0)).toMatchObject({ ok: false, code: 'bad_message', id: 'a' });
    expect(send('3')).toMatchObject({ ok: false, code: 'bad_message' });
    expect(parseClientMessage('{"v":2,"type":"history","room":"g","before":5,"around":3}', 10)).toMatchObject(
      { ok: false, code: 'bad_message', message: 'history takes one of before, around and after' },
    );
    expect(parseClientMessage('{"v":2,"type":"history","room":"g","after":0,"around":3}', 10)).toMatchObject({
      code: 'bad_message',
    });
    expect(parseClientMessage('{"v":2,"type":"history","room":"g","after":0}', 10).ok).toBe(true);
  });
});
describe('normalizeEmoji', () => {
  it('gives a lone text-style pictograph its emoji selector and leaves every other emoji as it is', () => {
    expect(normalizeEmoji('❤')).toBe('❤\uFE0F');
    expect(normalizeEmoji('☺')).toBe('☺\uFE0F');
    for (const emoji of ['❤️', '👍', '👍🏽', '👩‍💻', '🇫🇷', '1️⃣', '©️'])
      expect(normalizeEmoji(emoji)).toBe(emoji);
  });
});

describe('topic', () => {
  const parse = (text: unknown) =>
    parseClientMessage(JSON.stringify({ v: 2, type: 'topic', room: 'plans', text }), 4096);
  it('is one line of at most MAX_TOPIC_CHARS code points once trimmed, or "" to clear', () => {
    expect(normalizeTopic('  Friday\u00A0 ')).toBe('Friday');
    for (const ok of [
      '',
      '   ',
      'x'.repeat(MAX_TOPIC_CHARS),
      `  ${'😀'.repeat(MAX_TOPIC_CHARS)}  `,
      'مرحبا',
      '👩‍💻 team',
    ])
      expect(parse(ok).ok, JSON.stringify(ok)).toBe(true);
    expect(parse('x'.repeat(MAX_TOPIC_CHARS + 1))).toMatchObject({
      ok: false,
      code: 'bad_message',
      message: `text is longer than ${MAX_TOPIC_CHARS} characters`,
    });
    // Regression: the bidi overrides, embeddings and isolates were let through (format characters,
    // not Cc), and an override reversed the rest of the line the page shows the topic in.
    const bidi = [
      '\u202Aa',
      'b\u202B',
      '\u202Cc',
      'd\u202D',
      'evil\u202Etxt.exe',
      '\u2066f',
      '\u2067g',
      '\u2068h',
      'i\u2069',
    ];
    expect(parse('\u200Fمرحبا\u200E').ok).toBe(true); // the marks are no override
    for (const bad of ['a\nb', 'tab\there', ' trailing\n', 'bell\u0007', 'c1\u0085', ...bidi])
      expect(parse(bad), JSON.stringify(bad)).toMatchObject({
        ok: false,
        code: 'bad_message',
        message: 'text must be one line without control characters',
      });
    expect(parse('\u200B\u2060')).toMatchObject({
      ok: false,
      message: 'text must be visible text, or "" to clear it',
    });
    expect(parse('\uD800')).toMatchObject({ ok: false, code: 'bad_message' });
    expect(parse(7)).toMatchObject({ ok: false, message: 'text must be a string' });
  });
});
