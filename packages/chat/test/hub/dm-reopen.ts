/**
 * A direct message one user closed opens again for them at the other's next message (membership.ts
 * reopenDm, hub.ts send): run on one SQLite node (test/hub/invitations.test.ts) and on two nodes
 * sharing Redis (test/redis/invitations.test.ts), alice on node 0 and bob on the last.
 *
 * The common case, both in, costs the sender's node nothing more than the append: no user lookup,
 * no join (counted on the sender's node's store).
 */
import { expect } from 'vitest';
import type { AccountStore, RoomStore } from '../../src/server/ports.js';
import { register, TestClient } from '../helpers.js';

export async function dmReopens(
  origins: string[],
  alicesStore: { accounts: AccountStore; rooms: RoomStore },
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const last = origins.length - 1;
  const alice = (await join(0, await register(on(0), 'Alice'))).client;
  const bobCookie = await register(on(last), 'Bob');
  const bob = (await join(last, bobCookie)).client;
  const room = 'dm:alice:bob';
  await alice.request('joined', { type: 'dm', user: 'bob' });
  await bob.next('joined', (m) => m.room === room);

  // Both in: alice's sends look nobody up and join nobody.
  const calls: string[] = [];
  const { accounts, rooms } = alicesStore;
  const getUser = accounts.getUser.bind(accounts);
  accounts.getUser = (name) => {
    calls.push(`getUser ${name}`);
    return getUser(name);
  };
  const joinRoom = rooms.join.bind(rooms);
  rooms.join = (...args) => {
    calls.push(`join ${args[0]}`);
    return joinRoom(...args);
  };
  await alice.request('ack', { type: 'send', id: 'a0', room, text: 'hello' });
  await bob.next('message', (m) => m.message.id === 'a0');
  expect(calls).toEqual([]);

  await bob.request('ack', { type: 'send', id: 'b1', room, text: 'talk later' });
  expect(await bob.request('left', { type: 'leave', room })).toMatchObject({ room });
  expect(await alice.next('member', (m) => m.user === 'Bob' && !m.joined)).toMatchObject({ room });

  // A message the store refuses (a reply to a message that is not there) opens nothing: the
  // closed DM is reopened only for a message that is stored.
  expect(
    await alice.request('error', { type: 'send', id: 'a9', room, text: 'about that', replyTo: 99 }),
  ).toMatchObject({ code: 'not_found' });
  expect(calls).toEqual([]);
  expect(await alice.request('ack', { type: 'send', id: 'a1', room, text: 'are you there?' })).toMatchObject({
    seq: 3,
  });
  // Closed: the reopen looked bob up and joined him (once).
  expect(calls).toEqual(['getUser bob', 'join Bob']);
  // Back in, the read marker before alice's message: whether the message was stored before the
  // news reached bob's connection (in the head, counted unread) or after it (live), it is new.
  const joined = await bob.next('joined', (m) => m.room === room);
  expect(joined.head - joined.unread).toBe(2);
  if (joined.head < 3)
    expect(await bob.next('message', (m) => m.message.id === 'a1')).toMatchObject({
      message: { seq: 3, user: 'Alice', text: 'are you there?' },
    });
  expect(await alice.next('member', (m) => m.user === 'Bob' && m.joined)).toMatchObject({ room });
  // A new tab of bob's: the conversation is listed, the message unread.
  const again = await TestClient.join(on(last), bobCookie);
  track(again.client);
  expect(again.welcome.rooms.find((r) => r.room === room)).toMatchObject({ head: 3, unread: 1 });
  // Nothing more for a second message: bob is in.
  await alice.request('ack', { type: 'send', id: 'a2', room, text: 'ok' });
  expect(await bob.next('message', (m) => m.message.id === 'a2')).toMatchObject({ message: { seq: 4 } });
  expect(calls).toEqual(['getUser bob', 'join Bob']);
}
