/**
 * Server admins (test/hub/admins.ts) on two nodes sharing Redis, each given the same --admin list:
 * the tabs of root, alice and bob are on both nodes.
 */
import { describe, it } from 'vitest';
import { adminScenario } from '../hub/admins.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

const fast = {
  roomRate: { burst: 100, perSecond: 100 },
  requestRate: { burst: 100, perSecond: 100 },
  messageRate: { burst: 100, perSecond: 100 },
};

describe('server admins, on two nodes', () => {
  it('ban, unban, list and delete in any public room (general too), told on every node; never in a private room or DM', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'admins:',
      limits: fast,
      admins: ['ROOT'],
    });
    servers.push(...nodes);
    await adminScenario(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.rooms,
      (c) => clients.push(c),
    );
  });
});
