/**
 * The store contract of bans from public rooms (ports.ts, RoomStore.ban, unban, bans, join's
 * 'banned', and a removal's leave, which never takes out the room's owner), run on every backend: test/backends/sqlite/store.test.ts and test/redis/store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';

const quotas = { maxRooms: 100, maxOwnedRooms: 10 };
const room = (name: string, owner: string | null, kind: 'public' | 'private' = 'public') => ({
  name,
  kind,
  owner,
  createdAt: 1,
});

type WriteBan = (room: string, user: string) => Promise<void>;

/**
 * `leftover`, where a backend has one: writes a ban of `user` from `room` as a node of an older
 * version could leave it behind a deleted room (Redis: its DELETE_ROOM did not know the key).
 * `olderBan`: writes a ban of `user` from `room` straight into the store, with no check, as a
 * version before the ban step refused the room's owner could have stored it (an admin's ban).
 */
export function bansContract(
  name: string,
  open: () => Promise<{ rooms: RoomStore; leftover?: WriteBan; olderBan: WriteBan }>,
): void {
  describe(`${name}: the store contract of bans`, () => {
    it("bans only in the owner's public room, under the cap; join refuses the banned, with its add", async () => {
      const { rooms } = await open();
      await rooms.createRoom(room('hall', 'ann'), quotas);
      await rooms.createRoom(room('sec', 'ann', 'private'), quotas);
      await rooms.createRoom(room('general', null), quotas);
      expect(await rooms.join('ann', 'hall', 10)).toBe('joined');
      expect(await rooms.join('ben', 'hall', 10)).toBe('joined');

      expect(await rooms.ban('hall', 'ben', 'cy', 2)).toBe('no_room'); // not cy's
      expect(await rooms.ban('sec', 'ben', 'ann', 2)).toBe('no_room'); // private
      expect(await rooms.ban('general', 'ben', 'ann', 2)).toBe('no_room'); // nobody's
      expect(await rooms.ban('nope', 'ben', 'ann', 2)).toBe('no_room');
      expect(await rooms.bans('hall', '', 10)).toEqual([]);

      expect(await rooms.ban('hall', 'ben', 'ann', 2)).toBe('banned');
      expect(await rooms.ban('hall', 'ben', 'ann', 2)).toBe('already');
      // The membership is the caller's to end (the hub's removal follows the ban).
      expect(await rooms.isMember('ben', 'hall')).toBe(true);
      expect(await rooms.join('ben', 'hall', 10, 'public')).toBe('banned');
      expect(await rooms.leave('ben', 'hall', 2, 'removed', 'ann')).toBe(true);
      expect(await rooms.join('ben', 'hall', 10, 'public')).toBe('banned');
      expect(await rooms.join('ben', 'hall', 10)).toBe('banned');
      expect(await rooms.isMember('ben', 'hall')).toBe(false);

      // A user who is not a member, and the cap (2): nothing done at it.
      expect(await rooms.ban('hall', 'Zed', 'ann', 2)).toBe('banned');
      expect(await rooms.ban('hall', 'cy', 'ann', 2)).toBe('full');
      expect(await rooms.join('cy', 'hall', 10, 'public')).toBe('joined');
      // Code unit order, paged after a name.
      expect(await rooms.bans('hall', '', 10)).toEqual(['Zed', 'ben']);
      expect(await rooms.bans('hall', '', 1)).toEqual(['Zed']);
      expect(await rooms.bans('hall', 'Zed', 10)).toEqual(['ben']);
      expect(await rooms.bans('hall', 'ben', 10)).toEqual([]);

      // Only the owner lifts one.
      expect(await rooms.unban('hall', 'ben', 'cy')).toBe(false);
      expect(await rooms.unban('hall', 'ben', 'ann')).toBe(true);
      expect(await rooms.unban('hall', 'ben', 'ann')).toBe(false);
      expect(await rooms.join('ben', 'hall', 10, 'public')).toBe('joined');
      expect(await rooms.bans('hall', '', 10)).toEqual(['Zed']);
    });

    it("never bans the room's owner from it, whoever asks (its owner, or a server admin's flag)", async () => {
      const { rooms } = await open();
      await rooms.createRoom(room('hall', 'ann'), quotas);
      await rooms.join('ann', 'hall', 10);
      expect(await rooms.ban('hall', 'ann', 'ann', 10)).toBe('owner');
      expect(await rooms.ban('hall', 'ann', 'root', 10, true)).toBe('owner');
      // Anyone else, as before.
      expect(await rooms.ban('hall', 'ben', 'root', 10, true)).toBe('banned');
      expect(await rooms.bans('hall', '', 10)).toEqual(['ben']);
      expect(await rooms.join('ann', 'hall', 10, 'public')).toBe('member');
    });

    it("never removes the room's owner from it, whoever asks (its owner, or a server admin's flag); their own leave does", async () => {
      const { rooms } = await open();
      await rooms.createRoom(room('hall', 'ann'), quotas);
      await rooms.createRoom(room('sec', 'ann', 'private'), quotas);
      for (const name of ['hall', 'sec']) expect(await rooms.join('ann', name, 10)).toBe('joined');
      expect(await rooms.join('ben', 'hall', 10)).toBe('joined');
      expect(await rooms.leave('ann', 'hall', 2, 'removed', 'root', true)).toBe(false);
      expect(await rooms.leave('ann', 'hall', 2, 'removed', 'ann')).toBe(false);
      expect(await rooms.leave('ann', 'sec', 2, 'removed', 'ann')).toBe(false);
      for (const name of ['hall', 'sec']) expect(await rooms.isMember('ann', name)).toBe(true);
      // Anyone else, as before; and the owner's own leave.
      expect(await rooms.leave('ben', 'hall', 2, 'removed', 'root', true)).toBe(true);
      expect(await rooms.leave('ann', 'hall', 2)).toBe(true);
      expect(await rooms.isMember('ann', 'hall')).toBe(false);
    });

    it('lets the owner into their room whatever an older version stored (a ban of them), and lists no such ban', async () => {
      const { rooms, olderBan } = await open();
      await rooms.createRoom(room('hall', 'ann'), quotas);
      await olderBan('hall', 'ann');
      await olderBan('hall', 'ben');
      expect(await rooms.join('ann', 'hall', 10, 'public')).toBe('joined');
      expect(await rooms.join('ben', 'hall', 10, 'public')).toBe('banned');
      // The moderators' list leaves it out, on a short page too (`ann` sorts before `ben`).
      expect(await rooms.bans('hall', '', 10)).toEqual(['ben']);
      expect(await rooms.bans('hall', '', 1)).toEqual(['ben']);
      // The cap (2) counts true bans: the owner's takes no place in it.
      expect(await rooms.ban('hall', 'cy', 'ann', 2)).toBe('banned');
      expect(await rooms.bans('hall', '', 10)).toEqual(['ben', 'cy']);
      expect(await rooms.ban('hall', 'dan', 'ann', 2)).toBe('full');
      // After a leave, in again.
      expect(await rooms.leave('ann', 'hall', 2)).toBe(true);
      expect(await rooms.join('ann', 'hall', 10, 'public')).toBe('joined');
    });

    it('drops a room’s bans with it: deleted, or expired empty; a room made again under the name bans nobody', async () => {
      const { rooms, leftover } = await open();
      await rooms.createRoom(room('hall', 'ann'), quotas);
      await rooms.join('ann', 'hall', 10);
      expect(await rooms.ban('hall', 'ben', 'ann', 10)).toBe('banned');
      expect(await rooms.deleteRoom('hall', 'ann')).toBe(true);
      expect(await rooms.bans('hall', '', 10)).toEqual([]);
      await rooms.createRoom(room('hall', 'cy'), quotas);
      expect(await rooms.bans('hall', '', 10)).toEqual([]);
      expect(await rooms.join('ben', 'hall', 10, 'public')).toBe('joined');

      await rooms.createRoom(room('quiet', 'ann'), quotas);
      expect(await rooms.ban('quiet', 'ben', 'ann', 10)).toBe('banned');
      expect((await rooms.expireEmptyRooms(Number.MAX_SAFE_INTEGER)).rooms).toContain('quiet');
      expect(await rooms.bans('quiet', '', 10)).toEqual([]);
      await rooms.createRoom(room('quiet', 'cy'), quotas);
      expect(await rooms.join('ben', 'quiet', 10, 'public')).toBe('joined');

      if (leftover) {
        await leftover('later', 'ben');
        await rooms.createRoom(room('later', 'ann'), quotas);
        expect(await rooms.bans('later', '', 10)).toEqual([]);
        expect(await rooms.join('ben', 'later', 10, 'public')).toBe('joined');
      }
    });
  });
}
