/**
 * Room topics (test/hub/topics.ts) on two nodes sharing Redis: one of bob's tabs is on the other
 * node; the TOPIC script checks who may, logs the event and rewrites the room's info in one step.
 */
import { describe, it } from 'vitest';
import { topicScenario } from '../hub/topics.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

const fast = { roomRate: { burst: 100, perSecond: 100 }, requestRate: { burst: 100, perSecond: 100 } };

describe('room topics, on two nodes', () => {
  it('the owner sets it: an event on every tab of both nodes, in joined, welcome and rooms; replayed once', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'topics:', limits: fast });
    servers.push(...nodes);
    await topicScenario(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});
