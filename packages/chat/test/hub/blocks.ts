/**
 * A user blocks another (hub/blocks.ts, docs/chat-protocol.md "Blocking"): the scenario, run on one
 * SQLite node (test/hub/blocks.test.ts) and on two nodes sharing Redis (test/redis/blocks.test.ts).
 * With two, alice's second tab and bob are on the other node, so the list, the dropped invitation
 * and the refusals cross nodes.
 *
 * bob and alice share a direct message, which alice has closed, and bob has invited alice to his
 * private room. alice blocks bob: both her tabs get the list, the invitation is gone for both; bob's
 * message in the DM, a new DM, a new invitation are refused `not_accepted`, nothing stored, the DM
 * not reopened for alice; his message in general still reaches alice and carol. A new tab of
 * alice's is welcomed with the list. Unblocked (from the other tab), bob's message reopens the DM.
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { dmRoom, type ServerMessage } from '../../src/shared/protocol.js';
import { register, TestClient } from '../helpers.js';

const refusal = {
  type: 'error',
  code: 'not_accepted',
  message: 'alice is not accepting messages or invitations from you',
};

export async function blockScenario(
  origins: string[],
  track: (c: TestClient) => void,
  store: RoomStore,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const aliceCookie = await register(on(0), 'alice');
  const aliceTab1 = (await join(0, aliceCookie)).client;
  const aliceTab2 = (await join(1, aliceCookie)).client;
  const bob = (await join(1, await register(on(1), 'bob'))).client;
  const carol = (await join(0, await register(on(0), 'carol'))).client;
  const dm = dmRoom('alice', 'bob');

  // Before the block: a DM with one message, closed by alice, and an invitation of bob's pending.
  expect(await bob.request('joined', { type: 'dm', user: 'alice' })).toMatchObject({ room: dm });
  await aliceTab1.next('joined', (m) => m.room === dm);
  await aliceTab2.next('joined', (m) => m.room === dm);
  expect(await bob.request('ack', { type: 'send', id: 'b1', room: dm, text: 'hi' })).toMatchObject({
    seq: 1,
  });
  await aliceTab1.next('message', (m) => m.message.id === 'b1');
  await aliceTab2.next('message', (m) => m.message.id === 'b1');
  expect(await aliceTab1.request('left', { type: 'leave', room: dm })).toMatchObject({ room: dm });
  await aliceTab2.next('left', (m) => m.room === dm);
  await bob.request('joined', { type: 'create', room: 'den', private: true });
  expect(await bob.request('invited', { type: 'invite', room: 'den', user: 'alice' })).toMatchObject({
    type: 'invited',
  });
  await aliceTab1.next('invitation', (m) => m.room === 'den');
  await aliceTab2.next('invitation', (m) => m.room === 'den');

  // The block: the list to both tabs (the asking one with its ref), the invitation gone for both.
  expect(await aliceTab1.request('blocked', { type: 'block', user: 'BOB' })).toMatchObject({
    type: 'blocked',
    users: ['bob'],
  });
  expect(await aliceTab2.next('blocked')).toEqual({ v: 2, type: 'blocked', users: ['bob'] });
  await aliceTab1.next('uninvited', (m) => m.room === 'den');
  await aliceTab2.next('uninvited', (m) => m.room === 'den');
  expect(await store.invitations('alice', 0)).toEqual([]);

  // What bob can no longer do: one answer, nothing stored, alice not put back in the DM.
  expect(await bob.request('ack', { type: 'send', id: 'b2', room: dm, text: 'answer me' })).toMatchObject({
    ...refusal,
    id: 'b2',
  });
  expect(await bob.request('ack', { type: 'edit', room: dm, seq: 1, text: 'hi!!' })).toMatchObject(refusal);
  expect(
    await bob.request('ack', { type: 'react', room: dm, target: 1, emoji: '👋', on: true }),
  ).toMatchObject(refusal);
  // Regression: the DM's topic, shown to alice in the header and as a line, was still his to set.
  expect(await bob.request('ack', { type: 'topic', room: dm, text: 'answer me' })).toMatchObject(refusal);
  expect(await bob.request('joined', { type: 'dm', user: 'alice' })).toMatchObject(refusal);
  expect(await bob.request('invited', { type: 'invite', room: 'den', user: 'alice' })).toMatchObject(refusal);
  expect(await store.head(dm)).toBe(1);
  expect(await store.isMember('alice', dm)).toBe(false);
  expect(await store.invitations('alice', 0)).toEqual([]);

  // In a shared room nothing is refused: alice and carol get his message.
  expect(
    await bob.request('ack', { type: 'send', id: 'g1', room: 'general', text: 'hello all' }),
  ).toMatchObject({
    type: 'ack',
  });
  await carol.next('message', (m) => m.message.id === 'g1');
  await aliceTab1.next('message', (m) => m.message.id === 'g1');
  await aliceTab2.next('message', (m) => m.message.id === 'g1');
  // And alice still writes there (one-way).
  expect(
    await aliceTab1.request('ack', { type: 'send', id: 'a1', room: 'general', text: 'hi' }),
  ).toMatchObject({
    type: 'ack',
  });
  await bob.next('message', (m) => m.message.id === 'a1');

  // Nothing of the refused requests reached alice's tabs.
  const aboutBob = (messages: ServerMessage[]) =>
    messages.filter(
      (m) =>
        (m.type === 'joined' && m.room === dm) ||
        m.type === 'invitation' ||
        (m.type === 'message' && m.message.room === dm),
    );
  expect(aboutBob(await aliceTab1.barrier())).toEqual([]);
  expect(aboutBob(await aliceTab2.barrier())).toEqual([]);

  // A new tab is welcomed with the list.
  const tab3 = await join(1, aliceCookie);
  expect(tab3.welcome.blocked).toEqual(['bob']);

  // Unblocked from the second tab: the others hear it, and bob's message reopens the DM for alice.
  expect(await aliceTab2.request('blocked', { type: 'unblock', user: 'bob' })).toMatchObject({ users: [] });
  expect(await aliceTab1.next('blocked')).toEqual({ v: 2, type: 'blocked', users: [] });
  expect(await tab3.client.next('blocked')).toEqual({ v: 2, type: 'blocked', users: [] });
  expect(await bob.request('ack', { type: 'send', id: 'b3', room: dm, text: 'sorry' })).toMatchObject({
    seq: 2,
  });
  // (Its message is in the room by then, unread: the page reads it with the room's history.)
  expect(await aliceTab1.next('joined', (m) => m.room === dm)).toMatchObject({
    room: dm,
    head: 2,
    unread: 1,
  });
  expect(await store.isMember('alice', dm)).toBe(true);
}
