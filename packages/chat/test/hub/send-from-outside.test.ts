/**
 * A message stored just before its room was left is acknowledged, not refused, when resent from
 * outside the room (test/hub/send-from-outside.ts), on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { sendFromOutside } from './send-from-outside.js';

afterEach(cleanup);

describe('a send from outside the room', () => {
  it("acknowledges the author's message stored before the leave, refuses anything else, writes nothing", async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 1000, perSecond: 1000 } } });
    const clients: TestClient[] = [];
    await sendFromOutside([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
