/**
 * The store contract (ports.ts: AccountStore and RoomStore), written once and run against every
 * backend: test/backends/sqlite/store.test.ts and test/redis/store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SESSIONS_PER_USER, SESSION_TTL_MS } from '../../src/server/http/session.js';
import type { AccountStore, RoomStore } from '../../src/server/ports.js';
import { LOG_TAG, type RoomEvent } from '../../src/shared/protocol.js';
import { asMembers } from './members.js';

export interface StoreUnderTest {
  accounts: AccountStore;
  rooms: RoomStore;
}

const msg = (room: string, user: string, clientId: string, text = clientId) =>
  ({ type: 'message', room, user, clientId, text, ts: 1000 }) as const;
const quotas = { maxRooms: 100, maxOwnedRooms: 10 };
const room = (name: string, owner: string | null = 'x', kind: 'public' | 'private' | 'dm' = 'public') => ({
  name,
  kind,
  owner,
  createdAt: 500,
});

/**
 * The events without their `tag`: a store that tags events (it implements `headTag`: Redis) must tag
 * each one (LOG_TAG), one that does not must tag none.
 */
export function untagged(rooms: RoomStore, events: RoomEvent[]): RoomEvent[] {
  return events.map(({ tag, ...event }) => {
    if (rooms.headTag) expect(tag).toMatch(LOG_TAG);
    else expect(tag).toBeUndefined();
    return event as RoomEvent;
  });
}

