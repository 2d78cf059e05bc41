/**
 * A search answers only with hits the user could read when it answered: membership is asked of the
 * store again after the hits are read (hub/search.ts). The scenario, run on one SQLite node
 * (test/hub/search-after-removal.test.ts) and on two nodes sharing Redis
 * (test/redis/search-after-removal.test.ts).
 *
 * The removal is made to land while bob's search runs: his node's search port is wrapped so that,
 * once the hub has read bob's rooms (he is still in `plans`) and before the hits are read, bob's
 * membership of `plans` is dropped in the store directly (no notice reaches him) and alice writes
 * there. That message is then in the log the search reads; it must not be in the answer. A search
 * of all his rooms keeps the hits of `lounge`, where he still is; a search of `plans` alone is
 * refused `not_member`, as history is.
 */
import { expect } from 'vitest';
import type { Backend } from '../../src/server/ports.js';
import { TestClient } from '../helpers.js';

export async function searchAfterRemoval(
  origins: string[],
  /** The backend of bob's node (the second one where there are two). */
  bobs: Backend,
  dropMembership: (user: string, room: string) => Promise<boolean>,
  rejoin: (user: string, room: string) => Promise<unknown>,
  track: (c: TestClient) => void,
): Promise<void> {
  const { alice, bob } = await TestClient.planAndLounge(origins, track);
  const say = async (room: string, id: string, text: string) =>
    expect(await alice.request('ack', { type: 'send', id, room, text })).toMatchObject({ type: 'ack' });
  await say('lounge', 'l1', 'the plan for lunch');

  // The next search of bob's node: bob leaves `plans` and alice writes there, before the hits are read.
  const search = bobs.search.search.bind(bobs.search);
  let runs = 0;
  bobs.search.search = async (...args) => {
    runs++;
    expect(await dropMembership('bob', 'plans')).toBe(true);
    await say('plans', `p${runs}`, `the plan is secret ${runs}`);
    return search(...args);
  };
  const hits = async (room?: string) => {
    const reply = await bob.request('search', {
      type: 'search',
      query: 'plan',
      ...(room === undefined ? {} : { room }),
    });
    if (reply.type !== 'search') return reply;
    return reply.hits.map((h) => `${h.room} ${h.text}`);
  };

  expect(await hits()).toEqual(['lounge the plan for lunch']);
  expect(await rejoin('bob', 'plans')).toBe('joined');
  expect(await hits('plans')).toEqual({
    v: 2,
    type: 'error',
    ref: expect.any(String),
    code: 'not_member',
    message: 'you are not in room plans',
  });
  expect(runs).toBe(2);
  // The wrapper did run the real search: alice's messages are there for a member of `plans`.
  bobs.search.search = search;
  expect(await alice.request('search', { type: 'search', query: 'secret', room: 'plans' })).toMatchObject({
    hits: [{ text: 'the plan is secret 2' }, { text: 'the plan is secret 1' }],
  });
  // Not by the search: his connection is still subscribed to the room's live stream (hub.ts).
  await bob.barrier();
}
