/**
 * A room's deletion tells only the old room's members, not those of a room of the same name
 * created again before the notice went out (test/hub/room-recreated-notice.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { roomRecreatedNotice } from './room-recreated-notice.js';

afterEach(cleanup);

describe('a room deleted while one of its name is created again', () => {
  it("the deletion's notice does not take eve out of the new room", async () => {
    const server = await startTestServer();
    const clients: TestClient[] = [];
    await roomRecreatedNotice([server.origin], server.backend.rooms, (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
