/**
 * The read marker shared by a user's tabs, on one SQLite node (test/hub/read-sync.ts).
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { readInOtherTabs } from './read-sync.js';

afterEach(cleanup);

describe('read in another tab', () => {
  it("tells the user's other connections when the marker moves forward, and no one else", async () => {
    const server = await startTestServer();
    const clients: TestClient[] = [];
    await readInOtherTabs([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
