/**
 * A `typing` notice is checked at the store, not only against the connection's room set: the
 * scenario, run on one SQLite node (test/hub/typing-after-removal.test.ts) and on two nodes sharing
 * Redis (test/redis/typing-after-removal.test.ts).
 *
 * bob's membership of `plans` is dropped in the store directly, so no notice reaches his
 * connection, which still lists the room (as a tab on another node does until the news arrives).
 * His typing there reaches nobody; his typing in `lounge`, where he still is, reaches alice. Both
 * are published in that order from bob's node, so alice's `lounge` notice is the barrier: a `plans`
 * one would have come first. The first typing of bob in `plans` is the one after the removal, so
 * the typing gate (one a second) lets it through and only the store's check can drop it.
 */
import { expect } from 'vitest';
import { TestClient } from '../helpers.js';

export async function typingAfterRemoval(
  origins: string[],
  dropMembership: (user: string, room: string) => Promise<boolean>,
  track: (c: TestClient) => void,
): Promise<void> {
  const { alice, bob } = await TestClient.planAndLounge(origins, track);

  expect(await dropMembership('bob', 'plans')).toBe(true);
  await bob.barrier();
  expect(bob.all('left')).toEqual([]);

  bob.send({ v: 2, type: 'typing', room: 'plans' });
  bob.send({ v: 2, type: 'typing', room: 'lounge' });
  await alice.next('typing', (m) => m.room === 'lounge' && m.user === 'bob');
  expect(alice.all('typing')).toEqual([]);
  // bob's own connection, subscribed to the room still, heard nothing of it either.
  const own = await bob.barrier();
  expect(own.filter((m) => m.type === 'typing' && m.room === 'plans')).toEqual([]);
}
