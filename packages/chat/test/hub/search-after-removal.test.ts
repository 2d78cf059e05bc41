/**
 * A search from a user removed while it runs answers no hit of that room: the store is asked again
 * after the hits are read (test/hub/search-after-removal.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { searchAfterRemoval } from './search-after-removal.js';

afterEach(cleanup);

describe('search from a user removed while it runs', () => {
  it("answers no hit of that room (a search of it alone, not_member); their other rooms' hits stay", async () => {
    const server = await startTestServer();
    const clients: TestClient[] = [];
    const rooms = server.backend.rooms;
    await searchAfterRemoval(
      [server.origin],
      server.backend,
      (user, room) => rooms.leave(user, room, Date.now()),
      (user, room) => rooms.join(user, room, 100),
      (c) => clients.push(c),
    );
    for (const c of clients) await c.close();
  });
});
