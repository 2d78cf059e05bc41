/**
 * Topic lines in history (test/hub/topic-history.ts) on two nodes sharing Redis: the TOPIC script
 * keeps each topic event in the room's `topics` zset (the stream is trimmed), which history reads.
 */
import { describe, it } from 'vitest';
import { topicHistoryScenario } from '../hub/topic-history.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

const limits = {
  historyPage: 3,
  roomRate: { burst: 100, perSecond: 100 },
  requestRate: { burst: 100, perSecond: 100 },
  messageRate: { burst: 100, perSecond: 100 },
};

describe('topic lines in history, on two nodes', () => {
  it('a page carries the topic events of the seqs it covers, read from Redis', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'topichist:', limits });
    servers.push(...nodes);
    await topicHistoryScenario(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});
