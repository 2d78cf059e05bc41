/**
 * The owner's `remove` racing the invitee's `accept` (membership.ts `remove`): the scenario, run on
 * one SQLite node (test/hub/invitations.test.ts) and on two nodes sharing Redis
 * (test/redis/invitations.test.ts, alice on one node, bob on the other).
 *
 * bob has a pending invitation to alice's private room `plans`. alice removes him: the store's
 * leave finds him no member, so the hub takes back the invitation instead. Between those two steps
 * bob accepts (the test's hook on the owner's node's store holds the drop until bob's `joined`).
 * The drop then finds nothing. Before, alice was answered "bob is not in room plans" while he was in
 * it; now the leave is tried again, and the answer matches what is stored: bob is out, told so.
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { register, TestClient } from '../helpers.js';

export async function removeRacingAccept(
  origins: string[],
  alicesRooms: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bob = (await join(origins.length - 1, await register(on(origins.length - 1), 'bob'))).client;
  await alice.request('joined', { type: 'create', room: 'plans', private: true });
  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
    type: 'invited',
  });
  await bob.next('invitation', (m) => m.room === 'plans');

  const drop = alicesRooms.dropInvitation.bind(alicesRooms);
  let raced = false;
  alicesRooms.dropInvitation = async (user, room, owner) => {
    if (!raced && user === 'bob' && room === 'plans' && owner === 'alice') {
      raced = true;
      expect(await bob.request('joined', { type: 'accept', room: 'plans' })).toMatchObject({
        type: 'joined',
        room: 'plans',
      });
    }
    return drop(user, room, owner);
  };

  const answer = await alice.request('removed', { type: 'remove', room: 'plans', user: 'bob' });
  expect(raced).toBe(true);
  expect(answer).toMatchObject({ type: 'removed', room: 'plans', user: 'bob' });
  expect(await alicesRooms.isMember('bob', 'plans')).toBe(false);
  // bob's connection is taken out of the room, told why.
  expect(await bob.next('left', (m) => m.room === 'plans')).toMatchObject({ reason: 'removed' });
}
