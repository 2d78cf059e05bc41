/**
 * A typing notice from a connection not yet told of its removal reaches nobody: the store is asked
 * (test/hub/typing-after-removal.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { typingAfterRemoval } from './typing-after-removal.js';

afterEach(cleanup);

describe('typing from a connection not yet told of the removal', () => {
  it('is dropped after the store says the user is out; typing in their other rooms goes on', async () => {
    const server = await startTestServer();
    const clients: TestClient[] = [];
    await typingAfterRemoval(
      [server.origin],
      (user, room) => server.backend.rooms.leave(user, room, Date.now()),
      (c) => clients.push(c),
    );
    for (const c of clients) await c.close();
  });
});
