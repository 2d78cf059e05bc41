/**
 * A connection that has not yet heard of its user's removal cannot write to the room: the store
 * refuses (test/hub/write-after-removal.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { writeAfterRemoval } from './write-after-removal.js';

afterEach(cleanup);

describe('a write from a connection not yet told of the removal', () => {
  it('is refused not_member by the store, and nothing is stored; a member writes as before', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 1000, perSecond: 1000 } } });
    const clients: TestClient[] = [];
    await writeAfterRemoval(
      [server.origin],
      (user, room) => server.backend.rooms.leave(user, room, Date.now()),
      (c) => clients.push(c),
    );
    for (const c of clients) await c.close();
  });
});
