/**
 * The owner of a public room removes, and so bans, a user (membership.ts `remove`, `unban`, `bans`):
 * the scenarios, run on one SQLite node (test/hub/bans.test.ts) and on two nodes sharing Redis
 * (test/redis/bans.test.ts). With two, alice (the owner) is on the first node and bob's two tabs
 * on both, so one of his tabs hears of the removal from the other node.
 *
 * banScenario: every refusal first (each changes nothing), then alice removes bob: both his tabs
 * get `left` with `reason: 'removed'`, his join is refused `banned`, alice lists him; carol, who
 * never joined, is banned all the same; at the cap (the test's maxBansPerRoom is 2) a third is
 * refused `too_many_bans` and stays in; unban lets bob join again (both tabs); a deleted room's bans
 * go with it.
 *
 * banRaces: the ban and a join of the banned user, each way round, made by hooks on the stores'
 * methods: a join whose add comes after the ban is refused by the store (the hub had found the
 * room public and bob not banned), and a join stored before the ban is undone by the removal.
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { register, TestClient } from '../helpers.js';

const error = (code: string, message?: string) => ({ type: 'error', code, ...(message ? { message } : {}) });
const BANNED = error('banned', 'you are banned from this room');

export async function banScenario(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bobCookie = await register(on(1), 'bob');
  const bobTab1 = (await join(1, bobCookie)).client;
  const bobTab2 = (await join(0, bobCookie)).client;
  const eve = (await join(1, await register(on(1), 'eve'))).client;
  const carolCookie = await register(on(0), 'carol');

  expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({
    kind: 'public',
    owner: 'alice',
  });
  expect(await bobTab1.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ room: 'lobby' });
  expect(await bobTab2.next('joined', (m) => m.room === 'lobby')).toMatchObject({ room: 'lobby' });
  expect(await eve.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ room: 'lobby' });

  // Refusals, each changing nothing: only the owner, in a room of theirs (general has none).
  expect(await eve.request('removed', { type: 'remove', room: 'lobby', user: 'bob' })).toMatchObject(
    error('forbidden', 'only the owner of a room can remove from it'),
  );
  expect(await eve.request('unbanned', { type: 'unban', room: 'lobby', user: 'bob' })).toMatchObject(
    error('forbidden', 'only the owner of a public room can unban in it'),
  );
  expect(await eve.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject(
    error('forbidden', 'only the owner of a public room can list its bans'),
  );
  expect(await alice.request('removed', { type: 'remove', room: 'general', user: 'bob' })).toMatchObject(
    error('forbidden'),
  );
  expect(await alice.request('bans', { type: 'bans', room: 'general' })).toMatchObject(error('forbidden'));
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'alice' })).toMatchObject(
    error('bad_message', 'the owner cannot remove themselves: use leave or delete_room'),
  );
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'nobody' })).toMatchObject(
    error('no_such_user', 'there is no user nobody'),
  );
  expect(await alice.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject({ users: [] });
  for (const tab of [bobTab1, bobTab2]) {
    await tab.barrier();
    expect(tab.all('left')).toEqual([]);
  }

  // The removal (the name in any case): out on every tab and node, and banned.
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'BOB' })).toEqual({
    v: 2,
    type: 'removed',
    ref: expect.any(String),
    room: 'lobby',
    user: 'bob',
  });
  expect(
    await alice.next('member', (m) => m.room === 'lobby' && m.user === 'bob' && !m.joined),
  ).toMatchObject({ joined: false });
  for (const tab of [bobTab1, bobTab2])
    expect(await tab.next('left', (m) => m.room === 'lobby')).toEqual({
      v: 2,
      type: 'left',
      room: 'lobby',
      reason: 'removed',
    });
  expect(await bobTab2.request('joined', { type: 'join', room: 'lobby' })).toMatchObject(BANNED);
  expect(await bobTab1.request('ack', { type: 'send', id: 'b1', room: 'lobby', text: 'hi' })).toMatchObject(
    error('not_member'),
  );
  const { client: bobTab3, welcome } = await join(1, bobCookie);
  expect(welcome.rooms.map((r) => r.room)).toEqual(['general']);

  // Someone who is not in the room (left to dodge it, or never came) is banned all the same.
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'carol' })).toMatchObject({
    type: 'removed',
    user: 'carol',
  });
  const carol = (await join(0, carolCookie)).client;
  expect(await carol.request('joined', { type: 'join', room: 'lobby' })).toMatchObject(BANNED);
  // Again: nothing changes (not counted twice against the cap).
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'carol' })).toMatchObject({
    type: 'removed',
  });
  expect(await alice.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject({
    type: 'bans',
    room: 'lobby',
    users: ['bob', 'carol'],
  });

  // At the cap (2 here) nothing is done: eve stays in.
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'eve' })).toMatchObject(
    error('too_many_bans', 'room lobby bans 2 users, the most allowed: unban someone first'),
  );
  expect(
    await eve.request('ack', { type: 'send', id: 'e1', room: 'lobby', text: 'still here' }),
  ).toMatchObject({ type: 'ack' });

  // Unban: bob joins again, on every tab; a second unban is answered the same (idempotent).
  for (let i = 0; i < 2; i++)
    expect(await alice.request('unbanned', { type: 'unban', room: 'lobby', user: 'Bob' })).toEqual({
      v: 2,
      type: 'unbanned',
      ref: expect.any(String),
      room: 'lobby',
      user: 'bob',
    });
  expect(await alice.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject({ users: ['carol'] });
  expect(await bobTab3.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ room: 'lobby' });
  for (const tab of [bobTab1, bobTab2])
    expect(await tab.next('joined', (m) => m.room === 'lobby')).toBeTruthy();

  // A deleted room's bans go with it: the room made again under the name bans nobody.
  expect(await alice.request('left', { type: 'delete_room', room: 'lobby' })).toMatchObject({
    reason: 'deleted',
  });
  expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({ kind: 'public' });
  expect(await alice.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject({ users: [] });
  expect(await carol.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ type: 'joined' });
}

export async function banRaces(
  origins: string[],
  ownersRooms: RoomStore,
  bobsRooms: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bob = (await join(1, await register(on(1), 'bob'))).client;
  expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({ kind: 'public' });

  // 1. The ban between the hub's look at the room and the store's add (a hook on bob's node's
  // store): the add must be refused.
  const add = bobsRooms.join.bind(bobsRooms);
  let raced = false;
  bobsRooms.join = async (user, room, maxRooms, kind) => {
    if (user === 'bob' && room === 'lobby' && !raced) {
      raced = true;
      expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'bob' })).toMatchObject({
        type: 'removed',
      });
    }
    return add(user, room, maxRooms, kind);
  };
  expect(await bob.request('joined', { type: 'join', room: 'lobby' })).toMatchObject(BANNED);
  expect(raced).toBe(true);
  expect(await bobsRooms.isMember('bob', 'lobby')).toBe(false);
  bobsRooms.join = add;

  // 2. A join stored between the hub's look and the ban (a hook on alice's node's store): the
  // removal after the ban takes bob out again, on his connection too.
  expect(await alice.request('unbanned', { type: 'unban', room: 'lobby', user: 'bob' })).toMatchObject({
    type: 'unbanned',
  });
  const ban = ownersRooms.ban.bind(ownersRooms);
  raced = false;
  ownersRooms.ban = async (room, user, owner, max) => {
    if (user === 'bob' && !raced) {
      raced = true;
      expect(await bob.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ type: 'joined' });
    }
    return ban(room, user, owner, max);
  };
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'bob' })).toMatchObject({
    type: 'removed',
  });
  expect(raced).toBe(true);
  expect(await bob.next('left', (m) => m.room === 'lobby')).toMatchObject({ reason: 'removed' });
  expect(await ownersRooms.isMember('bob', 'lobby')).toBe(false);
  expect(await bob.request('joined', { type: 'join', room: 'lobby' })).toMatchObject(BANNED);
}
