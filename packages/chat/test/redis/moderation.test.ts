/**
 * What moderation tells, and whom it may not touch (test/hub/moderation.ts), on two nodes sharing
 * Redis, each given the same --admin list: the tabs of alice and bob are on both nodes.
 */
import { describe, it } from 'vitest';
import { moderationScenario } from '../hub/moderation.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

const fast = {
  roomRate: { burst: 100, perSecond: 100 },
  requestRate: { burst: 100, perSecond: 100 },
};

describe('moderation of public rooms, on two nodes', () => {
  it("never bans the room's owner; says banned truly whoever banned; tells the user a lifted ban on every node", async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'moderation:',
      limits: fast,
      admins: ['root'],
    });
    servers.push(...nodes);
    await moderationScenario(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.rooms,
      (c) => clients.push(c),
    );
  });
});
