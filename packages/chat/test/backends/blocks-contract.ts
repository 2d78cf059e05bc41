/**
 * The store contract of blocks (ports.ts, RoomStore.block and what it refuses), run on every
 * backend: test/backends/sqlite/store.test.ts and test/redis/store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { dmRoom } from '../../src/shared/protocol.js';

const quotas = { maxRooms: 100, maxOwnedRooms: 10 };
const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
const message = (room: string, user: string, clientId: string) =>
  ({ type: 'message', room, user, clientId, text: clientId, ts: 1000 }) as const;

/** A direct message of `a` and `b`, both in it. */
async function dm(rooms: RoomStore, a: string, b: string): Promise<string> {
  const name = dmRoom(a, b);
  await rooms.createRoom({ name, kind: 'dm', owner: null, createdAt: 1 }, quotas);
  await rooms.join(a, name, 10);
  await rooms.join(b, name, 10);
  return name;
}

/**
 * `other`: a second node of the same store (Redis: another backend on the same keys), or the same
 * store again where there is only one (SQLite).
 */
export function blocksContract(
  name: string,
  open: () => Promise<{ rooms: RoomStore; other?: RoomStore }>,
): void {
  describe(`${name}: blocks`, () => {
    it('keeps the list ignoring case, under its cap; unblock ends a block; one-way', async () => {
      const { rooms } = await open();
      expect(await rooms.blockedUsers('Ann')).toEqual([]);
      expect(await rooms.block('Ann', 'ben', 2)).toEqual({ result: 'blocked', dropped: [] });
      expect(await rooms.block('ann', 'BEN', 2)).toEqual({ result: 'already', dropped: [] });
      expect(await rooms.block('Ann', 'Cid', 2)).toEqual({ result: 'blocked', dropped: [] });
      expect(await rooms.block('Ann', 'dee', 2)).toEqual({ result: 'full', dropped: [] });
      expect(await rooms.blockedUsers('ANN')).toEqual(['Cid', 'ben']);
      expect(await rooms.blocks('ann', 'Ben')).toBe(true);
      expect(await rooms.blocks('ben', 'ann')).toBe(false);
      expect(await rooms.blocks('Ann', 'dee')).toBe(false);
      expect(await rooms.unblock('Ann', 'Ben')).toBe(true);
      expect(await rooms.unblock('Ann', 'ben')).toBe(false);
      expect(await rooms.blockedUsers('Ann')).toEqual(['Cid']);
      expect(await rooms.block('Ann', 'dee', 2)).toEqual({ result: 'blocked', dropped: [] });
    });

    it("refuses the blocked user's messages and edits in the direct message, with the write; not the blocker's", async () => {
      const { rooms } = await open();
      const room = await dm(rooms, 'ann', 'Ben');
      const before = await rooms.appendEvent(message(room, 'Ben', 'b1'));
      expect(before).toMatchObject({ ok: true, duplicate: false });
      await rooms.block('ann', 'Ben', 10);
      expect(await rooms.appendEvent(message(room, 'Ben', 'b2'))).toEqual({ ok: false, reason: 'blocked' });
      expect(
        await rooms.appendEvent({ type: 'edit', room, user: 'Ben', target: 1, text: 'changed', ts: 1001 }),
      ).toEqual({ ok: false, reason: 'blocked' });
      // Nothing stored; his message from before stays, and he may still delete it.
      expect(await rooms.head(room)).toBe(1);
      expect(await rooms.appendEvent(message(room, 'Ben', 'b1'))).toMatchObject({
        ok: true,
        duplicate: true,
      });
      // One-way: she writes on.
      expect(await rooms.appendEvent(message(room, 'ann', 'a1'))).toMatchObject({
        ok: true,
        duplicate: false,
      });
      expect(
        await rooms.appendEvent({ type: 'delete', room, user: 'Ben', target: 1, ts: 1002 }),
      ).toMatchObject({
        ok: true,
      });
      // Other rooms are not touched: his messages in a shared room are stored.
      await rooms.createRoom({ name: 'pub', kind: 'public', owner: null, createdAt: 1 }, quotas);
      await rooms.join('Ben', 'pub', 10);
      expect(await rooms.appendEvent(message('pub', 'Ben', 'p1'))).toMatchObject({
        ok: true,
        duplicate: false,
      });
      // Another DM of his is not touched either.
      const other = await dm(rooms, 'Ben', 'cid');
      expect(await rooms.appendEvent(message(other, 'Ben', 'c1'))).toMatchObject({
        ok: true,
        duplicate: false,
      });
      // Unblocked: he writes again.
      await rooms.unblock('ann', 'ben');
      expect(await rooms.appendEvent(message(room, 'Ben', 'b3'))).toMatchObject({
        ok: true,
        duplicate: false,
      });
    });

    it("refuses the blocked user's invitation, and drops the pending ones of the blocker with the block", async () => {
      const { rooms } = await open();
      for (const name of ['sec', 'den']) {
        await rooms.createRoom({ name, kind: 'private', owner: 'Ben', createdAt: 1 }, quotas);
        await rooms.join('Ben', name, 10);
      }
      await rooms.createRoom({ name: 'cids', kind: 'private', owner: 'cid', createdAt: 1 }, quotas);
      await rooms.join('cid', 'cids', 10);
      expect(await rooms.invite('sec', 'ann', 'Ben', 1000, limits)).toBe('invited');
      expect(await rooms.invite('cids', 'ann', 'cid', 1000, limits)).toBe('invited');
      expect(await rooms.block('ann', 'ben', 10)).toEqual({ result: 'blocked', dropped: ['sec'] });
      expect((await rooms.invitations('ann', 0)).map((i) => i.room)).toEqual(['cids']);
      expect(await rooms.invitees('sec')).toEqual([]);
      expect(await rooms.accept('ann', 'sec', 10, 0)).toBe('no_invitation');
      expect(await rooms.invite('den', 'ann', 'Ben', 1001, limits)).toBe('blocked');
      expect(await rooms.invitees('den')).toEqual([]);
      // One-way: she is not kept from being invited by others, nor he from inviting others.
      expect(await rooms.invite('den', 'cid', 'Ben', 1001, limits)).toBe('invited');
      await rooms.unblock('ann', 'ben');
      expect(await rooms.invite('den', 'ann', 'Ben', 1002, limits)).toBe('invited');
      // The dropped invitation is gone from the expiry's index too: the sweep does not report it
      // (ann's page would be told that an invitation it no longer lists expired).
      const expired = await rooms.expireInvitations(5000);
      expect(expired.map((i) => `${i.user} ${i.room}`).sort()).toEqual(['ann cids', 'ann den', 'cid den']);
      expect(await rooms.expireInvitations(5000)).toEqual([]);
    });

    it('answers a blocked owner not_accepted for an invitation the blocker had declined, on either store', async () => {
      // Regression: on Redis a declined invitation's room side outlives the block (the block
      // drops what the invitee still lists), and the invite answered already_invited there while
      // SQLite, whose block drops both sides, answered blocked.
      const { rooms } = await open();
      await rooms.createRoom({ name: 'sec', kind: 'private', owner: 'Ben', createdAt: 1 }, quotas);
      await rooms.join('Ben', 'sec', 10);
      expect(await rooms.invite('sec', 'ann', 'Ben', 1000, limits)).toBe('invited');
      expect(await rooms.dropInvitation('ann', 'sec')).toBe(true);
      expect(await rooms.invite('sec', 'ann', 'Ben', 1001, limits)).toBe('already_invited');
      await rooms.block('ann', 'ben', 10);
      expect(await rooms.invite('sec', 'ann', 'Ben', 1002, limits)).toBe('blocked');
      expect(await rooms.invitations('ann', 0)).toEqual([]);
    });

    it("drops the owner's side of an invitation the blocker had declined with the block: the owner no longer lists her", async () => {
      // Regression: on Redis a declined invitation's room side outlived the block until it expired
      // (the block dropped only what the invitee still listed), so the blocked owner still saw her
      // among the invitees; SQLite's block deletes the row.
      const opened = await open();
      const a = opened.rooms;
      const b = opened.other ?? a;
      for (const [name, owner] of [
        ['sec', 'Ben'],
        ['den', 'Ben'],
        ['cids', 'cid'],
      ] as const) {
        await a.createRoom({ name, kind: 'private', owner, createdAt: 1 }, quotas);
        await a.join(owner, name, 10);
      }
      expect(await a.invite('sec', 'ann', 'Ben', 1000, limits)).toBe('invited');
      expect(await a.invite('den', 'ann', 'Ben', 1000, limits)).toBe('invited');
      expect(await a.invite('cids', 'ann', 'cid', 1000, limits)).toBe('invited');
      expect(await b.dropInvitation('ann', 'sec')).toBe(true);
      expect(await b.dropInvitation('ann', 'cids')).toBe(true);
      // Declined: gone for her, pending to its owner.
      expect(await a.invitees('sec')).toEqual(['ann']);
      // Blocked on the other node: both of his go (the pending one answered), cid's decline stays.
      expect(await b.block('ann', 'ben', 10)).toEqual({ result: 'blocked', dropped: ['den'] });
      expect(await a.invitees('sec')).toEqual([]);
      expect(await a.invitees('den')).toEqual([]);
      expect(await a.invitees('cids')).toEqual(['ann']);
      expect(await a.dropInvitation('ann', 'sec', 'Ben')).toBe(false); // nothing left to take back
      // Unblocked, he invites her afresh (no declined one in the way), and she sees it.
      await b.unblock('ann', 'ben');
      expect(await a.invite('sec', 'ann', 'Ben', 1001, limits)).toBe('invited');
      expect((await b.invitations('ann', 0)).map((i) => i.room)).toEqual(['sec']);
      // The sweep tells her of the new one only (the declined one of cid goes untold).
      expect(await a.expireInvitations(5000)).toEqual([{ user: 'ann', room: 'sec' }]);
      expect(await a.invitees('cids')).toEqual([]);
    });

    it("leaves the blocked authors' messages and mentions out of the reader's unread counts, whichever node asks", async () => {
      // Regression (blockleft): welcome and joined counted the mentions (and messages) a blocked
      // user wrote while the reader was away, which the page's live badge never counted.
      const opened = await open();
      const a = opened.rooms;
      const b = opened.other ?? a;
      await a.createRoom({ name: 'team', kind: 'public', owner: null, createdAt: 1 }, quotas);
      for (const user of ['ann', 'ben', 'cid']) await a.join(user, 'team', 10);
      const say = (user: string, clientId: string, mentions?: string[]) =>
        ({ ...message('team', user, clientId), ...(mentions ? { mentions } : {}) }) as const;
      await a.appendEvent(say('ben', 'b1', ['ann'])); // 1
      await b.appendEvent(say('cid', 'c1', ['ann', 'ben'])); // 2
      await a.appendEvent(say('ben', 'b2')); // 3
      await b.appendEvent(say('ann', 'a1', ['ben'])); // 4: her own
      const counts = async (store: RoomStore, user: string, after = 0) => [
        await store.unreadCount('team', user, after),
        await store.mentionCount('team', user, after),
      ];
      expect(await counts(a, 'ann')).toEqual([3, 2]);
      await b.block('ann', 'ben', 10);
      expect(await counts(a, 'ann')).toEqual([1, 1]);
      expect(await counts(b, 'ann')).toEqual([1, 1]);
      expect(await counts(a, 'ann', 1)).toEqual([1, 1]);
      // What he writes and edits while blocked counts neither; one way: her messages count for him.
      await a.appendEvent(say('ben', 'b3', ['ann'])); // 5
      await b.appendEvent({
        type: 'edit',
        room: 'team',
        user: 'ben',
        target: 3,
        text: '@ann',
        ts: 1001,
        mentions: ['ann'],
      });
      expect(await counts(b, 'ann')).toEqual([1, 1]);
      expect(await counts(a, 'ben')).toEqual([2, 2]);
      // His delete takes nothing more away from her count (it never counted his message).
      await a.appendEvent({ type: 'delete', room: 'team', user: 'ben', target: 1, ts: 1002 });
      expect(await counts(b, 'ann')).toEqual([1, 1]);
      // Unblocked: his messages as they are now count again (3 and 5, both mentioning her).
      await a.unblock('ann', 'ben');
      expect(await counts(b, 'ann')).toEqual([3, 3]);
      // Blocking someone else changes nothing of his.
      await a.block('ann', 'dee', 10);
      expect(await counts(a, 'ann')).toEqual([3, 3]);
      // More blocked users than the room has authors (ann, ben, cid): the count then looks the
      // room's authors up in the list (Redis walks the smaller of the two) and finds ben all the same.
      for (const user of ['ben', 'eve', 'fay']) await b.block('ann', user, 10);
      expect(await counts(a, 'ann')).toEqual([1, 1]);
      expect(await counts(b, 'ann', 2)).toEqual([0, 0]);
    });

    it('a block and a message sent at once: the message is stored before the block or refused after it', async () => {
      // The check is in the append's atomic step: whatever the interleaving, nothing the blocked
      // user writes is stored once the block has resolved.
      const { rooms } = await open();
      const room = await dm(rooms, 'ann', 'ben');
      const sends = Array.from({ length: 20 }, (_, i) => rooms.appendEvent(message(room, 'ben', `m${i}`)));
      const blocked = rooms.block('ann', 'ben', 10);
      await blocked;
      const after = await rooms.appendEvent(message(room, 'ben', 'late'));
      expect(after).toEqual({ ok: false, reason: 'blocked' });
      const results = await Promise.all(sends);
      const stored = results.filter((r) => r.ok).length;
      expect(await rooms.head(room)).toBe(stored);
    });
  });
}
