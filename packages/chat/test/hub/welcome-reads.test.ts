/**
 * What `welcome` asks of the room store per room (local-rooms.ts, state): its counts and its topic
 * in one read (RoomStore.roomCounts), not a getRoom more beside the unread and mention counts.
 * The online list is presence's, not the room store's (one read more, not counted here).
 * Counted with a spy on every method of the store, on one SQLite node.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { cleanup, login, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

/** Records every call of a method of `store` (by name, with its first argument) from now on. */
function spyOn(store: RoomStore): { name: string; first: unknown }[] {
  const calls: { name: string; first: unknown }[] = [];
  const target = store as unknown as Record<string, unknown>;
  let proto: object | null = Object.getPrototypeOf(store);
  const names = new Set<string>();
  while (proto && proto !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') names.add(name);
    proto = Object.getPrototypeOf(proto);
  }
  for (const name of names) {
    const method = target[name];
    if (typeof method !== 'function') continue;
    target[name] = function (this: unknown, ...args: unknown[]) {
      calls.push({ name, first: args[0] });
      return method.apply(this, args);
    };
  }
  return calls;
}

describe('welcome', () => {
  it('reads each room of the user once from the room store (its counts and its topic together)', async () => {
    const server = await startTestServer({ limits: { roomRate: { burst: 100, perSecond: 100 } } });
    const alice = await TestClient.user(server.origin, 'alice');
    for (const room of ['trips', 'books']) {
      expect(await alice.request('joined', { type: 'create', room })).toMatchObject({ room });
      expect(await alice.request('ack', { type: 'topic', room, text: `all about ${room}` })).toMatchObject({
        type: 'ack',
      });
    }
    await alice.close();
    const calls = spyOn(server.backend.rooms);
    const { client, welcome } = await TestClient.join(server.origin, await login(server.origin, 'alice'));
    expect(welcome.rooms.map((r) => [r.room, r.topic])).toEqual([
      ['books', 'all about books'],
      ['general', undefined],
      ['trips', 'all about trips'],
    ]);
    // The room's head opens its channel on this node (none was open: alice had left), then one
    // read for the counts and the topic. It was four: the head, unreadCount, mentionCount, getRoom.
    for (const room of ['general', 'trips', 'books'])
      expect(calls.filter((c) => c.first === room).map((c) => c.name)).toEqual(['headSync', 'roomCounts']);
    await client.close();
  });
});
