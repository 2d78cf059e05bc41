/**
 * What the chat tells one user about another (docs/chat-protocol.md, "Invitations are capped and
 * expire"; SECURITY.md): run on one SQLite node (test/hub/invitations.test.ts) and on two nodes
 * sharing Redis (test/redis/invitations.test.ts, the owner on one node, the other user on the other).
 *
 * - a decline is not told to the owner: before, inviting again after it was answered `invited`
 *   (and the invitee was invited again), where a pending invitation is `already_invited`, and
 *   taking it back was `not_member` where a pending one is `removed`. The store now keeps a declined
 *   invitation, for the owner's eyes, until it expires.
 * - how many direct messages someone else is in: a `dm` to a user at their cap on DMs was refused
 *   "bob is in too many direct messages". It now opens for the asker alone, as a DM the other closed,
 *   and the messages wait for them.
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { register, TestClient } from '../helpers.js';

export async function declineUntold(
  origins: string[],
  alicesRooms: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const last = origins.length - 1;
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bob = (await join(last, await register(on(last), 'bob'))).client;
  await alice.request('joined', { type: 'create', room: 'plans', private: true });
  const invite = () => alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' });
  expect(await invite()).toMatchObject({ type: 'invited' });
  await bob.next('invitation', (m) => m.room === 'plans');
  expect(await bob.request('uninvited', { type: 'decline', room: 'plans' })).toMatchObject({ room: 'plans' });

  // To alice, as if bob had not answered: already invited, and taken back as a pending one.
  expect(await invite()).toMatchObject({
    type: 'error',
    code: 'already_invited',
    message: 'bob is already invited to room plans',
  });
  expect(await alicesRooms.invitees('plans')).toEqual(['bob']);
  // bob is not invited again by it: nothing reached him.
  expect((await bob.barrier()).filter((m) => m.type === 'invitation')).toEqual([]);
  expect(await bob.request('error', { type: 'accept', room: 'plans' })).toMatchObject({
    code: 'no_such_room',
  });
  expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'bob' })).toMatchObject({
    type: 'removed',
    user: 'bob',
  });
  // Taken back: a new invitation is one.
  expect(await invite()).toMatchObject({ type: 'invited' });
  expect(await bob.next('invitation', (m) => m.room === 'plans')).toMatchObject({ by: 'alice' });
}

export async function dmAtTheirCap(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const last = origins.length - 1;
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bob = (await join(last, await register(on(last), 'bob'))).client;
  await register(on(last), 'carol');
  // bob is at his cap on DMs (1 here).
  expect(await bob.request('joined', { type: 'dm', user: 'carol' })).toMatchObject({ kind: 'dm' });
  const answer = await alice.request('joined', { type: 'dm', user: 'bob' });
  expect(answer).toMatchObject({ type: 'joined', room: 'dm:alice:bob', kind: 'dm' });
  expect(
    await alice.request('ack', { type: 'send', room: 'dm:alice:bob', id: 'm1', text: 'hi bob' }),
  ).toMatchObject({
    type: 'ack',
  });
  // Not added (his cap is his); nothing reached him.
  expect((await bob.barrier()).filter((m) => m.type === 'joined' || m.type === 'message')).toEqual([]);
  // Once he has room, opening the conversation finds the message.
  expect(await bob.request('left', { type: 'leave', room: 'dm:bob:carol' })).toMatchObject({ type: 'left' });
  expect(await bob.request('joined', { type: 'dm', user: 'alice' })).toMatchObject({ room: 'dm:alice:bob' });
  const history = await bob.request('history', { type: 'history', room: 'dm:alice:bob' });
  expect(JSON.stringify(history)).toContain('hi bob');
}
