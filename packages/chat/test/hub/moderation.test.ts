/**
 * What moderation tells, and whom it may not touch (test/hub/moderation.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { moderationScenario } from './moderation.js';

afterEach(cleanup);

const fast = {
  roomRate: { burst: 100, perSecond: 100 },
  requestRate: { burst: 100, perSecond: 100 },
};

describe('moderation of public rooms', () => {
  it("never bans the room's owner; says banned truly whoever banned; tells the user a lifted ban", async () => {
    const server = await startTestServer({ limits: fast, admins: ['root'] });
    const clients: TestClient[] = [];
    await moderationScenario([server.origin], server.backend.rooms, (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
