/**
 * The owner of a private room removes a member (membership.ts `remove`): the scenario, run on one
 * SQLite node (test/hub/remove.test.ts) and on two nodes sharing Redis (test/redis/remove.test.ts);
 * with two, alice is on the first node and bob's two tabs on both, so one of his tabs hears of the
 * removal from the other node.
 *
 * Every refusal comes first (each changes nothing), then alice removes bob: both his tabs get `left`
 * with `reason: 'removed'`, alice gets `removed` and the `member` notice, bob's messages stay, his
 * new sends are refused (a resend of one stored before is still acknowledged), nothing of the room
 * reaches him any more, and a new invitation brings him back. Finally an owner who left can no
 * longer remove, invite or come back, but still owns the room and may delete it.
 */
import { expect } from 'vitest';
import type { ServerMessage } from '../../src/shared/protocol.js';
import { register, TestClient } from '../helpers.js';

const inPlans = (messages: ServerMessage[]) =>
  messages.filter((m) =>
    'room' in m ? m.room === 'plans' : m.type === 'message' && m.message.room === 'plans',
  );

export async function removeMember(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bobCookie = await register(on(1), 'bob');
  const bobTab1 = (await join(1, bobCookie)).client;
  const bobTab2 = (await join(0, bobCookie)).client;
  const eve = (await join(1, await register(on(1), 'eve'))).client;

  expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
    kind: 'private',
    owner: 'alice',
  });
  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
    type: 'invited',
  });
  expect(await bobTab1.request('joined', { type: 'accept', room: 'plans' })).toMatchObject({ room: 'plans' });
  expect(await bobTab2.next('joined')).toMatchObject({ room: 'plans' });
  await alice.next('presence', (m) => m.room === 'plans' && m.user === 'bob');
  const b1 = { type: 'send', id: 'b1', room: 'plans', text: 'my plan' };
  expect(await bobTab1.request('ack', b1)).toMatchObject({ type: 'ack', seq: 1 });
  await alice.next('message', (m) => m.message.id === 'b1');

  // Refusals, each changing nothing.
  const error = (code: string, message?: string) => ({
    type: 'error',
    code,
    ...(message ? { message } : {}),
  });
  expect(await bobTab1.request('removed', { type: 'remove', room: 'plans', user: 'alice' })).toMatchObject(
    error('forbidden', 'only the owner of a room can remove from it'),
  );
  expect(await eve.request('removed', { type: 'remove', room: 'plans', user: 'bob' })).toMatchObject(
    error('not_member', 'you are not in room plans'),
  );
  expect(await alice.request('removed', { type: 'remove', room: 'general', user: 'bob' })).toMatchObject(
    error('forbidden'),
  );
  expect(await alice.request('removed', { type: 'remove', room: 'dm:alice:bob', user: 'bob' })).toMatchObject(
    error('bad_room_name'),
  );
  expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'alice' })).toMatchObject(
    error('bad_message', 'the owner cannot remove themselves: use leave or delete_room'),
  );
  expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'nobody' })).toMatchObject(
    error('no_such_user', 'there is no user nobody'),
  );
  expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'eve' })).toMatchObject(
    error('not_member', 'eve is not in room plans'),
  );
  for (const tab of [bobTab1, bobTab2]) {
    await tab.barrier();
    expect(tab.all('left')).toEqual([]);
    tab.messages.splice(0); // from here on, only what the removal brings
  }

  // The removal: the name in any case, as for invite.
  expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'BOB' })).toEqual({
    v: 2,
    type: 'removed',
    ref: expect.any(String),
    room: 'plans',
    user: 'bob',
  });
  expect(await alice.next('member', (m) => m.room === 'plans' && m.user === 'bob' && !m.joined)).toEqual({
    v: 2,
    type: 'member',
    room: 'plans',
    user: 'bob',
    joined: false,
  });
  expect(await alice.next('presence', (m) => m.room === 'plans' && m.user === 'bob')).toMatchObject({
    online: false,
  });
  for (const tab of [bobTab1, bobTab2])
    expect(await tab.next('left', (m) => m.room === 'plans')).toEqual({
      v: 2,
      type: 'left',
      room: 'plans',
      reason: 'removed',
    });

  // Out of the room: new sends refused, his stored message still acknowledged, nothing readable.
  expect(await bobTab2.request('ack', { type: 'send', id: 'b2', room: 'plans', text: 'late' })).toMatchObject(
    { ...error('not_member', 'you are not in room plans'), id: 'b2' },
  );
  expect(await bobTab2.request('ack', b1)).toMatchObject({ type: 'ack', id: 'b1', seq: 1, duplicate: true });
  expect(await bobTab1.request('history', { type: 'history', room: 'plans' })).toMatchObject(
    error('not_member'),
  );
  expect(await bobTab1.request('joined', { type: 'join', room: 'plans' })).toMatchObject(
    error('no_such_room'),
  );
  const { client: bobTab3, welcome } = await join(1, bobCookie);
  expect(welcome.rooms.map((r) => r.room)).toEqual(['general']);

  // His message stays in the history; what the room says now does not reach him.
  expect(
    await alice.request('ack', { type: 'send', id: 'a1', room: 'plans', text: 'just us' }),
  ).toMatchObject({
    seq: 2,
  });
  const history = await alice.request('history', { type: 'history', room: 'plans' });
  if (history.type !== 'history') throw new Error(`history refused: ${JSON.stringify(history)}`);
  expect(history.messages.map((m) => [m.user, m.text])).toEqual([
    ['bob', 'my plan'],
    ['alice', 'just us'],
  ]);
  for (const tab of [bobTab1, bobTab2, bobTab3]) {
    await tab.barrier();
    // bob's tabs heard his own `member` notice while still in the room (as after a leave in another
    // tab), then `left`, and nothing of the room since.
    expect(inPlans(tab.messages).filter((m) => m.type !== 'member' || m.user !== 'bob')).toEqual([]);
  }

  // Invited again, he is back, with the room as it is.
  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
    type: 'invited',
  });
  expect(await bobTab1.request('joined', { type: 'accept', room: 'plans' })).toMatchObject({ head: 2 });
  for (const tab of [bobTab2, bobTab3])
    expect(await tab.next('joined', (m) => m.room === 'plans')).toMatchObject({ head: 2 });
  expect(await bobTab3.request('ack', { type: 'send', id: 'b3', room: 'plans', text: 'back' })).toMatchObject(
    {
      type: 'ack',
      seq: 3,
    },
  );

  // An owner who left is no longer in the room: removing (and inviting) is refused like any
  // request about it, and she cannot come back; the members keep the room; she still owns it and
  // may delete it.
  expect(await alice.request('left', { type: 'leave', room: 'plans' })).toMatchObject({ type: 'left' });
  expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'bob' })).toMatchObject(
    error('not_member', 'you are not in room plans'),
  );
  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'alice' })).toMatchObject(
    error('not_member'),
  );
  expect(await alice.request('joined', { type: 'join', room: 'plans' })).toMatchObject(error('no_such_room'));
  expect(
    await bobTab3.request('ack', { type: 'send', id: 'b4', room: 'plans', text: 'still here' }),
  ).toMatchObject({ type: 'ack', seq: 4 });
  expect(await alice.request('left', { type: 'delete_room', room: 'plans' })).toMatchObject({
    type: 'left',
    reason: 'deleted',
  });
  expect(await bobTab3.next('left', (m) => m.room === 'plans')).toMatchObject({ reason: 'deleted' });
}
