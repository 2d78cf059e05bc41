/**
 * An invitation that goes away without its user doing anything is told to their open connections,
 * on every node (`uninvited`): run on one SQLite node (test/hub/invitations.test.ts) and on two
 * nodes sharing Redis (test/redis/invitations.test.ts).
 *
 * - expiry: the sweep drops the invitations past invitationTtlMs (the fake clock moved past it) and
 *   tells their users; one still young stays, untold.
 * - empty room: the owner leaves their private room with an invitation pending; once it has been
 *   empty for emptyRoomTtlMs (the fake clock), the sweep deletes it and its invitation with it, and
 *   tells the invitee. Before, the sweep dropped the invitation silently and an open page kept
 *   offering an invitation to a room that was gone.
 * - deletion: the owner deletes the room while, from another tab, they invite one more user. The
 *   store's deletion is the barrier: the test's hook makes the invitation just before the step that
 *   drops the room's invitations. The hub read who was invited before that step, and the last
 *   invitee was never told; the store now answers who was invited in the step itself.
 */
import { expect } from 'vitest';
import type { ManualClock } from '../../src/server/clock.js';
import type { RoomStore } from '../../src/server/ports.js';
import { login, register, TestClient } from '../helpers.js';

/** alice on node 0 with `plans` (private), invites as asked; bob on every node, one tab each. */
async function setUp(origins: string[], track: (c: TestClient) => void) {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bobCookie = await register(on(1), 'bob');
  const bobs: TestClient[] = [];
  for (let i = 0; i < Math.max(2, origins.length); i++) bobs.push((await join(i, bobCookie)).client);
  expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
    kind: 'private',
  });
  const invite = async (room: string, user: string, by = alice) =>
    expect(await by.request('invited', { type: 'invite', room, user })).toMatchObject({
      type: 'invited',
      room,
    });
  return { on, join, alice, bobs, invite };
}

export async function expiryTold(
  origins: string[],
  sweep: () => Promise<unknown>,
  rooms: RoomStore,
  clock: ManualClock,
  ttlMs: number,
  track: (c: TestClient) => void,
): Promise<void> {
  const { alice, bobs, invite } = await setUp(origins, track);
  await invite('plans', 'bob');
  for (const bob of bobs) await bob.next('invitation', (m) => m.room === 'plans');
  clock.advance(ttlMs / 2);
  await alice.request('joined', { type: 'create', room: 'trip', private: true });
  await invite('trip', 'bob');
  for (const bob of bobs) await bob.next('invitation', (m) => m.room === 'trip');
  // Nothing is due yet.
  await sweep();
  clock.advance(ttlMs / 2); // `plans`'s is exactly invitationTtlMs old: expired; `trip`'s is not
  await sweep();
  // Every tab of bob's, on every node, is told, once; `trip`'s invitation stays.
  for (const bob of bobs) {
    expect(await bob.next('uninvited')).toMatchObject({ type: 'uninvited', room: 'plans' });
    expect((await bob.barrier()).filter((m) => m.type === 'uninvited')).toEqual([]);
  }
  expect((await rooms.invitations('bob', 0)).map((i) => i.room)).toEqual(['trip']);
  // Dropped by the first sweep: the next has nothing to tell.
  expect(await rooms.expireInvitations(clock.now() - ttlMs)).toEqual([]);
  expect(await bobs[0].request('error', { type: 'accept', room: 'plans' })).toMatchObject({
    code: 'no_such_room',
  });
  expect(await bobs[0].request('joined', { type: 'accept', room: 'trip' })).toMatchObject({ room: 'trip' });
}

export async function emptyRoomExpiryTold(
  origins: string[],
  sweep: () => Promise<string[]>,
  rooms: RoomStore,
  clock: ManualClock,
  emptyTtlMs: number,
  track: (c: TestClient) => void,
): Promise<void> {
  const { alice, bobs, invite } = await setUp(origins, track);
  await invite('plans', 'bob');
  for (const bob of bobs) await bob.next('invitation', (m) => m.room === 'plans');
  expect(await alice.request('left', { type: 'leave', room: 'plans' })).toMatchObject({ room: 'plans' });
  clock.advance(emptyTtlMs - 1);
  expect(await sweep()).toEqual([]);
  clock.advance(2);
  expect(await sweep()).toEqual(['plans']);
  // Every tab of bob's, on every node, is told, once.
  for (const bob of bobs) {
    expect(await bob.next('uninvited')).toMatchObject({ type: 'uninvited', room: 'plans' });
    expect((await bob.barrier()).filter((m) => m.type === 'uninvited')).toEqual([]);
  }
  expect(await rooms.invitations('bob', 0)).toEqual([]);
  // Another sweep has nothing more to tell.
  expect(await sweep()).toEqual([]);
  for (const bob of bobs) expect((await bob.barrier()).filter((m) => m.type === 'uninvited')).toEqual([]);
}

export async function deletionTellsTheLastInvitee(
  origins: string[],
  alicesRooms: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join, alice, bobs, invite } = await setUp(origins, track);
  const carol = (await join(1, await register(on(1), 'carol'))).client;
  await invite('plans', 'bob');
  // alice's second tab (her first is busy with the deletion, requests run one at a time).
  const alice2 = (await join(origins.length - 1, await login(on(origins.length - 1), 'alice'))).client;

  // Between the hub's start of the deletion and the store's step: carol is invited.
  let raced = false;
  const hold = async () => {
    if (raced) return;
    raced = true;
    await invite('plans', 'carol', alice2);
    await carol.next('invitation', (m) => m.room === 'plans');
  };
  const drop = alicesRooms.deleteRoom.bind(alicesRooms);
  alicesRooms.deleteRoom = async (name) => {
    if (name === 'plans') await hold();
    return drop(name);
  };
  const dropTelling = alicesRooms.deleteRoomAndInvitations.bind(alicesRooms);
  alicesRooms.deleteRoomAndInvitations = async (name) => {
    if (name === 'plans') await hold();
    return dropTelling(name);
  };

  expect(await alice.request('left', { type: 'delete_room', room: 'plans' })).toMatchObject({
    room: 'plans',
    reason: 'deleted',
  });
  expect(raced).toBe(true);
  // Both invitees, bob (invited before) and carol (during), are told on their open connections.
  expect(await carol.next('uninvited')).toMatchObject({ room: 'plans' });
  for (const bob of bobs) expect(await bob.next('uninvited')).toMatchObject({ room: 'plans' });
  expect(await alicesRooms.invitations('carol', 0)).toEqual([]);
}
