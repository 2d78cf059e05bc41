/**
 * The reads of a room's log are checked at the store, not only against the connection's room set:
 * the scenario, run on one SQLite node (test/hub/history-after-removal.test.ts) and on two nodes
 * sharing Redis (test/redis/history-after-removal.test.ts).
 *
 * bob's membership of `plans` is dropped in the store directly, so no notice reaches his
 * connection, which still lists the room (as a tab on another node does until the news arrives).
 * alice then writes in `plans`: bob's history, `around` window and sync of it are refused
 * `not_member`, and none of them hands him her message; his history of `lounge`, where he still is,
 * is answered.
 */
import { expect } from 'vitest';
import { TestClient } from '../helpers.js';

export async function historyAfterRemoval(
  origins: string[],
  dropMembership: (user: string, room: string) => Promise<boolean>,
  track: (c: TestClient) => void,
): Promise<void> {
  const { alice, bob } = await TestClient.planAndLounge(origins, track);

  expect(await dropMembership('bob', 'plans')).toBe(true);
  await bob.barrier();
  expect(bob.all('left')).toEqual([]);
  const secret = { type: 'send', id: 'a1', room: 'plans', text: 'after bob is out' };
  expect(await alice.request('ack', secret)).toMatchObject({ type: 'ack', seq: 1 });

  const refused = {
    v: 2,
    type: 'error',
    ref: expect.any(String),
    code: 'not_member',
    message: 'you are not in room plans',
  };
  expect(await bob.request('history', { type: 'history', room: 'plans' })).toEqual(refused);
  expect(await bob.request('history', { type: 'history', room: 'plans', around: 1 })).toEqual(refused);
  expect(await bob.request('history', { type: 'history', room: 'plans', after: 0 })).toEqual(refused);
  expect(await bob.request('synced', { type: 'sync', room: 'plans', after: 0 })).toEqual(refused);
  expect(await bob.request('history', { type: 'history', room: 'lounge' })).toMatchObject({
    type: 'history',
    room: 'lounge',
  });
  // Not by the reads: his connection is still subscribed to the room's live stream (hub.ts).
  const own = await bob.barrier();
  expect(own.filter((m) => m.type === 'history' && m.room === 'plans')).toEqual([]);
}
