/**
 * The read marker shared by a user's tabs (test/hub/read-sync.ts) on two nodes sharing Redis: the
 * tabs are on different nodes, so the news goes through the user's topic on Redis.
 */
import { describe, it } from 'vitest';
import { readInOtherTabs } from '../hub/read-sync.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('read in another tab, on two nodes', () => {
  it("tells the user's connections on the other node when the marker moves forward", async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'read-sync:' });
    servers.push(...nodes);
    await readInOtherTabs(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});
