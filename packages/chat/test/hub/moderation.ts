/**
 * Moderation of public rooms by their owner and by server admins, what the users themselves are
 * told: the scenario, run on one SQLite node (test/hub/moderation.test.ts) and on two nodes sharing
 * Redis (test/redis/moderation.test.ts), each started with `admins: ['root']`. With two, the tabs
 * of alice (the owner of `lobby`) and of bob are on both nodes, carol's on the other node than
 * the moderators' first tabs.
 *
 * moderationScenario:
 * - the room's owner is never removed (so banned) from it: an admin's `remove` of them is refused
 *   `forbidden`, by the hub and by the store's own step (asked directly, with the admin's flag);
 * - nor is a server admin from a public room, by its owner (they could unban themselves): refused
 *   `forbidden` by the hub (the stores do not know the admins); from the owner's private room
 *   they are removed as anyone (admins have no powers there);
 * - the `banned` refusal is true whoever banned (an owner's ban and an admin's);
 * - an unban that lifts a ban is told to the user, on every tab and node (`unbanned` without ref),
 *   once, while the moderators' other tabs hear it as before; one that lifts nothing is told to
 *   nobody but them.
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { register, TestClient } from '../helpers.js';

const error = (code: string, message?: string) => ({ type: 'error', code, ...(message ? { message } : {}) });
const BANNED = error('banned', 'you are banned from this room');
const OWNER_STAYS = error('forbidden', "the room's owner cannot be removed from it");
const ADMIN_STAYS = error('forbidden', 'a server admin cannot be removed from a public room');

export async function moderationScenario(
  origins: string[],
  rooms: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const rootCookie = await register(on(0), 'root');
  const root = (await join(0, rootCookie)).client;
  const rootTab2 = (await join(1, rootCookie)).client;
  const aliceCookie = await register(on(0), 'alice');
  const alice = (await join(0, aliceCookie)).client;
  const aliceTab2 = (await join(1, aliceCookie)).client;
  const bobCookie = await register(on(1), 'bob');
  const bob = (await join(1, bobCookie)).client;
  const bobTab2 = (await join(0, bobCookie)).client;
  const carol = (await join(1, await register(on(1), 'carol'))).client;

  expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({ owner: 'alice' });
  expect(await aliceTab2.next('joined', (m) => m.room === 'lobby')).toBeTruthy();
  for (const c of [root, bob])
    expect(await c.request('joined', { type: 'join', room: 'lobby' })).toBeTruthy();
  expect(await bobTab2.next('joined', (m) => m.room === 'lobby')).toBeTruthy();

  // The owner stays: an admin's removal of them (by any spelling of the name) is refused, and the
  // store's step refuses the ban whoever asks, the admin's flag or not.
  for (const user of ['alice', 'ALICE'])
    expect(await root.request('removed', { type: 'remove', room: 'lobby', user })).toMatchObject(OWNER_STAYS);
  expect(await rooms.ban('lobby', 'alice', 'root', 100, true)).toBe('owner');
  expect(await rooms.ban('lobby', 'alice', 'alice', 100)).toBe('owner');
  expect(await rooms.bans('lobby', '', 10)).toEqual([]);
  expect(await rooms.isMember('alice', 'lobby')).toBe(true);
  for (const tab of [alice, aliceTab2]) {
    await tab.barrier();
    expect(tab.all('left')).toEqual([]);
  }

  // Nor is a server admin, from a public room: they unban in every public room, so the owner's
  // ban of them would mean nothing. Refused, with nothing stored; root stays in.
  for (const user of ['root', 'Root'])
    expect(await alice.request('removed', { type: 'remove', room: 'lobby', user })).toMatchObject(
      ADMIN_STAYS,
    );
  expect(await rooms.bans('lobby', '', 10)).toEqual([]);
  expect(await rooms.isMember('root', 'lobby')).toBe(true);
  // In a private room an admin has no powers: its owner removes them as anyone.
  expect(await alice.request('joined', { type: 'create', room: 'den', private: true })).toMatchObject({
    kind: 'private',
  });
  expect(await alice.request('invited', { type: 'invite', room: 'den', user: 'root' })).toMatchObject({
    type: 'invited',
  });
  expect(await root.request('joined', { type: 'accept', room: 'den' })).toMatchObject({ room: 'den' });
  expect(await alice.request('removed', { type: 'remove', room: 'den', user: 'root' })).toMatchObject({
    type: 'removed',
    user: 'root',
  });
  expect(await root.next('left', (m) => m.room === 'den')).toMatchObject({ reason: 'removed' });
  expect(await rooms.isMember('root', 'den')).toBe(false);
  for (const tab of [root, rootTab2]) {
    await tab.barrier();
    expect(tab.all('left').filter((m) => m.room === 'lobby')).toEqual([]);
  }

  // The refusal of a banned join says what is true whoever banned: the owner's ban...
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'bob' })).toMatchObject({
    type: 'removed',
  });
  for (const tab of [bob, bobTab2])
    expect(await tab.next('left', (m) => m.room === 'lobby')).toMatchObject({ reason: 'removed' });
  expect(await bob.request('joined', { type: 'join', room: 'lobby' })).toMatchObject(BANNED);
  // ...and an admin's, in general (which has no owner).
  expect(await root.request('removed', { type: 'remove', room: 'general', user: 'carol' })).toMatchObject({
    type: 'removed',
  });
  expect(await carol.next('left', (m) => m.room === 'general')).toMatchObject({ reason: 'removed' });
  expect(await carol.request('joined', { type: 'join', room: 'general' })).toMatchObject(BANNED);

  // The owner lifts bob's ban: both his tabs, on both nodes, are told (no ref), as the moderators'
  // (alice's other tab, the admin's) are, unchanged.
  const unbanned = (room: string, user: string) => ({ v: 2, type: 'unbanned', room, user });
  expect(await alice.request('unbanned', { type: 'unban', room: 'lobby', user: 'BOB' })).toMatchObject({
    type: 'unbanned',
    user: 'bob',
  });
  for (const tab of [bob, bobTab2, aliceTab2, root, rootTab2])
    expect(await tab.next('unbanned', (m) => m.room === 'lobby')).toEqual(unbanned('lobby', 'bob'));
  // Once per tab: bob is not also a moderator, so no second copy comes.
  for (const tab of [bob, bobTab2]) {
    await tab.barrier();
    expect(tab.all('unbanned')).toEqual([]);
  }
  expect(await bob.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ room: 'lobby' });

  // An unban of a user who is not banned (carol, from lobby) lifts nothing: carol is not told. The
  // admin's unban of her from general that follows is told her, on the same user topic after the
  // first: had the first been told, it would be there before it.
  expect(await alice.request('unbanned', { type: 'unban', room: 'lobby', user: 'carol' })).toMatchObject({
    type: 'unbanned',
  });
  expect(await root.request('unbanned', { type: 'unban', room: 'general', user: 'carol' })).toMatchObject({
    type: 'unbanned',
  });
  expect(await carol.next('unbanned')).toEqual(unbanned('general', 'carol'));
  await carol.barrier();
  expect(carol.all('unbanned')).toEqual([]);
  expect(await carol.request('joined', { type: 'join', room: 'general' })).toMatchObject({
    room: 'general',
  });
}
