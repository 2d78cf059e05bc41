/**
 * The store contract for issue #16 (reactions, replies, mentions, messagesAfter), written once and
 * run on every backend beside store-contract.ts: test/backends/sqlite/store.test.ts and
 * test/redis/store.test.ts. Both stores must give the same answers (the protocol doc's examples
 * compare exact JSON on both).
 */
import { describe, expect, it } from 'vitest';
import type { ReactInput } from '../../src/server/ports.js';
import { asMembers } from './members.js';
import { type StoreUnderTest, untagged } from './store-contract.js';

const quotas = { maxRooms: 100, maxOwnedRooms: 10 };
const room = (name: string) => ({ name, kind: 'public' as const, owner: 'x', createdAt: 500 });
const send = (
  user: string,
  clientId: string,
  text: string,
  extra: { replyTo?: number; mentions?: string[] } = {},
) => ({ type: 'message', room: 'a', user, clientId, text, ts: 1000, ...extra }) as const;
const react = (user: string, target: number, emoji: string, on = true, maxEmoji = 20): ReactInput => ({
  room: 'a',
  user,
  target,
  emoji,
  on,
  ts: 2000,
  maxEmoji,
});

export function messagePartsContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: reactions, replies, mentions`, () => {
    it('logs a reaction change as a `reacted` event with the next seq; an unchanged state logs nothing', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.appendEvent(send('ann', 'c1', 'hello'));
      expect(await rooms.react(react('ben', 1, '👍'))).toEqual({
        ok: true,
        event: {
          type: 'reacted',
          room: 'a',
          seq: 2,
          target: 1,
          user: 'ben',
          emoji: '👍',
          on: true,
          ts: 2000,
        },
      });
      // Idempotent: on again (or off when off) changes nothing and answers with the head.
      expect(await rooms.react(react('ben', 1, '👍'))).toEqual({ ok: true, event: null, head: 2 });
      expect(await rooms.react(react('ann', 1, '🎉', false))).toEqual({ ok: true, event: null, head: 2 });
      expect(await rooms.head('a')).toBe(2);
      await rooms.react(react('ann', 1, '👍'));
      await rooms.react(react('Cat', 1, '❤️'));
      await rooms.react(react('ann', 1, '🎉'));
      await rooms.react(react('ann', 1, '🎉', false));
      // Emoji and users in code point order ('Cat' < 'ann'), whatever order they came in.
      const expected = { '❤️': ['Cat'], '👍': ['ann', 'ben'] };
      expect((await rooms.messagesBefore('a', 99, 10))[0].reactions).toEqual(expected);
      expect(JSON.stringify(Object.keys((await rooms.messagesAfter('a', 0, 10))[0].reactions ?? {}))).toBe(
        JSON.stringify(Object.keys(expected)),
      );
      const log = await rooms.eventsAfter('a', 0, 10);
      expect(
        log.map((e) => (e.type === 'reacted' ? `${e.seq}${e.emoji}${e.on ? '+' : '-'}` : e.type)),
      ).toEqual(['message', '2👍+', '3👍+', '4❤️+', '5🎉+', '6🎉-']);
      // The replayed message shows its reactions as they are now.
      expect(log[0]).toMatchObject({ type: 'message', message: { seq: 1, reactions: expected } });
    });

    it('refuses reactions to what is not a live message of the room, and a new emoji beyond the cap', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.appendEvent(send('ann', 'c1', 'one'));
      await rooms.appendEvent(send('ann', 'c2', 'two'));
      expect(await rooms.react(react('ben', 9, '👍'))).toEqual({ ok: false, reason: 'not_found' });
      expect(await rooms.react({ ...react('ben', 1, '👍'), room: 'zz' })).toEqual({
        ok: false,
        reason: 'no_room',
      });
      expect((await rooms.react(react('ben', 1, '👍', true, 2))).ok).toBe(true);
      expect((await rooms.react(react('ben', 1, '👀', true, 2))).ok).toBe(true);
      expect(await rooms.react(react('ben', 1, '🎉', true, 2))).toEqual({
        ok: false,
        reason: 'too_many_reactions',
      });
      // An emoji already there is not a new one.
      expect((await rooms.react(react('cat', 1, '👀', true, 2))).ok).toBe(true);
      const head = await rooms.head('a');
      // A reaction event's seq is not a message.
      expect(await rooms.react(react('ben', head, '👍'))).toEqual({ ok: false, reason: 'not_found' });
      // Deleting a message drops its reactions; it takes no more.
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 3 });
      expect(await rooms.react(react('ben', 1, '🎉'))).toEqual({ ok: false, reason: 'not_found' });
      const [two, one] = await rooms.messagesBefore('a', 99, 10);
      expect(one).toEqual({ room: 'a', seq: 1, id: 'c1', user: 'ann', text: '', ts: 1000, deleted: true });
      expect(two.reactions).toBeUndefined();
      expect(await rooms.head('a')).toBe(head + 1);
    });

    it('quotes the replied-to message: as sent in the live event, as it is now in history and replay', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      // 250 characters, astral ones included: the excerpt keeps 200 code points.
      const long = '😀'.repeat(150) + 'x'.repeat(100);
      await rooms.appendEvent(send('ann', 'c1', long));
      expect(await rooms.appendEvent(send('ben', 'r0', 'no', { replyTo: 7 }))).toEqual({
        ok: false,
        reason: 'not_found',
      });
      expect(await rooms.head('a')).toBe(1); // nothing stored
      const sent = await rooms.appendEvent(send('ben', 'r1', 'agreed', { replyTo: 1 }));
      const quote = { seq: 1, user: 'ann', text: '😀'.repeat(150) + 'x'.repeat(50) };
      expect(sent).toMatchObject({ ok: true, event: { type: 'message', message: { seq: 2, reply: quote } } });
      // A resend of the same client id answers with the stored message, quote included.
      expect(await rooms.appendEvent(send('ben', 'r1', 'agreed', { replyTo: 1 }))).toMatchObject({
        duplicate: true,
        event: { message: { seq: 2, reply: quote } },
      });
      await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'short now', ts: 3 });
      const edited = { seq: 1, user: 'ann', text: 'short now' };
      expect((await rooms.messagesBefore('a', 99, 1))[0].reply).toEqual(edited);
      expect((await rooms.messagesAfter('a', 1, 1))[0].reply).toEqual(edited);
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 4 });
      const gone = { seq: 1, user: 'ann', text: '', deleted: true };
      expect((await rooms.messagesBefore('a', 99, 1))[0].reply).toEqual(gone);
      const replay = await rooms.eventsAfter('a', 0, 10);
      expect(replay[1]).toMatchObject({ type: 'message', message: { seq: 2, reply: gone } });
      expect(JSON.stringify(replay)).not.toMatch(/😀|short/);
      // A deleted message cannot be replied to.
      expect(await rooms.appendEvent(send('ben', 'r2', 'late', { replyTo: 1 }))).toEqual({
        ok: false,
        reason: 'not_found',
      });
      // A deleted reply loses its quote with its text.
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ben', target: 2, ts: 5 });
      expect((await rooms.messagesBefore('a', 99, 1))[0]).toEqual({
        room: 'a',
        seq: 2,
        id: 'r1',
        user: 'ben',
        text: '',
        ts: 1000,
        deleted: true,
      });
    });

    it('keeps mentions with the message and counts unread mentions, following edits and deletes', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.join('ben', 'a', 10);
      const m1 = await rooms.appendEvent(send('ann', 'c1', 'hi @ben @Ann', { mentions: ['ann', 'ben'] }));
      expect(m1).toMatchObject({ event: { message: { mentions: ['ann', 'ben'] } } });
      await rooms.appendEvent(send('ann', 'c2', '@ben again', { mentions: ['ben'] }));
      await rooms.appendEvent(send('ben', 'c3', 'me @ben', { mentions: ['ben'] })); // one's own: not counted
      await rooms.appendEvent(send('ann', 'c4', 'no one'));
      expect(await rooms.mentionCount('a', 'ben', 0)).toBe(2);
      expect(await rooms.mentionCount('a', 'ben', 1)).toBe(1);
      expect(await rooms.mentionCount('a', 'ann', 0)).toBe(0); // her own message
      expect((await rooms.messagesBefore('a', 99, 10)).map((m) => m.mentions)).toEqual([
        undefined,
        ['ben'],
        ['ben'],
        ['ann', 'ben'],
      ]);
      // An edit replaces the mentions (and its event says so); a delete drops them.
      const edit = await rooms.appendEvent({
        type: 'edit',
        room: 'a',
        user: 'ann',
        target: 1,
        text: 'hi all',
        ts: 3,
      });
      expect(edit.ok && edit.event.type === 'edited' && 'mentions' in edit.event).toBe(false);
      expect(await rooms.mentionCount('a', 'ben', 0)).toBe(1);
      const edit2 = await rooms.appendEvent({
        type: 'edit',
        room: 'a',
        user: 'ann',
        target: 4,
        text: 'now @ben',
        ts: 3,
        mentions: ['ben'],
      });
      expect(edit2).toMatchObject({ event: { type: 'edited', mentions: ['ben'] } });
      expect(await rooms.mentionCount('a', 'ben', 0)).toBe(2);
      expect((await rooms.messagesAfter('a', 3, 1))[0].mentions).toEqual(['ben']);
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 4, ts: 4 });
      expect(await rooms.mentionCount('a', 'ben', 0)).toBe(1);
      // The replayed edit of a deleted message keeps neither its text nor its mentions.
      const replayed = untagged(rooms, await rooms.eventsAfter('a', 0, 20)).filter(
        (e) => e.type === 'edited',
      );
      expect(replayed.at(-1)).toEqual({
        type: 'edited',
        room: 'a',
        seq: 6,
        target: 4,
        user: 'ann',
        text: '',
        ts: 3,
      });
      // Deleting the room forgets its mentions: the name's next room starts with none.
      await rooms.deleteRoom('a');
      await rooms.createRoom(room('a'), quotas);
      expect(await rooms.mentionCount('a', 'ben', 0)).toBe(0);
      expect(await rooms.messagesAfter('a', 0, 10)).toEqual([]);
    });

    it('pages messages after a seq oldest first, skipping other events', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      for (let i = 1; i <= 4; i++) await rooms.appendEvent(send('ann', `c${i}`, `m${i}`));
      await rooms.react(react('ben', 2, '👍'));
      await rooms.appendEvent(send('ann', 'c5', 'm5'));
      expect((await rooms.messagesAfter('a', 1, 3)).map((m) => m.seq)).toEqual([2, 3, 4]);
      expect((await rooms.messagesAfter('a', 4, 3)).map((m) => m.seq)).toEqual([6]);
    });
  });
}