export function storeContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: the store contract`, () => {
    it('keeps topic events for history (topicEvents: a seq range, the newest `limit`, oldest first) and reads counts with the topic (roomCounts)', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a', 'ann'), quotas);
      await rooms.join('ann', 'a', 100);
      const topic = (text: string) => rooms.setTopic({ room: 'a', user: 'ann', text, ts: 2000 });
      await rooms.appendEvent(msg('a', 'ben', 'b1')); // 1
      expect(await topic('one')).toMatchObject({ ok: true, event: { seq: 2 } });
      await rooms.appendEvent(msg('a', 'ben', 'b2')); // 3
      expect(await topic('two')).toMatchObject({ ok: true, event: { seq: 4 } });
      expect(await topic('')).toMatchObject({ ok: true, event: { seq: 5 } });
      const line = (seq: number, text: string) => ({
        type: 'topic',
        room: 'a',
        seq,
        user: 'ann',
        text,
        ts: 2000,
      });
      expect(await rooms.topicEvents('a', 0, 5, 10)).toEqual([line(2, 'one'), line(4, 'two'), line(5, '')]);
      expect(await rooms.topicEvents('a', 2, 4, 10)).toEqual([line(4, 'two')]);
      expect(await rooms.topicEvents('a', 0, 5, 2)).toEqual([line(4, 'two'), line(5, '')]);
      expect(await rooms.topicEvents('a', 5, 9, 10)).toEqual([]);
      expect(await rooms.topicEvents('nope', 0, 9, 10)).toEqual([]);
      // ben's two messages are unread to ann from 0, not to ben; the topic goes with the counts.
      expect(await rooms.roomCounts('a', 'ann', 0)).toEqual({ unread: 2, mentions: 0 });
      await topic('three');
      expect(await rooms.roomCounts('a', 'ann', 0)).toEqual({ unread: 2, mentions: 0, topic: 'three' });
      expect(await rooms.roomCounts('a', 'ben', 0)).toEqual({ unread: 0, mentions: 0, topic: 'three' });
      expect(await rooms.roomCounts('a', 'ann', 3)).toMatchObject({ unread: 0 });
      // Deleted, its topic events go with it.
      expect(await rooms.deleteRoom('a')).toBe(true);
      expect(await rooms.topicEvents('a', 0, 9, 10)).toEqual([]);
    });

    it('numbers events per room from 1 without gaps and dedups by (room, user, client id)', async () => {
      const rooms = asMembers((await open()).rooms);
      expect(await rooms.createRoom(room('a'), quotas)).toBe('created');
      expect(await rooms.createRoom(room('a'), quotas)).toBe('exists');
      await rooms.createRoom(room('b'), quotas);
      const r1 = await rooms.appendEvent(msg('a', 'ann', 'c1', 'héllo "quoted" / <b>'));
      const r2 = await rooms.appendEvent(msg('b', 'ann', 'c2'));
      const r3 = await rooms.appendEvent(msg('a', 'ben', 'c1')); // same id, other user: a new message
      const dup = await rooms.appendEvent(msg('a', 'ann', 'c1', 'héllo "quoted" / <b>'));
      expect([r1, r2, r3].map((r) => r.ok && r.event.type === 'message' && r.event.message.seq)).toEqual([
        1, 1, 2,
      ]);
      expect(dup).toMatchObject({
        ok: true,
        duplicate: true,
        event: { message: { seq: 1, text: 'héllo "quoted" / <b>', user: 'ann', id: 'c1' } },
      });
      expect(await rooms.head('a')).toBe(2);
      expect(await rooms.appendEvent(msg('nope', 'ann', 'c9'))).toEqual({ ok: false, reason: 'no_room' });
      expect(untagged(rooms, await rooms.eventsAfter('a', 0, 10))[0]).toEqual({
        type: 'message',
        message: { room: 'a', seq: 1, id: 'c1', user: 'ann', text: 'héllo "quoted" / <b>', ts: 1000 },
      });
    });

    it('scopes a client id to its room: the same id in another room is a new message, not a duplicate', async () => {
      // Regression: SQLite deduplicated by (user, id) across rooms, so a send to room b with an id
      // used in room a was acknowledged as a's message and lost; Redis stored it. Now both store it.
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.createRoom(room('b'), quotas);
      await rooms.appendEvent(msg('a', 'ann', 'c1', 'in a'));
      const other = await rooms.appendEvent(msg('b', 'ann', 'c1', 'in b'));
      expect(other).toMatchObject({
        ok: true,
        duplicate: false,
        event: { message: { room: 'b', seq: 1, id: 'c1', text: 'in b' } },
      });
      // A resend to b is still recognised as b's message.
      expect(await rooms.appendEvent(msg('b', 'ann', 'c1', 'in b'))).toMatchObject({
        duplicate: true,
        event: { message: { room: 'b', seq: 1 } },
      });
      expect(await rooms.head('b')).toBe(1);
    });

    it('refuses a client id reused for another text, reply target or files, storing nothing', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.appendEvent(msg('a', 'ann', 'c0', 'first'));
      const files = [{ id: 'f1', name: 'x.png', type: 'image/png', size: 3 }];
      const original = { ...msg('a', 'ann', 'c1', 'hello'), replyTo: 1, attachments: files };
      expect(await rooms.appendEvent(original)).toMatchObject({ ok: true, duplicate: false });
      const reused = [
        { ...original, text: 'hello!' },
        { ...original, replyTo: undefined },
        { ...original, attachments: undefined },
        { ...original, attachments: [...files, { ...files[0], id: 'f2' }] },
      ];
      for (const input of reused)
        expect(await rooms.appendEvent(input)).toEqual({ ok: false, reason: 'id_reused' });
      expect(await rooms.head('a')).toBe(2);
      expect((await rooms.messagesAfter('a', 0, 10)).map((m) => m.text)).toEqual(['first', 'hello']);
      // The same content again is the duplicate it always was: the original seq, nothing stored. Only
      // what was sent counts: mentions and a file's description are the server's, not the key's.
      const again = await rooms.appendEvent({
        ...original,
        ts: 9999,
        mentions: ['ben'],
        attachments: [{ ...files[0], name: 'renamed.png' }],
      });
      expect(again).toMatchObject({
        ok: true,
        duplicate: true,
        event: { message: { seq: 2, text: 'hello' } },
      });
      expect(await rooms.head('a')).toBe(2);
    });

    it("looks a send up by its dedup key without writing: the author's own stored message, or nothing", async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.createRoom(room('b'), quotas);
      await rooms.appendEvent(msg('a', 'ann', 'c0', 'first'));
      const files = [{ id: 'f1', name: 'x.png', type: 'image/png', size: 3 }];
      await rooms.appendEvent({ ...msg('a', 'ann', 'c1', 'hello'), replyTo: 1, attachments: files });
      const key = { room: 'a', user: 'ann', clientId: 'c1', text: 'hello', replyTo: 1, attachments: ['f1'] };
      expect(await rooms.storedSend(key)).toMatchObject({
        ok: true,
        message: { room: 'a', seq: 2, id: 'c1', user: 'ann', text: 'hello', ts: 1000, attachments: files },
      });
      // Another content under that id: what appendEvent answers, id_reused.
      for (const other of [
        { text: 'hello!' },
        { replyTo: undefined },
        { attachments: [] },
        { attachments: ['f2'] },
      ])
        expect(await rooms.storedSend({ ...key, ...other })).toEqual({ ok: false, reason: 'id_reused' });
      // Only the author's key: another user, another room, an id never used find nothing.
      expect(await rooms.storedSend({ ...key, user: 'ben' })).toBeNull();
      expect(await rooms.storedSend({ ...key, room: 'b' })).toBeNull();
      expect(await rooms.storedSend({ ...key, clientId: 'c9' })).toBeNull();
      expect(await rooms.storedSend({ ...key, room: 'nope' })).toBeNull();
      // Nothing was written by the lookups: no event, and the ids looked up are still new.
      expect(await rooms.head('a')).toBe(2);
      expect(await rooms.head('b')).toBe(0);
      expect(await rooms.appendEvent(msg('a', 'ann', 'c9'))).toMatchObject({ duplicate: false });
      // Deleted by its author since: still the stored message (deleted), under its seq.
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 2, ts: 3 });
      expect(await rooms.storedSend(key)).toMatchObject({ ok: true, message: { seq: 2, deleted: true } });
      // The room deleted (its log gone), even if created again under its name: nothing to answer with.
      await rooms.deleteRoom('a');
      expect(await rooms.storedSend(key)).toBeNull();
      await rooms.createRoom(room('a'), quotas);
      expect(await rooms.storedSend(key)).toBeNull();
      await rooms.appendEvent(msg('a', 'ann', 'x'));
      expect(await rooms.storedSend(key)).toBeNull();
    });

    it('compares a resend with the message as first sent, not as edited or deleted since', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.appendEvent(msg('a', 'ann', 'c1', 'tpyo'));
      await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'typo', ts: 2 });
      expect(await rooms.appendEvent(msg('a', 'ann', 'c1', 'tpyo'))).toMatchObject({
        duplicate: true,
        event: { message: { seq: 1, text: 'typo' } },
      });
      expect(await rooms.appendEvent(msg('a', 'ann', 'c1', 'typo'))).toEqual({
        ok: false,
        reason: 'id_reused',
      });
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 3 });
      expect(await rooms.appendEvent(msg('a', 'ann', 'c1', 'tpyo'))).toMatchObject({
        duplicate: true,
        event: { message: { seq: 1, deleted: true } },
      });
      expect(await rooms.head('a')).toBe(3);
    });

    it('records edits and deletes as events; a deleted text is gone from history and replay', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.appendEvent(msg('a', 'ann', 'c1', 'one'));
      expect(
        await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ben', target: 1, text: 'x', ts: 2 }),
      ).toEqual({
        ok: false,
        reason: 'forbidden',
      });
      expect(
        await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 9, text: 'x', ts: 2 }),
      ).toEqual({
        ok: false,
        reason: 'not_found',
      });
      await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'uno', ts: 2 });
      expect((await rooms.messagesBefore('a', 99, 10))[0]).toMatchObject({ text: 'uno', editedAt: 2 });
      expect((await rooms.eventsAfter('a', 0, 10)).map((e) => e.type)).toEqual(['message', 'edited']);
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 3 });
      expect(await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 4 })).toEqual({
        ok: false,
        reason: 'not_found',
      });
      const replay = await rooms.eventsAfter('a', 0, 10);
      expect(replay.map((e) => e.type)).toEqual(['message', 'edited', 'deleted']);
      expect(JSON.stringify(replay)).not.toMatch(/one|uno/);
      expect((await rooms.messagesBefore('a', 99, 10))[0]).toMatchObject({ seq: 1, text: '', deleted: true });
    });

    it('pages history newest first and replays oldest first', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      for (let i = 1; i <= 7; i++) await rooms.appendEvent(msg('a', 'ann', `c${i}`));
      expect((await rooms.messagesBefore('a', 6, 3)).map((m) => m.seq)).toEqual([5, 4, 3]);
      expect((await rooms.eventsAfter('a', 4, 2)).map((e) => e.type === 'message' && e.message.seq)).toEqual([
        5, 6,
      ]);
    });

    it('counts unread messages by others after the read marker; the marker never moves back', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      expect(await rooms.join('ann', 'a', 10)).toBe('joined');
      expect(await rooms.join('ann', 'a', 10)).toBe('member');
      await rooms.appendEvent(msg('a', 'ben', 'b1'));
      await rooms.appendEvent(msg('a', 'ann', 'a1'));
      await rooms.appendEvent(msg('a', 'ben', 'b2'));
      expect(await rooms.unreadCount('a', 'ann', 0)).toBe(2);
      expect(await rooms.markRead('ann', 'a', 2)).toEqual({ seq: 2, moved: true });
      expect(await rooms.markRead('ann', 'a', 1)).toEqual({ seq: 2, moved: false });
      expect(await rooms.markRead('ann', 'a', 2)).toEqual({ seq: 2, moved: false });
      expect(await rooms.markRead('ann', 'a', 99)).toEqual({ seq: 3, moved: true }); // never past head
      expect(await rooms.markRead('nobody', 'a', 3)).toEqual({ seq: 0, moved: false }); // not a member
      expect(await rooms.memberships('ann')).toEqual([
        { room: 'a', kind: 'public', owner: 'x', lastRead: 3 },
      ]);
      expect(await rooms.unreadCount('a', 'ann', 2)).toBe(1);
    });

    it("moves the marker for a read naming its event's tag; a store that tags events keeps it for another", async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      await rooms.join('ann', 'a', 10);
      for (const id of ['b1', 'b2', 'b3']) await rooms.appendEvent(msg('a', 'ben', id));
      const events = await rooms.eventsAfter('a', 0, 10);
      // A store without tags (SQLite) ignores any tag: a seq there is always one event.
      const tag = (seq: number) => events[seq - 1].tag ?? 'AAAAAAAA';
      const other = (seq: number) => (tag(seq) === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA');
      expect(await rooms.markRead('ann', 'a', 2, tag(2))).toEqual({ seq: 2, moved: true });
      // Redis: a tagged seq the counter is below, or another event's tag, proves the client's
      // events are gone from the log: the marker stays. Without a tag the marker clamps as ever.
      expect(await rooms.markRead('ann', 'a', 9, tag(3))).toEqual(
        rooms.headTag ? { seq: 2, moved: false } : { seq: 3, moved: true },
      );
      expect((await rooms.markRead('ann', 'a', 3, other(3))).seq).toBe(rooms.headTag ? 2 : 3);
      expect((await rooms.markRead('ann', 'a', 3, tag(3))).seq).toBe(3);
      expect(await rooms.memberships('ann')).toEqual([
        { room: 'a', kind: 'public', owner: 'x', lastRead: 3 },
      ]);
    });

    it('caps rooms per owner, in total, and memberships per user', async () => {
      const rooms = asMembers((await open()).rooms);
      const q = { maxRooms: 3, maxOwnedRooms: 2 };
      expect(await rooms.createRoom(room('a1', 'ann'), q)).toBe('created');
      expect(await rooms.createRoom(room('a2', 'ann'), q)).toBe('created');
      expect(await rooms.createRoom(room('a3', 'ann'), q)).toBe('owner_quota');
      expect(await rooms.createRoom(room('b1', 'ben'), q)).toBe('created');
      expect(await rooms.createRoom(room('b2', 'ben'), q)).toBe('server_quota');
      // Direct messages count against neither.
      expect(await rooms.createRoom(room('dm:ann:ben', null, 'dm'), q)).toBe('created');
      expect(await rooms.join('ann', 'a1', 2)).toBe('joined');
      expect(await rooms.join('ann', 'a2', 2)).toBe('joined');
      expect(await rooms.join('ann', 'b1', 2)).toBe('too_many_rooms');
      expect(await rooms.join('ann', 'zz', 2)).toBe('no_room');
      // Deleting gives the quota back.
      expect(await rooms.deleteRoom('a1')).toBe(true);
      expect(await rooms.memberships('ann')).toEqual([
        { room: 'a2', kind: 'public', owner: 'ann', lastRead: 0 },
      ]);
      expect(await rooms.createRoom(room('a3', 'ann'), q)).toBe('created');
    });

    it('refuses the writes of a user who is not a member, after answering the resend of their own message', async () => {
      const { rooms } = await open(); // the bare store: nobody is joined for the test
      await rooms.createRoom(room('a'), quotas);
      const react = (user: string, on: boolean) =>
        rooms.react({ room: 'a', user, target: 1, emoji: '👍', on, ts: 1001, maxEmoji: 20 });
      const notMember = { ok: false, reason: 'not_member' };
      // A public room's membership is stored too: not joined, not written.
      expect(await rooms.appendEvent(msg('a', 'ann', 'c0'))).toEqual(notMember);
      expect(await rooms.head('a')).toBe(0);
      expect(await rooms.join('ann', 'a', 10)).toBe('joined');
      expect(await rooms.appendEvent(msg('a', 'ann', 'c1'))).toMatchObject({ ok: true, duplicate: false });
      expect(await react('ann', true)).toMatchObject({ ok: true, event: { seq: 2 } });
      expect(await rooms.leave('ann', 'a', 2000)).toBe(true);
      // Dedup first: the resend of her stored message is still its duplicate; another text reusing
      // the id is still id_reused.
      expect(await rooms.appendEvent(msg('a', 'ann', 'c1'))).toMatchObject({
        ok: true,
        duplicate: true,
        event: { message: { seq: 1, id: 'c1' } },
      });
      expect(await rooms.appendEvent(msg('a', 'ann', 'c1', 'other'))).toEqual({
        ok: false,
        reason: 'id_reused',
      });
      // Everything else is refused, even what would change nothing (a reaction already so).
      expect(await rooms.appendEvent(msg('a', 'ann', 'c2'))).toEqual(notMember);
      expect(await rooms.appendEvent({ ...msg('a', 'ann', 'c3'), replyTo: 1 })).toEqual(notMember);
      expect(
        await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'x', ts: 1002 }),
      ).toEqual(notMember);
      expect(
        await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 1003 }),
      ).toEqual(notMember);
      expect(await react('ann', true)).toEqual(notMember);
      expect(await react('ann', false)).toEqual(notMember);
      expect(await rooms.head('a')).toBe(2);
      expect(await rooms.messagesBefore('a', 99, 10)).toMatchObject([
        { seq: 1, text: 'c1', reactions: { '👍': ['ann'] } },
      ]);
      // A room that does not exist is still no_room; a member still writes.
      expect(await rooms.appendEvent(msg('nope', 'ann', 'c4'))).toEqual({ ok: false, reason: 'no_room' });
      expect(
        await rooms.appendEvent({ type: 'delete', room: 'nope', user: 'ann', target: 1, ts: 1004 }),
      ).toEqual({ ok: false, reason: 'no_room' });
      expect(
        await rooms.react({
          room: 'nope',
          user: 'ann',
          target: 1,
          emoji: '👍',
          on: true,
          ts: 1,
          maxEmoji: 9,
        }),
      ).toEqual({ ok: false, reason: 'no_room' });
      await rooms.join('ben', 'a', 10);
      expect(await rooms.appendEvent({ ...msg('a', 'ben', 'c2'), replyTo: 1 })).toMatchObject({
        ok: true,
        event: { message: { seq: 3 } },
      });
      expect(await react('ben', true)).toMatchObject({ ok: true, event: { seq: 4 } });
    });

    it('a room created again under a deleted name continues its numbering from its base', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('again'), quotas);
      const point = (after: number) => rooms.resumePoint('again', after, undefined);
      expect(await point(1)).toEqual({ base: 0, head: 0, holds: true });
      await rooms.appendEvent(msg('again', 'ann', 'a1'));
      await rooms.appendEvent(msg('again', 'ann', 'a2'));
      expect(await rooms.deleteRoom('again')).toBe(true);
      expect(await rooms.createRoom(room('again'), quotas)).toBe('created');
      // The seqs up to the base were the deleted room's (the hub answers a resume there with reset).
      expect(await point(2)).toEqual({ base: 2, head: 2, holds: true });
      expect(await rooms.head('again')).toBe(2);
      const res = await rooms.appendEvent(msg('again', 'ann', 'a1'));
      expect(res).toMatchObject({ ok: true, duplicate: false, event: { message: { seq: 3 } } });
      expect(await point(3)).toEqual({ base: 2, head: 3, holds: true });
    });

    it('deleteRoom: the room is gone for everyone when it resolves; false for no such room', async () => {
      const rooms = asMembers((await open()).rooms);
      expect(await rooms.deleteRoom('nope')).toBe(false);
      await rooms.createRoom(room('gone', 'ann', 'private'), quotas);
      for (const user of ['ann', 'bob', 'cy']) expect(await rooms.join(user, 'gone', 10)).toBe('joined');
      await rooms.appendEvent({ ...msg('gone', 'ann', 'a1', 'hi @bob'), mentions: ['bob'] });
      expect(await rooms.deleteRoom('gone')).toBe(true);
      // No step of a cleanup awaited: nothing of the room shows to any reader.
      expect(await rooms.getRoom('gone')).toBeNull();
      for (const user of ['ann', 'bob', 'cy']) {
        expect(await rooms.isMember(user, 'gone')).toBe(false);
        expect(await rooms.memberships(user)).toEqual([]);
      }
      expect(await rooms.listMembers('ann', 'gone', '', 10)).toEqual({ ok: false, reason: 'not_member' });
      expect(await rooms.messagesBefore('gone', 100, 10)).toEqual([]);
      expect(await rooms.eventsAfter('gone', 0, 10)).toEqual([]);
      expect(await rooms.deleteRoom('gone')).toBe(false); // deleted already
    });

    it('memberOf: the rooms of the list the user is in now; not one left, deleted, created again or never made', async () => {
      const { rooms } = await open();
      for (const name of ['a', 'b', 'left', 'gone', 'again']) await rooms.createRoom(room(name), quotas);
      for (const name of ['a', 'b', 'left', 'gone', 'again'])
        expect(await rooms.join('ann', name, 10)).toBe('joined');
      await rooms.join('bob', 'b', 10);
      await rooms.leave('ann', 'left', 1);
      await rooms.deleteRoom('gone');
      await rooms.deleteRoom('again');
      await rooms.createRoom(room('again'), quotas);
      const all = ['a', 'b', 'left', 'gone', 'again', 'never'];
      expect([...(await rooms.memberOf('ann', all))].sort()).toEqual(['a', 'b']);
      expect([...(await rooms.memberOf('bob', all))]).toEqual(['b']);
      expect([...(await rooms.memberOf('nobody', all))]).toEqual([]);
      expect([...(await rooms.memberOf('ann', []))]).toEqual([]);
    });

    it("deleteRoom: a room created again under the name at once is a new one, none of the old one's leftovers in it", async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('team', 'ann'), quotas);
      for (const user of ['ann', 'bob', 'cy']) await rooms.join(user, 'team', 10);
      await rooms.appendEvent({ ...msg('team', 'ann', 'a1', 'hi @bob'), mentions: ['bob'] });
      await rooms.appendEvent(msg('team', 'cy', 'c1'));
      expect(await rooms.deleteRoom('team')).toBe(true);
      // Created again before any cleanup of the old room could run; only dan joins it.
      expect(await rooms.createRoom(room('team', 'dan'), quotas)).toBe('created');
      expect(await rooms.join('dan', 'team', 10)).toBe('joined');
      const mark = await rooms.head('team');
      expect(mark).toBe(2); // the numbering goes on
      expect(await rooms.listMembers('dan', 'team', '', 10)).toEqual({ ok: true, members: ['dan'] });
      for (const user of ['ann', 'bob', 'cy']) {
        expect(await rooms.isMember(user, 'team')).toBe(false);
        expect(await rooms.memberships(user)).toEqual([]);
      }
      expect(await rooms.messagesBefore('team', 100, 10)).toEqual([]);
      // bob joins the new room: no unread message and no mention of the old one counts for him.
      expect(await rooms.join('bob', 'team', 10)).toBe('joined');
      expect(await rooms.memberships('bob')).toEqual([
        { room: 'team', kind: 'public', owner: 'dan', lastRead: mark },
      ]);
      expect(await rooms.unreadCount('team', 'bob', mark)).toBe(0);
      expect(await rooms.mentionCount('team', 'bob', mark)).toBe(0);
      // Counted from before the new room's first seq, too: the old room's messages and mentions
      // are not there to count (nor to subtract, for their author).
      expect(await rooms.mentionCount('team', 'bob', 0)).toBe(0);
      // A new message of the new room is all there is.
      await rooms.appendEvent({ ...msg('team', 'dan', 'd1', 'hey @bob'), mentions: ['bob'] });
      expect(await rooms.unreadCount('team', 'bob', mark)).toBe(1);
      expect(await rooms.mentionCount('team', 'bob', mark)).toBe(1);
      expect(await rooms.mentionCount('team', 'bob', 0)).toBe(1);
      expect(await rooms.unreadCount('team', 'ann', 0)).toBe(1);
      expect(await rooms.unreadCount('team', 'cy', 0)).toBe(1);
      expect((await rooms.messagesBefore('team', 100, 10)).map((m) => [m.seq, m.user])).toEqual([[3, 'dan']]);
      expect(await rooms.listMembers('dan', 'team', '', 10)).toEqual({ ok: true, members: ['bob', 'dan'] });
    });

    it("resumePoint: the head, and whether the log still holds the client's tagged event", async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom(room('a'), quotas);
      for (const id of ['b1', 'b2', 'b3']) await rooms.appendEvent(msg('a', 'ben', id));
      const events = await rooms.eventsAfter('a', 0, 10);
      // A store without tags (SQLite) holds whatever tag is named: a seq there is always one event.
      const tag = (seq: number) => events[seq - 1].tag ?? 'AAAAAAAA';
      const other = tag(2) === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA';
      expect(await rooms.resumePoint('a', 2, tag(2))).toEqual({ base: 0, head: 3, holds: true });
      expect(await rooms.resumePoint('a', 2, undefined)).toEqual({ base: 0, head: 3, holds: true });
      // Redis: another event's tag at the seq, or a tagged seq the counter is below, does not hold.
      expect(await rooms.resumePoint('a', 2, other)).toEqual({ base: 0, head: 3, holds: !rooms.headTag });
      expect(await rooms.resumePoint('a', 5, tag(3))).toEqual({ base: 0, head: 3, holds: !rooms.headTag });
    });

    it('lists public rooms only, by name, in pages', async () => {
      const rooms = asMembers((await open()).rooms);
      for (const n of ['b', 'a', 'd', 'c']) await rooms.createRoom(room(n), quotas);
      await rooms.createRoom(room('secret', 'x', 'private'), quotas);
      await rooms.createRoom(room('dm:x:y', null, 'dm'), quotas);
      await rooms.join('ann', 'c', 10);
      expect(await rooms.listRooms('', 3)).toEqual([
        { room: 'a', kind: 'public', members: 0 },
        { room: 'b', kind: 'public', members: 0 },
        { room: 'c', kind: 'public', members: 1 },
      ]);
      expect((await rooms.listRooms('c', 3)).map((r) => r.room)).toEqual(['d']);
    });

    it("lists a room's members, online or not, by name in code unit order, in pages", async () => {
      const { rooms } = await open();
      await rooms.createRoom(room('plans', 'ann', 'private'), quotas);
      await rooms.createRoom(room('other'), quotas);
      for (const user of ['dora', 'ann', 'Ben', 'carl', 'eve']) await rooms.join(user, 'plans', 10);
      await rooms.join('zed', 'other', 10);
      expect(await rooms.leave('carl', 'plans', 700)).toBe(true);
      // Upper case before lower case, as JavaScript sorts (and as `online` is sorted).
      const page = (members: string[]) => ({ ok: true, members });
      expect(await rooms.listMembers('ann', 'plans', '', 10)).toEqual(page(['Ben', 'ann', 'dora', 'eve']));
      expect(await rooms.listMembers('eve', 'plans', '', 2)).toEqual(page(['Ben', 'ann']));
      expect(await rooms.listMembers('ann', 'plans', 'ann', 2)).toEqual(page(['dora', 'eve']));
      expect(await rooms.listMembers('ann', 'plans', 'eve', 2)).toEqual(page([]));
      // A cursor need not be a member (carl left between two pages).
      expect(await rooms.listMembers('ann', 'plans', 'carl', 10)).toEqual(page(['dora', 'eve']));
      expect(await rooms.listMembers('zed', 'other', '', 10)).toEqual(page(['zed']));
      await rooms.deleteRoom('plans');
      expect(await rooms.listMembers('ann', 'plans', '', 10)).toEqual({ ok: false, reason: 'not_member' });
    });

    it('lists the members only to a member at that moment: not_member to anyone else', async () => {
      const { rooms } = await open();
      const notMember = { ok: false, reason: 'not_member' };
      await rooms.createRoom(room('plans', 'ann', 'private'), quotas);
      await rooms.createRoom(room('other'), quotas);
      for (const user of ['ann', 'bob']) await rooms.join(user, 'plans', 10);
      await rooms.join('zed', 'other', 10);
      expect(await rooms.listMembers('bob', 'plans', '', 10)).toEqual({ ok: true, members: ['ann', 'bob'] });
      // A member of another room, a user of no room, a name differing in case only.
      expect(await rooms.listMembers('zed', 'plans', '', 10)).toEqual(notMember);
      expect(await rooms.listMembers('nobody', 'plans', '', 10)).toEqual(notMember);
      expect(await rooms.listMembers('Bob', 'plans', '', 10)).toEqual(notMember);
      // Removed (left) between two pages: the next page is refused, whatever the cursor.
      expect(await rooms.leave('bob', 'plans', 700)).toBe(true);
      expect(await rooms.listMembers('bob', 'plans', 'ann', 10)).toEqual(notMember);
      expect(await rooms.listMembers('ann', 'plans', '', 10)).toEqual({ ok: true, members: ['ann'] });
      // Back in: listed again. A room that does not exist has no members to ask.
      expect(await rooms.join('bob', 'plans', 10)).toBe('joined');
      expect(await rooms.listMembers('bob', 'plans', 'ann', 10)).toEqual({ ok: true, members: ['bob'] });
      expect(await rooms.listMembers('ann', 'nowhere', '', 10)).toEqual(notMember);
    });

    it('pages members in byte order over every kind of name character, through joins and leaves', async () => {
      const { rooms } = await open();
      await rooms.createRoom(room('all'), quotas);
      // By bytes: '-' (0x2d) < digits < upper case < '_' (0x5f) < lower case.
      const sorted = ['-dash', '0zero', '9nine', 'Amy', 'Zed', '_under', 'amy', 'zed'];
      for (const user of ['zed', '_under', '0zero', 'amy', 'Zed', '-dash', 'Amy', '9nine', 'gone'])
        await rooms.join(user, 'all', 10);
      await rooms.leave('gone', 'all', 700);
      await rooms.leave('Amy', 'all', 700);
      await rooms.join('Amy', 'all', 10);
      const list = async (after: string, limit: number) => {
        const res = await rooms.listMembers('zed', 'all', after, limit);
        if (!res.ok) throw new Error(`zed is a member of all: ${res.reason}`);
        return res.members;
      };
      const pages: string[][] = [];
      for (let after = ''; ; ) {
        const page = await list(after, 3);
        if (page.length === 0) break;
        pages.push(page);
        after = page[page.length - 1];
      }
      expect(pages).toEqual([sorted.slice(0, 3), sorted.slice(3, 6), sorted.slice(6)]);
      // A cursor between names, and one before and after them all.
      expect(await list('9', 2)).toEqual(['9nine', 'Amy']);
      expect(await list('-', 1)).toEqual(['-dash']);
      expect(await list('~', 5)).toEqual([]);
    });

    it('expires rooms empty since before a time, keeps general and occupied ones, and never reuses a seq', async () => {
      const rooms = asMembers((await open()).rooms);
      await rooms.createRoom({ ...room('general', null), createdAt: 0 }, quotas);
      await rooms.createRoom({ ...room('old'), createdAt: 100 }, quotas);
      await rooms.createRoom({ ...room('busy'), createdAt: 100 }, quotas);
      await rooms.createRoom({ ...room('left'), createdAt: 100 }, quotas);
      await rooms.join('ann', 'busy', 10);
      await rooms.join('ann', 'left', 10);
      await rooms.appendEvent(msg('old', 'ann', 'o1'));
      await rooms.appendEvent(msg('old', 'ann', 'o2'));
      // The author of o1, o2 had to be a member; the room is empty again from 150.
      expect(await rooms.leave('ann', 'old', 150)).toBe(true);
      expect(await rooms.leave('ann', 'left', 300)).toBe(true);
      expect(await rooms.leave('ann', 'left', 300)).toBe(false);
      expect((await rooms.expireEmptyRooms(200)).rooms.sort()).toEqual(['old']);
      expect(await rooms.getRoom('old')).toBeNull();
      expect((await rooms.expireEmptyRooms(400)).rooms.sort()).toEqual(['left']);
      expect(await rooms.getRoom('busy')).toMatchObject({ name: 'busy', kind: 'public', owner: 'x' });
      expect(await rooms.getRoom('general')).not.toBeNull();
      // Created again: the log restarts after the old head, so old cursors cannot hide new events.
      await rooms.createRoom(room('old'), quotas);
      expect(await rooms.head('old')).toBe(2);
      expect(await rooms.eventsAfter('old', 0, 10)).toEqual([]);
      const next = await rooms.appendEvent(msg('old', 'ann', 'o3'));
      expect(next.ok && next.event.type === 'message' && next.event.message.seq).toBe(3);
    });

    it('counts direct messages against their own cap: DMs never fill the cap on rooms, nor rooms the one on DMs', async () => {
      const rooms = (await open()).rooms;
      for (const name of ['a1', 'a2', 'a3']) await rooms.createRoom(room(name, 'x'), quotas);
      for (const peer of ['b', 'c', 'd']) await rooms.createRoom(room(`dm:ann:${peer}`, null, 'dm'), quotas);
      // Three DMs, opened by others: the cap of 2 on rooms still lets her join two rooms.
      for (const peer of ['b', 'c']) expect(await rooms.join('ann', `dm:ann:${peer}`, 2)).toBe('joined');
      expect(await rooms.join('ann', 'a1', 2)).toBe('joined');
      expect(await rooms.join('ann', 'a2', 2)).toBe('joined');
      expect(await rooms.join('ann', 'a3', 2)).toBe('too_many_rooms');
      // And two rooms leave both DMs' places to DMs: the third DM is over the cap of 2 on DMs.
      expect(await rooms.join('ann', 'dm:ann:d', 2)).toBe('too_many_rooms');
      expect(await rooms.leave('ann', 'dm:ann:b', 10)).toBe(true);
      expect(await rooms.join('ann', 'dm:ann:d', 2)).toBe('joined');
      expect(await rooms.join('ann', 'a3', 2)).toBe('too_many_rooms');
    });

    it('invitations: pending (no membership) until accepted; accepting joins once; declining or taking back drops it', async () => {
      const rooms = (await open()).rooms;
      const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
      await rooms.createRoom(room('sec', 'ann', 'private'), quotas);
      await rooms.createRoom(room('pub', 'ann'), quotas);
      expect(await rooms.join('ann', 'sec', 10)).toBe('joined');
      expect(await rooms.invite('sec', 'ben', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.invite('sec', 'ben', 'ann', 1001, limits)).toBe('already_invited');
      expect(await rooms.invite('sec', 'ann', 'ann', 1001, limits)).toBe('member');
      expect(await rooms.invite('pub', 'ben', 'ann', 1001, limits)).toBe('no_room');
      expect(await rooms.invite('nope', 'ben', 'ann', 1001, limits)).toBe('no_room');
      // Pending: not a member, listed for him and the room, no room of his cap taken.
      expect(await rooms.isMember('ben', 'sec')).toBe(false);
      expect(await rooms.memberships('ben')).toEqual([]);
      expect(await rooms.invitations('ben', 0)).toEqual([{ room: 'sec', user: 'ben', by: 'ann', at: 1000 }]);
      expect(await rooms.invitees('sec')).toEqual(['ben']);
      expect(await rooms.accept('cid', 'sec', 10, 0)).toBe('no_invitation');
      expect(await rooms.accept('ben', 'sec', 10, 0)).toBe('joined');
      expect(await rooms.isMember('ben', 'sec')).toBe(true);
      expect(await rooms.invitations('ben', 0)).toEqual([]);
      expect(await rooms.invitees('sec')).toEqual([]);
      expect(await rooms.accept('ben', 'sec', 10, 0)).toBe('no_invitation'); // used once
      expect(await rooms.invite('sec', 'ben', 'ann', 1002, limits)).toBe('member');
      // Declined (or taken back by the owner): gone, once.
      expect(await rooms.invite('sec', 'cid', 'ann', 1003, limits)).toBe('invited');
      expect(await rooms.dropInvitation('cid', 'sec')).toBe(true);
      expect(await rooms.dropInvitation('cid', 'sec')).toBe(false);
      expect(await rooms.accept('cid', 'sec', 10, 0)).toBe('no_invitation');
      expect(await rooms.invitations('cid', 0)).toEqual([]);
    });

    it('a declined invitation stays pending to the owner until it expires, and is gone for the invitee', async () => {
      const rooms = (await open()).rooms;
      const limits = { perUser: 1, perRoom: 2, expiredAt: 0 };
      for (const name of ['sec', 'two', 'gone']) {
        await rooms.createRoom(room(name, 'ann', 'private'), quotas);
        await rooms.join('ann', name, 10);
      }
      expect(await rooms.invite('sec', 'ben', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.dropInvitation('ben', 'sec')).toBe(true); // declined
      expect(await rooms.dropInvitation('ben', 'sec')).toBe(false);
      // For ben: gone, not accepted, no place of his cap taken.
      expect(await rooms.invitations('ben', 0)).toEqual([]);
      expect(await rooms.accept('ben', 'sec', 10, 0)).toBe('no_invitation');
      expect(await rooms.invite('two', 'ben', 'ann', 1001, limits)).toBe('invited');
      // For the owner: as pending (already invited, counted against the room's cap, taken back).
      expect(await rooms.invite('sec', 'ben', 'ann', 1002, limits)).toBe('already_invited');
      expect(await rooms.invitees('sec')).toEqual(['ben']);
      expect(await rooms.invite('sec', 'cid', 'ann', 1003, limits)).toBe('invited');
      expect(await rooms.invite('sec', 'dan', 'ann', 1003, limits)).toBe('room_full');
      expect(await rooms.dropInvitation('ben', 'sec', 'ann')).toBe(true);
      expect(await rooms.invitees('sec')).toEqual(['cid']);
      // Expired or deleted with its room: its invitee, told at the decline, is not told again.
      expect(await rooms.invite('gone', 'eve', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.invite('gone', 'fay', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.dropInvitation('eve', 'gone')).toBe(true);
      expect(await rooms.deleteRoomAndInvitations('gone')).toEqual(['fay']);
      expect(await rooms.dropInvitation('cid', 'sec')).toBe(true);
      expect(await rooms.expireInvitations(5000)).toEqual([{ user: 'ben', room: 'two' }]);
      expect(await rooms.invitees('sec')).toEqual([]);
    });

    it('invite, deleteRoom, a removal and taking back an invitation check the owner in their own step', async () => {
      // The hub checks the owner, then asks the store: a room deleted and made again under the name
      // by someone else in between must be left alone by the first owner's request.
      const rooms = (await open()).rooms;
      const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
      await rooms.createRoom(room('sec', 'ann', 'private'), quotas);
      await rooms.join('ann', 'sec', 10);
      expect(await rooms.deleteRoom('sec')).toBe(true);
      await rooms.createRoom(room('sec', 'cat', 'private'), quotas);
      await rooms.join('cat', 'sec', 10);
      // ann's requests, checked against ann's room, land on cat's: nothing is done.
      expect(await rooms.invite('sec', 'ann', 'ann', 1000, limits)).toBe('no_room');
      expect(await rooms.invitees('sec')).toEqual([]);
      expect(await rooms.invite('sec', 'ben', 'cat', 1000, limits)).toBe('invited');
      expect(await rooms.dropInvitation('ben', 'sec', 'ann')).toBe(false);
      expect(await rooms.invitees('sec')).toEqual(['ben']);
      expect(await rooms.accept('ben', 'sec', 10, 0)).toBe('joined');
      expect(await rooms.leave('ben', 'sec', 1100, 'removed', 'ann')).toBe(false);
      expect(await rooms.isMember('ben', 'sec')).toBe(true);
      expect(await rooms.deleteRoom('sec', 'ann')).toBe(false);
      expect(await rooms.getRoom('sec')).toMatchObject({ owner: 'cat' });
      // The owner's own: done. A room with no owner (general, a DM) is nobody's to remove from.
      expect(await rooms.invite('sec', 'dan', 'cat', 1000, limits)).toBe('invited');
      expect(await rooms.dropInvitation('dan', 'sec', 'cat')).toBe(true);
      expect(await rooms.leave('ben', 'sec', 1100, 'removed', 'cat')).toBe(true);
      expect(await rooms.isMember('ben', 'sec')).toBe(false);
      await rooms.createRoom(room('dm:ann:ben', null, 'dm'), quotas);
      await rooms.join('ben', 'dm:ann:ben', 10);
      expect(await rooms.leave('ben', 'dm:ann:ben', 1100, 'removed', 'ann')).toBe(false);
      expect(await rooms.deleteRoom('dm:ann:ben', 'ann')).toBe(false);
      expect(await rooms.deleteRoom('nope', 'cat')).toBe(false);
      expect(await rooms.deleteRoom('sec', 'cat')).toBe(true);
    });

    it('caps pending invitations per invitee and per room; expired ones count for nothing and cannot be accepted', async () => {
      const rooms = (await open()).rooms;
      const limits = { perUser: 2, perRoom: 3, expiredAt: 0 };
      for (const name of ['r1', 'r2', 'r3', 'r4']) {
        await rooms.createRoom(room(name, 'ann', 'private'), quotas);
        await rooms.join('ann', name, 10);
      }
      expect(await rooms.invite('r1', 'ben', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.invite('r2', 'ben', 'ann', 1001, limits)).toBe('invited');
      expect(await rooms.invite('r3', 'ben', 'ann', 1002, limits)).toBe('user_full');
      expect(await rooms.invite('r4', 'u1', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.invite('r4', 'u2', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.invite('r4', 'u3', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.invite('r4', 'u4', 'ann', 1000, limits)).toBe('room_full');
      // Declining one makes a place.
      expect(await rooms.dropInvitation('ben', 'r1')).toBe(true);
      expect(await rooms.invite('r3', 'ben', 'ann', 1003, limits)).toBe('invited');
      expect((await rooms.invitations('ben', 0)).map((i) => i.room)).toEqual(['r2', 'r3']);
      // Expired at 1001: r2's is not listed, not accepted, and no longer counts against either cap.
      const later = { ...limits, expiredAt: 1001 };
      expect((await rooms.invitations('ben', 1001)).map((i) => i.room)).toEqual(['r3']);
      expect(await rooms.accept('ben', 'r2', 10, 1001)).toBe('no_invitation');
      expect(await rooms.invite('r1', 'ben', 'ann', 2000, later)).toBe('invited');
      expect(await rooms.invite('r4', 'u4', 'ann', 2000, later)).toBe('invited');
      expect(await rooms.invitees('r4')).toEqual(['u4']);
    });

    it('accept at the cap on rooms keeps the invitation; deleting or expiring a room drops its invitations', async () => {
      const rooms = (await open()).rooms;
      const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
      for (const name of ['sec', 'old', 'other']) {
        await rooms.createRoom({ ...room(name, 'ann', 'private'), createdAt: 100 }, quotas);
        await rooms.join('ann', name, 10);
      }
      await rooms.createRoom(room('pub', 'x'), quotas);
      expect(await rooms.join('ben', 'pub', 1)).toBe('joined');
      expect(await rooms.invite('sec', 'ben', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.accept('ben', 'sec', 1, 0)).toBe('too_many_rooms');
      expect(await rooms.isMember('ben', 'sec')).toBe(false);
      expect(await rooms.leave('ben', 'pub', 1100)).toBe(true);
      expect(await rooms.accept('ben', 'sec', 1, 0)).toBe('joined');
      // Deleted: the room's invitations go with it, and a room created again under the name has none.
      expect(await rooms.invite('other', 'cid', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.deleteRoom('other')).toBe(true);
      expect(await rooms.invitations('cid', 0)).toEqual([]);
      await rooms.createRoom(room('other', 'ben', 'private'), quotas);
      expect(await rooms.accept('cid', 'other', 10, 0)).toBe('no_invitation');
      expect(await rooms.invitees('other')).toEqual([]);
      // Expired empty: the same.
      expect(await rooms.invite('old', 'cid', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.leave('ann', 'old', 150)).toBe(true);
      // Answered with the room, for the hub to tell cid (read in the step that dropped it).
      expect(await rooms.expireEmptyRooms(200)).toEqual({
        rooms: ['old'],
        invitations: [{ user: 'cid', room: 'old' }],
      });
      expect(await rooms.invitations('cid', 0)).toEqual([]);
      expect(await rooms.invitees('old')).toEqual([]);
    });

    it('expireInvitations and deleteRoomAndInvitations answer the invitations they dropped, each once', async () => {
      const rooms = (await open()).rooms;
      const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
      for (const name of ['p1', 'p2']) {
        await rooms.createRoom(room(name, 'ann', 'private'), quotas);
        await rooms.join('ann', name, 10);
      }
      expect(await rooms.invite('p1', 'ben', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.invite('p2', 'ben', 'ann', 2000, limits)).toBe('invited');
      expect(await rooms.invite('p2', 'cid', 'ann', 1000, limits)).toBe('invited');
      expect(await rooms.expireInvitations(999)).toEqual([]);
      const expired = await rooms.expireInvitations(1000);
      expect(expired.sort((a, b) => (a.user < b.user ? -1 : 1))).toEqual([
        { user: 'ben', room: 'p1' },
        { user: 'cid', room: 'p2' },
      ]);
      expect(await rooms.expireInvitations(1000)).toEqual([]);
      expect((await rooms.invitations('ben', 0)).map((i) => i.room)).toEqual(['p2']);
      expect(await rooms.invitees('p2')).toEqual(['ben']);
      // Taken by an accept or a decline: not expired later either.
      expect(await rooms.invite('p1', 'dan', 'ann', 1500, limits)).toBe('invited');
      expect(await rooms.dropInvitation('dan', 'p1')).toBe(true);
      expect(await rooms.invite('p1', 'eve', 'ann', 1500, limits)).toBe('invited');
      expect(await rooms.invite('p1', 'fay', 'ann', 1500, limits)).toBe('invited');
      expect(await rooms.accept('eve', 'p1', 10, 0)).toBe('joined');
      expect(await rooms.deleteRoomAndInvitations('p2')).toEqual(['ben']);
      expect(await rooms.deleteRoomAndInvitations('p2')).toBeNull();
      expect(await rooms.expireInvitations(5000)).toEqual([{ user: 'fay', room: 'p1' }]);
    });

    it("keys invitations by the invitee's account, whatever case the caller spells the name in: one per account, seen, accepted, declined, taken back, dropped by a block", async () => {
      // Regression (SQLite): the rows were keyed by the name as given, so `ANN` then `Ann` made two
      // invitations to one account, and a decline or an accept spelt otherwise found none.
      const { accounts, rooms } = await open();
      expect(await accounts.createUser({ name: 'Ann', passwordHash: 'h', createdAt: 1 })).toBe('created');
      const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
      for (const name of ['sec', 'den', 'tri']) {
        await rooms.createRoom(room(name, 'ben', 'private'), quotas);
        await rooms.join('ben', name, 10);
      }
      expect(await rooms.invite('sec', 'ANN', 'ben', 1000, limits)).toBe('invited');
      expect(await rooms.invite('sec', 'Ann', 'ben', 1001, limits)).toBe('already_invited');
      expect(await rooms.invite('sec', 'ann', 'ben', 1001, limits)).toBe('already_invited');
      const sec = [{ room: 'sec', user: 'Ann', by: 'ben', at: 1000 }];
      expect(await rooms.invitations('Ann', 0)).toEqual(sec);
      expect(await rooms.invitations('aNN', 0)).toEqual(sec);
      expect(await rooms.invitees('sec')).toEqual(['Ann']);
      expect(await rooms.accept('aNn', 'sec', 10, 0)).toBe('joined');
      expect(await rooms.isMember('Ann', 'sec')).toBe(true);
      expect(await rooms.invite('sec', 'ANN', 'ben', 1002, limits)).toBe('member');
      expect(await rooms.invitations('Ann', 0)).toEqual([]);

      // Declined spelt otherwise: gone for her, pending to the owner; taken back by him so too.
      expect(await rooms.invite('den', 'ann', 'ben', 1003, limits)).toBe('invited');
      expect(await rooms.dropInvitation('ANN', 'den')).toBe(true);
      expect(await rooms.invitations('Ann', 0)).toEqual([]);
      expect(await rooms.invite('den', 'Ann', 'ben', 1004, limits)).toBe('already_invited');
      expect(await rooms.invitees('den')).toEqual(['Ann']);
      expect(await rooms.dropInvitation('anN', 'den', 'ben')).toBe(true);
      expect(await rooms.invitees('den')).toEqual([]);

      // A block by her, spelt otherwise, drops the invitations of the one she blocks.
      expect(await rooms.invite('tri', 'ANN', 'ben', 1005, limits)).toBe('invited');
      expect(await rooms.block('aNN', 'ben', 10)).toEqual({ result: 'blocked', dropped: ['tri'] });
      expect(await rooms.invitees('tri')).toEqual([]);
      expect(await rooms.invitations('Ann', 0)).toEqual([]);
    });

    it('appendEvent with bothInDm: dm_closed and nothing written while the DM has one member', async () => {
      const rooms = (await open()).rooms;
      await rooms.createRoom({ name: 'dm:ann:ben', kind: 'dm', owner: null, createdAt: 500 }, quotas);
      await rooms.join('ann', 'dm:ann:ben', 10);
      const send = (clientId: string, bothInDm: boolean) =>
        rooms.appendEvent({
          type: 'message',
          room: 'dm:ann:ben',
          user: 'ann',
          clientId,
          text: 'hi',
          ts: 1,
          bothInDm,
        });
      expect(await send('a', true)).toEqual({ ok: false, reason: 'dm_closed' });
      expect(await rooms.head('dm:ann:ben')).toBe(0);
      expect(await send('a', false)).toMatchObject({ ok: true, duplicate: false });
      // A resend of a stored message is its duplicate, whoever is in.
      expect(await send('a', true)).toMatchObject({ ok: true, duplicate: true });
      await rooms.join('ben', 'dm:ann:ben', 10);
      expect(await send('b', true)).toMatchObject({ ok: true, duplicate: false });
      expect(await rooms.head('dm:ann:ben')).toBe(2);
    });

    it('keeps users case-insensitively unique and sessions until they expire', async () => {
      const { accounts } = await open();
      expect(await accounts.createUser({ name: 'Ann', passwordHash: 'h', createdAt: 1 })).toBe('created');
      expect(await accounts.createUser({ name: 'ann', passwordHash: 'h2', createdAt: 2 })).toBe('taken');
      expect(await accounts.getUser('ANN')).toEqual({ name: 'Ann', passwordHash: 'h', createdAt: 1 });
      expect(await accounts.createSession({ token: 't1', user: 'Ann', expiresAt: 2000 }, 1000, 32)).toEqual(
        [],
      );
      expect(await accounts.getSession('t1', 1500)).toMatchObject({ user: 'Ann' });
      expect(await accounts.getSession('t1', 2000)).toBeNull();
      await accounts.deleteSession('t1');
      expect(await accounts.getSession('t1', 1500)).toBeNull();
    });

    it('refuses a name that looks like an existing one (its skeleton), and says so apart from a taken one', async () => {
      // Regression (lookalike): `aIice`, with a capital I, signed up beside `alice`.
      const { accounts } = await open();
      const user = (name: string, createdAt = 1) => ({ name, passwordHash: 'h', createdAt });
      expect(await accounts.createUser(user('alice'))).toBe('created');
      for (const lookalike of ['aIice', 'a1ice', 'AIice'])
        expect(await accounts.createUser(user(lookalike))).toBe('similar');
      expect(await accounts.createUser(user('ALICE'))).toBe('taken');
      expect(await accounts.getUser('aIice')).toBeNull();
      expect(await accounts.getUser('a1ice')).toBeNull();
      // m and rn, w and vv, O and 0: both ways round.
      expect(await accounts.createUser(user('rnary'))).toBe('created');
      expect(await accounts.createUser(user('Mary'))).toBe('similar');
      expect(await accounts.createUser(user('w0lf'))).toBe('created');
      expect(await accounts.createUser(user('vvOlf'))).toBe('similar');
      // Names only alike in ways left out stay apart.
      expect(await accounts.createUser(user('alicia'))).toBe('created');
      expect(await accounts.createUser(user('ian'))).toBe('created');
      expect(await accounts.createUser(user('lan'))).toBe('created');
      expect(await accounts.getUser('alice')).toEqual(user('alice'));
    });

    it('lets only one of two look-alike names signing up at once succeed', async () => {
      const { accounts } = await open();
      const results = await Promise.all(
        ['alice', 'aIice', 'a1ice', 'AIice'].map((name) =>
          accounts.createUser({ name, passwordHash: 'h', createdAt: 1 }),
        ),
      );
      expect(results.filter((r) => r === 'created')).toHaveLength(1);
      expect(results.filter((r) => r === 'similar')).toHaveLength(3);
    });

    /** Signs `user` in at `now` (30 days, as accounts.ts does); the tokens the cap ended. */
    const signIn = (accounts: AccountStore, user: string, token: string, now: number) =>
      accounts.createSession({ token, user, expiresAt: now + SESSION_TTL_MS }, now, MAX_SESSIONS_PER_USER);
    const tokens = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `t${from + i}`);

    it('keeps at most MAX_SESSIONS_PER_USER sessions per user: a sign-in past it ends and reports the oldest', async () => {
      // Regression (security pass): every sign-in added a 30-day session, without limit per user.
      const { accounts } = await open();
      const cap = MAX_SESSIONS_PER_USER;
      for (const [i, token] of tokens(0, cap).entries())
        expect(await signIn(accounts, 'ann', token, 1000 + i)).toEqual([]);
      await signIn(accounts, 'ben', 'ben-1', 1000); // another user's session counts for ben only
      const now = 1000 + cap;
      expect(await signIn(accounts, 'ann', `t${cap}`, now)).toEqual(['t0']);
      expect(await accounts.getSession('t0', now)).toBeNull();
      for (const token of tokens(1, cap + 1)) expect(await accounts.getSession(token, now)).not.toBeNull();
      // Two more: the next oldest, one each, never the new one.
      expect(await signIn(accounts, 'ann', `t${cap + 1}`, now + 1)).toEqual(['t1']);
      expect(await signIn(accounts, 'ann', `t${cap + 2}`, now + 2)).toEqual(['t2']);
      expect(await accounts.getSession(`t${cap + 2}`, now + 2)).not.toBeNull();
      expect(await accounts.getSession('ben-1', now + 2)).not.toBeNull();
    });

    it('ends the oldest of sessions created in the same millisecond, never the new one', async () => {
      const { accounts } = await open();
      const cap = MAX_SESSIONS_PER_USER;
      for (const token of tokens(0, cap)) await signIn(accounts, 'ann', token, 1000);
      // 'a...' sorts before every 't...': a store ordering ties by token must still keep it.
      const ended = await signIn(accounts, 'ann', 'a-new', 1000);
      expect(ended).toHaveLength(1);
      expect(ended[0]).toMatch(/^t\d+$/);
      expect(await accounts.getSession('a-new', 1000)).not.toBeNull();
      expect(await accounts.getSession(ended[0], 1000)).toBeNull();
    });

    it('counts no signed-out or expired session against the cap', async () => {
      const { accounts } = await open();
      const cap = MAX_SESSIONS_PER_USER;
      for (const [i, token] of tokens(0, cap).entries()) await signIn(accounts, 'ann', token, 1000 + i);
      // A sign-out leaves the user's set: the next sign-in fits without ending another.
      await accounts.deleteSession('t5');
      expect(await signIn(accounts, 'ann', 'after-logout', 2000)).toEqual([]);
      expect(await accounts.getSession('t0', 2000)).not.toBeNull();
      expect(await signIn(accounts, 'ann', 'past-cap', 2001)).toEqual(['t0']);
      // Once the t sessions have expired none of them counts (nor is reported: none was ended):
      // the user has room for cap - 2 more beside after-logout and past-cap.
      const later = 1000 + cap + SESSION_TTL_MS;
      for (const [i, token] of tokens(100, 100 + cap - 2).entries())
        expect(await signIn(accounts, 'ann', token, later + i)).toEqual([]);
      expect(await signIn(accounts, 'ann', 'one-more', later + cap)).toEqual(['after-logout']);
    });

    it('deleteOtherSessions: ends every session of the user but the one kept, reports the live ones', async () => {
      const { accounts } = await open();
      for (const [i, token] of ['a', 'b', 'c'].entries()) await signIn(accounts, 'ann', token, 1000 + i);
      await accounts.createSession({ token: 'old', user: 'ann', expiresAt: 1500 }, 1000, 32);
      await signIn(accounts, 'ben', 'ben-1', 1000);
      const ended = await accounts.deleteOtherSessions('ann', 'b', 2000);
      // 'old' expired by 2000: deleted, not reported (its sockets closed at its expiry).
      expect(ended.sort()).toEqual(['a', 'c']);
      for (const token of ['a', 'c', 'old']) expect(await accounts.getSession(token, 1200)).toBeNull();
      expect(await accounts.getSession('b', 2000)).toMatchObject({ user: 'ann' });
      expect(await accounts.getSession('ben-1', 2000)).toMatchObject({ user: 'ben' });
      // None left to end; and the deleted ones no longer count against the cap.
      expect(await accounts.deleteOtherSessions('ann', 'b', 2001)).toEqual([]);
      for (const token of tokens(0, MAX_SESSIONS_PER_USER - 1))
        expect(await signIn(accounts, 'ann', token, 3000)).toEqual([]);
    });

    it('changePassword: replaces the hash and ends the other sessions together, only from the hash checked', async () => {
      const { accounts } = await open();
      expect(await accounts.createUser({ name: 'Ann', passwordHash: 'h1', createdAt: 7 })).toBe('created');
      for (const token of ['a', 'b', 'c']) await signIn(accounts, 'Ann', token, 1000);
      expect((await accounts.changePassword('Ann', 'h1', 'h2', 'a', 2000))?.sort()).toEqual(['b', 'c']);
      expect(await accounts.getUser('ann')).toEqual({ name: 'Ann', passwordHash: 'h2', createdAt: 7 });
      expect(await accounts.getSession('a', 2000)).toMatchObject({ user: 'Ann' });
      expect(await accounts.getSession('b', 2000)).toBeNull();
      // A second change checked against the old hash (two at once): nothing changes.
      await signIn(accounts, 'Ann', 'd', 2000);
      expect(await accounts.changePassword('Ann', 'h1', 'h3', 'a', 2001)).toBeNull();
      expect(await accounts.getUser('Ann')).toMatchObject({ passwordHash: 'h2' });
      expect(await accounts.getSession('d', 2001)).not.toBeNull();
      expect(await accounts.changePassword('nobody', 'h1', 'h3', 'a', 2001)).toBeNull();
    });

    it('join with a kind adds the user only to a room of that kind; a member is answered member', async () => {
      const { rooms } = await open();
      await rooms.createRoom(room('pub', 'ann'), quotas);
      await rooms.createRoom(room('priv', 'ann', 'private'), quotas);
      expect(await rooms.join('ann', 'priv', 10)).toBe('joined');
      expect(await rooms.join('ben', 'priv', 10, 'public')).toBe('no_room');
      expect(await rooms.isMember('ben', 'priv')).toBe(false);
      expect(await rooms.join('ann', 'priv', 10, 'public')).toBe('member');
      expect(await rooms.join('ben', 'pub', 10, 'public')).toBe('joined');
      expect(await rooms.join('ben', 'none', 10, 'public')).toBe('no_room');
    });
  });
}
