/**
 * A join whose public room is deleted and made again as private before the add lets nobody in
 * (test/hub/join-race.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { joinRace } from './join-race.js';

afterEach(cleanup);

describe('a join racing the deletion of its room', () => {
  it('does not add the joiner to the private room made again under the name', async () => {
    const server = await startTestServer();
    const clients: TestClient[] = [];
    await joinRace([server.origin], server.backend.rooms, (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
