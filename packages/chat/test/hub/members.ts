/**
 * `members`: every member of a room, online or not, paged by name (hub.ts). The scenario, run on one
 * SQLite node (test/hub/members.test.ts) and on two nodes sharing Redis
 * (test/redis/members.test.ts), with pages of 2 (`membersPage`); with two nodes alice is on the
 * first, bob and eve on the second, and carol connects only to accept her invitation.
 *
 * The list holds members who are offline (carol), follows invitations, removals and leaves at once
 * (the store is read at each request), and is refused to anyone outside the room, private or public;
 * a bad room name or cursor is refused like in any request.
 */
import { expect } from 'vitest';
import { register, TestClient } from '../helpers.js';

export const MEMBERS_PAGE = 2;

export async function listMembers(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bob = (await join(1, await register(on(1), 'bob'))).client;
  const carolCookie = await register(on(0), 'carol');
  const eve = (await join(1, await register(on(1), 'eve'))).client;
  const members = (client: TestClient, room: string, after?: string) =>
    client.request('members', { type: 'members', room, ...(after === undefined ? {} : { after }) });
  const page = (room: string, names: string[], next?: string) => ({
    v: 2,
    type: 'members',
    ref: expect.any(String),
    room,
    members: names,
    ...(next === undefined ? {} : { next }),
  });
  const error = (code: string, message: string) => ({ type: 'error', code, message });

  expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
    kind: 'private',
  });
  for (const user of ['bob', 'carol'])
    expect(await alice.request('invited', { type: 'invite', room: 'plans', user })).toMatchObject({
      type: 'invited',
    });
  await bob.request('joined', { type: 'accept', room: 'plans' });
  const carol = (await join(0, carolCookie)).client;
  await carol.request('joined', { type: 'accept', room: 'plans' });
  await carol.close();

  // carol is a member though she is offline: the online list would not show her.
  expect(await members(alice, 'plans')).toEqual(page('plans', ['alice', 'bob'], 'bob'));
  expect(await members(alice, 'plans', 'bob')).toEqual(page('plans', ['carol']));
  // Any member may ask, on any node.
  expect(await members(bob, 'plans')).toEqual(page('plans', ['alice', 'bob'], 'bob'));

  // Refusals: from outside the room (the same answer as for any request naming it), bad fields.
  expect(await members(eve, 'plans')).toMatchObject(error('not_member', 'you are not in room plans'));
  expect(await members(eve, 'nowhere')).toMatchObject(error('not_member', 'you are not in room nowhere'));
  expect(await members(alice, 'plans', 'not a name')).toMatchObject(
    error('bad_message', 'after must be a user name (1-24 of A-Z a-z 0-9 - _)'),
  );
  expect(await members(alice, 'Plans')).toMatchObject({ type: 'error', code: 'bad_room_name' });
  expect(await alice.request('members', { type: 'members' })).toMatchObject(
    error('bad_message', 'members needs room'),
  );
  expect(await alice.request('members', { type: 'members', room: 'plans', before: 'a' })).toMatchObject(
    error('bad_message', 'unknown field "before" for members'),
  );

  // The owner removes carol while she is offline; bob leaves: the list follows at once.
  expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'carol' })).toMatchObject({
    type: 'removed',
    user: 'carol',
  });
  expect(await members(alice, 'plans')).toEqual(page('plans', ['alice', 'bob']));
  expect(await bob.request('left', { type: 'leave', room: 'plans' })).toMatchObject({ type: 'left' });
  expect(await members(alice, 'plans')).toEqual(page('plans', ['alice']));
  expect(await members(bob, 'plans')).toMatchObject(error('not_member', 'you are not in room plans'));

  // A public room: its members may ask (every account starts in general), others may not.
  expect(await members(eve, 'general')).toEqual(page('general', ['alice', 'bob'], 'bob'));
  expect(await members(eve, 'general', 'bob')).toEqual(page('general', ['carol', 'eve']));
  expect(await members(eve, 'general', 'eve')).toEqual(page('general', []));
  expect(await alice.request('joined', { type: 'create', room: 'random' })).toMatchObject({
    kind: 'public',
  });
  expect(await members(eve, 'random')).toMatchObject(error('not_member', 'you are not in room random'));

  // A direct message: its two users.
  expect(await alice.request('joined', { type: 'dm', user: 'bob' })).toMatchObject({ room: 'dm:alice:bob' });
  await bob.next('joined', (m) => m.room === 'dm:alice:bob');
  expect(await members(bob, 'dm:alice:bob')).toEqual(page('dm:alice:bob', ['alice', 'bob']));
}

/**
 * The store checks the membership with the read (RoomStore.listMembers), not only the connection's
 * room set, which hears of a removal only when the news reaches it (on Redis, from another node):
 * `dropMembership` removes bob's membership in the store directly, so no notice is ever sent and
 * his connection still lists the room; his `members` gets `not_member` as if he were out. alice, a
 * member, lists as before. Both a private room and a public one.
 */
export async function membersAfterRemoval(
  origins: string[],
  dropMembership: (user: string, room: string) => Promise<boolean>,
  track: (c: TestClient) => void,
): Promise<void> {
  const { alice, bob } = await TestClient.planAndLounge(origins, track, origins.length - 1);
  const members = (client: TestClient, room: string) => client.request('members', { type: 'members', room });
  for (const room of ['plans', 'lounge']) {
    expect(await members(bob, room)).toMatchObject({ type: 'members', members: ['alice', 'bob'] });
    // Out in the store; bob's connection is never told (no `left`), so it still lists the room.
    expect(await dropMembership('bob', room)).toBe(true);
    await bob.barrier();
    expect(bob.all('left')).toEqual([]);
    expect(await members(bob, room)).toEqual({
      v: 2,
      type: 'error',
      ref: expect.any(String),
      code: 'not_member',
      message: `you are not in room ${room}`,
    });
    expect(await members(alice, room)).toMatchObject({ type: 'members', members: ['alice'] });
  }
}
