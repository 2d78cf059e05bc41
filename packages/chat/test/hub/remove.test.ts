/**
 * The owner of a private room removes a member (test/hub/remove.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { removeMember } from './remove.js';

afterEach(cleanup);

describe('remove', () => {
  it("takes the member out on every tab, with reason 'removed'; refuses everyone but the owner", async () => {
    const server = await startTestServer({ limits: { roomRate: { burst: 100, perSecond: 100 } } });
    const clients: TestClient[] = [];
    await removeMember([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
