/**
 * A room deleted while one of the same name is created again and joined: the deletion's notice is
 * for the old room only. The scenario, run on one SQLite node (test/hub/room-recreated-notice.test.ts)
 * and on two nodes sharing Redis (test/redis/room-recreated-notice.test.ts): alice deletes `team` on
 * the first node; eve, who was in it, creates it again on the last node and bob joins it, while the
 * deletion is held after the store's step (its deleteRoom), so the deletion's notice to its members
 * (eve) comes after eve is in the new room.
 *
 * Barrier: after the deletion, alice invites eve to `plans`; that notice is published by the same
 * node after the deletion's (on eve's topic; the deletion's is on `rooms`), reaches eve's node in
 * publish order (one bus, one Redis subscriber connection per node) and is handled in her
 * connection's queue after it, so once eve sees `joined plans`, the deletion's notice has been
 * handled. Then bob's message to the new `team` must reach eve.
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { holdDeleteRoom } from '../attachments/hold-drop-room.js';
import { register, TestClient } from '../helpers.js';

export async function roomRecreatedNotice(
  origins: string[],
  deletingNode: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const last = origins.length - 1;
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const eve = (await join(last, await register(on(last), 'eve'))).client;
  const bob = (await join(0, await register(on(0), 'bob'))).client;
  expect(await alice.request('joined', { type: 'create', room: 'team' })).toMatchObject({ room: 'team' });
  expect(await eve.request('joined', { type: 'join', room: 'team' })).toMatchObject({ room: 'team' });
  expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
    room: 'plans',
  });

  const held = holdDeleteRoom(deletingNode);
  const deleted = alice.request('left', { type: 'delete_room', room: 'team' });
  expect(await held.entered).toBe('team'); // the store has deleted it; the notices are still to go
  expect(await eve.request('joined', { type: 'create', room: 'team' })).toMatchObject({
    room: 'team',
    owner: 'eve',
  });
  expect(await bob.request('joined', { type: 'join', room: 'team' })).toMatchObject({ room: 'team' });
  expect(await eve.request('ack', { type: 'send', id: 'e1', room: 'team', text: 'new team' })).toMatchObject({
    type: 'ack',
    room: 'team',
  });
  held.release();
  expect(await deleted).toMatchObject({ type: 'left', room: 'team', reason: 'deleted' });

  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'eve' })).toMatchObject({
    type: 'invited',
  });
  await eve.request('joined', { type: 'accept', room: 'plans' });
  expect(eve.all('left')).toEqual([]);

  expect(
    await bob.request('ack', { type: 'send', id: 'b1', room: 'team', text: 'still here?' }),
  ).toMatchObject({ type: 'ack', room: 'team' });
  const got = await eve.next('message', (m) => m.message.id === 'b1');
  expect(got.message).toMatchObject({ room: 'team', user: 'bob', text: 'still here?' });
  await eve.barrier();
  expect(eve.all('left')).toEqual([]);
}
