/**
 * A resend from a user no longer in the room answers alike whether the room was deleted, the user
 * removed, or the room never existed (test/hub/resend-after-removal.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { resendAfterRemoval } from './resend-after-removal.js';

afterEach(cleanup);

describe('a resend from a user no longer in the room', () => {
  it('gets the same not_member frame for a deleted room, a removal and a room that never was', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 1000, perSecond: 1000 } } });
    const clients: TestClient[] = [];
    await resendAfterRemoval(
      [server.origin],
      {
        dropMembership: (user, room) => server.backend.rooms.leave(user, room, Date.now()),
        dropRoom: (room) => server.backend.rooms.deleteRoom(room),
      },
      (c) => clients.push(c),
    );
    for (const c of clients) await c.close();
  });
});
