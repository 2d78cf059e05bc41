/**
 * A send from a user no longer in its room (hub.ts `#sendFromOutside`): the scenario, run on one
 * SQLite node (test/hub/send-from-outside.test.ts) and on two nodes sharing Redis
 * (test/redis/send-from-outside.test.ts); with two, alice's tabs and bob alternate between them.
 *
 * alice's tab sends messages to `plans` and loses the connection before it reads the acks; she
 * leaves `plans` in another tab; her tab reconnects (the welcome has no `plans`) and sends them again
 * under the same ids. Those stored are acknowledged as the duplicates they are (also one she deleted
 * since); a new id, another content under a stored id, someone else's id, a message of a room
 * deleted since are not, and nothing reaches the room or its log.
 */
import { expect } from 'vitest';
import { register, TestClient } from '../helpers.js';

type Send = { id: string; room: string; text: string };

export async function sendFromOutside(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const aliceCookie = await register(on(0), 'alice');
  const tab1 = (await join(0, aliceCookie)).client;
  const bob = (await join(1, await register(on(1), 'bob'))).client;
  const carol = (await join(0, await register(on(0), 'carol'))).client;
  expect(await tab1.request('joined', { type: 'create', room: 'plans' })).toMatchObject({ type: 'joined' });
  expect(await bob.request('joined', { type: 'join', room: 'plans' })).toMatchObject({ type: 'joined' });
  expect(await tab1.request('joined', { type: 'create', room: 'temp' })).toMatchObject({ type: 'joined' });
  const send = (client: TestClient, m: Send) => client.request('ack', { type: 'send', ...m });

  // Stored, acknowledged: the acks are the ones the page never reads (its connection drops).
  const m1 = { id: 'm1', room: 'plans', text: 'see you at 9' };
  const m2 = { id: 'm2', room: 'plans', text: 'bring the maps' };
  const t1 = { id: 't1', room: 'temp', text: 'scratch' };
  const first = await send(tab1, m1);
  expect(first).toMatchObject({ type: 'ack', seq: 1 });
  expect(await send(tab1, m2)).toMatchObject({ type: 'ack', seq: 2 });
  expect(await send(tab1, t1)).toMatchObject({ type: 'ack', seq: 1 });
  // m2 deleted by alice since: it was stored all the same.
  expect(await tab1.request('ack', { type: 'delete', room: 'plans', seq: 2 })).toMatchObject({ seq: 3 });
  await tab1.close();
  // bob has all three events (in seq order: the delete is the last).
  await bob.next('deleted', (m) => m.room === 'plans');

  // Another tab leaves plans and deletes temp.
  const tab2 = (await join(1, aliceCookie)).client;
  expect(await tab2.request('left', { type: 'leave', room: 'plans' })).toMatchObject({ room: 'plans' });
  expect(await tab2.request('left', { type: 'delete_room', room: 'temp' })).toMatchObject({ room: 'temp' });

  // The first tab comes back: not in plans any more.
  const { client: tab3, welcome } = await join(0, aliceCookie);
  expect(welcome.rooms.map((r) => r.room)).toEqual(['general']);
  if (first.type !== 'ack') throw new Error('unreachable');
  expect(await send(tab3, m1)).toEqual({
    v: 2,
    type: 'ack',
    ref: expect.any(String),
    id: 'm1',
    room: 'plans',
    seq: 1,
    ts: first.ts,
    duplicate: true,
  });
  expect(await send(tab3, m2)).toMatchObject({ type: 'ack', id: 'm2', seq: 2, duplicate: true });

  const notMember = { type: 'error', code: 'not_member', message: 'you are not in room plans' };
  // A new id: refused, as always.
  expect(await send(tab3, { id: 'm3', room: 'plans', text: 'new' })).toMatchObject({
    ...notMember,
    id: 'm3',
  });
  // The same id with another text: not that message; the author's own id, so it may say so.
  expect(await send(tab3, { ...m1, text: 'see you at 10' })).toMatchObject({
    type: 'error',
    code: 'id_reused',
    id: 'm1',
  });
  // Someone else's id and text: nothing of alice's is told to carol.
  expect(await send(carol, m1)).toMatchObject({ ...notMember, id: 'm1' });
  // A room deleted since: its log is gone, nothing is left to acknowledge.
  expect(await send(tab3, t1)).toMatchObject({ type: 'error', code: 'not_member', id: 't1' });

  // Nothing was written: the room's log ends at the delete, and its history is as it was.
  const history = await bob.request('history', { type: 'history', room: 'plans' });
  expect(history).toMatchObject({ type: 'history', head: 3 });
  if (history.type !== 'history') throw new Error('unreachable');
  expect(history.messages.map((m) => [m.seq, m.text, m.deleted ?? false])).toEqual([
    [1, 'see you at 9', false],
    [2, '', true],
  ]);
  // Joining again, alice's messages are there once, and a new id now stores a new message.
  expect(await tab3.request('joined', { type: 'join', room: 'plans' })).toMatchObject({ head: 3 });
  expect(await send(tab3, { id: 'm3', room: 'plans', text: 'new' })).toMatchObject({ type: 'ack', seq: 4 });
}
