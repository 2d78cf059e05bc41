/**
 * A join that meets its room deleted and made again as private (membership.ts `join`): the scenario,
 * run on one SQLite node (test/hub/join-race.test.ts) and on two nodes sharing Redis
 * (test/redis/join-race.test.ts, alice on one node, bob on the other).
 *
 * bob asks to join the public room `plans`; the hub finds it public; before the store adds him, its
 * owner alice deletes it and creates `plans` again as a private room. The store's join is the
 * barrier: the test's hook holds bob's add until alice's delete and create are answered. bob must
 * not get in: the store checks the kind with the add.
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { register, TestClient } from '../helpers.js';

export async function joinRace(
  origins: string[],
  bobsRooms: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bob = (await join(1, await register(on(1), 'bob'))).client;
  expect(await alice.request('joined', { type: 'create', room: 'plans' })).toMatchObject({ kind: 'public' });

  // Between the hub's look at the room and the store's add (a hook on bob's node's store).
  const add = bobsRooms.join.bind(bobsRooms);
  let raced = false;
  bobsRooms.join = async (user, room, maxRooms, kind) => {
    if (user === 'bob' && room === 'plans' && !raced) {
      raced = true;
      expect(await alice.request('left', { type: 'delete_room', room: 'plans' })).toMatchObject({
        room: 'plans',
      });
      expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
        kind: 'private',
      });
    }
    return add(user, room, maxRooms, kind);
  };

  expect(await bob.request('joined', { type: 'join', room: 'plans' })).toMatchObject({
    type: 'error',
    code: 'no_such_room',
  });
  expect(raced).toBe(true);
  expect(await bobsRooms.isMember('bob', 'plans')).toBe(false);
  expect((await bobsRooms.memberships('bob')).map((m) => m.room)).toEqual(['general']);
  // The private room has its owner alone.
  expect(await bobsRooms.listMembers('alice', 'plans', '', 10)).toMatchObject({
    ok: true,
    members: ['alice'],
  });
}
