/**
 * Topic lines in history (test/hub/topic-history.ts) on one SQLite node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer, type TestClient } from '../helpers.js';
import { topicHistoryScenario } from './topic-history.js';

afterEach(cleanup);

const limits = {
  historyPage: 3,
  roomRate: { burst: 100, perSecond: 100 },
  requestRate: { burst: 100, perSecond: 100 },
  messageRate: { burst: 100, perSecond: 100 },
};

describe('topic lines in history', () => {
  it('a page carries the topic events of the seqs it covers, each page its own, in seq order', async () => {
    const server = await startTestServer({ limits });
    const clients: TestClient[] = [];
    await topicHistoryScenario([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });
});
