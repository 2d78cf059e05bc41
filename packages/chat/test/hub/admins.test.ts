/**
 * Server admins moderate every public room, general included, and nothing in private rooms or
 * direct messages (test/hub/admins.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { adminScenario } from './admins.js';

afterEach(cleanup);

const fast = {
  roomRate: { burst: 100, perSecond: 100 },
  requestRate: { burst: 100, perSecond: 100 },
  messageRate: { burst: 100, perSecond: 100 },
};

describe('server admins', () => {
  it('ban, unban, list and delete in any public room (general too), told to every moderator tab; never in a private room or DM', async () => {
    const server = await startTestServer({ limits: fast, admins: ['ROOT'] });
    const clients: TestClient[] = [];
    await adminScenario([server.origin], server.backend.rooms, (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
