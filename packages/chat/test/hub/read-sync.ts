/**
 * A read marker moved in one tab reaches the user's other tabs (hub.ts `read`, the user's topic in
 * local-rooms.ts). The scenario, run on one SQLite node (test/hub/read-sync.test.ts) and on two
 * nodes sharing Redis (test/redis/read-sync.test.ts): alice's first tab on the first node, her
 * second tab and bob on the second.
 *
 * A forward move reaches the other tab as `read` without `ref`, with the marker the store kept
 * (clamped to the head); the tab that read gets its reply only; a stale or repeated mark moves
 * nothing and tells nothing; nobody else hears of it.
 */
import { expect } from 'vitest';
import { register, TestClient } from '../helpers.js';

export async function readInOtherTabs(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const aliceCookie = await register(on(0), 'alice');
  const tab1 = (await join(0, aliceCookie)).client;
  const tab2 = (await join(1, aliceCookie)).client;
  const bob = (await join(1, await register(on(1), 'bob'))).client;
  const send = async (id: string) =>
    expect(await bob.request('ack', { type: 'send', id, room: 'general', text: id })).toMatchObject({
      type: 'ack',
      seq: expect.any(Number),
    });
  for (const id of ['b1', 'b2', 'b3']) await send(id);
  const read = (tab: TestClient, seq: number) => tab.request('read', { type: 'read', room: 'general', seq });
  const told = (seq: number) => ({ v: 2, type: 'read', room: 'general', seq });

  expect(await read(tab1, 2)).toEqual({ ...told(2), ref: expect.any(String) });
  expect(await tab2.next('read')).toEqual(told(2));
  // Stale (behind the marker) and repeated: the marker stays, the other tab hears nothing.
  expect(await read(tab1, 1)).toMatchObject({ type: 'read', seq: 2 });
  expect(await read(tab1, 2)).toMatchObject({ type: 'read', seq: 2 });
  // Past the head: clamped, and the other tab is told where the marker is (3), in order after 2.
  expect(await read(tab1, 99)).toMatchObject({ type: 'read', seq: 3 });
  expect(await tab2.next('read')).toEqual(told(3));
  await tab2.barrier();
  expect(tab2.all('read')).toEqual([]);

  // The other way round, and the tab that read is not told again (its reply said it).
  await send('b4');
  expect(await read(tab2, 4)).toMatchObject({ type: 'read', seq: 4 });
  expect(await tab1.next('read')).toEqual(told(4));
  await tab1.barrier();
  await tab2.barrier();
  expect(tab1.all('read')).toEqual([]);
  expect(tab2.all('read')).toEqual([]);
  // Nobody else: bob (in the room, on tab2's node) was never told of alice's marker.
  await bob.barrier();
  expect(bob.all('read')).toEqual([]);
}
