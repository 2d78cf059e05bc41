/**
 * The owner of a private room removes a member (test/hub/remove.ts), on two nodes sharing Redis:
 * one of the member's tabs is on the other node.
 */
import { describe, it } from 'vitest';
import { removeMember } from '../hub/remove.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('remove, on two nodes', () => {
  it("takes the member out on every tab and node, with reason 'removed'", async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'remove:',
      limits: { roomRate: { burst: 100, perSecond: 100 } },
    });
    servers.push(...nodes);
    await removeMember(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});
