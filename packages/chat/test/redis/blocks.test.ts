/**
 * Blocking (test/hub/blocks.ts) on two nodes sharing Redis: one of the blocker's tabs and the
 * blocked user are on the other node.
 */
import { describe, it } from 'vitest';
import { blockScenario } from '../hub/blocks.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('block, on two nodes', () => {
  it('tells every tab on every node, and refuses across nodes', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'blocks:',
      limits: { roomRate: { burst: 100, perSecond: 100 }, requestRate: { burst: 100, perSecond: 100 } },
    });
    servers.push(...nodes);
    await blockScenario(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
      nodes[0].backend.rooms,
    );
  });
});
