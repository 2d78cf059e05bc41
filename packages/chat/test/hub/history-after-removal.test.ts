/**
 * History and sync from a connection not yet told of its removal are refused: the store is asked
 * (test/hub/history-after-removal.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { historyAfterRemoval } from './history-after-removal.js';

afterEach(cleanup);

describe('history from a connection not yet told of the removal', () => {
  it('is refused not_member once the store says the user is out; their other rooms answer', async () => {
    const server = await startTestServer();
    const clients: TestClient[] = [];
    await historyAfterRemoval(
      [server.origin],
      (user, room) => server.backend.rooms.leave(user, room, Date.now()),
      (c) => clients.push(c),
    );
    for (const c of clients) await c.close();
  });
});
