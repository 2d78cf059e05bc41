/**
 * A connection that has not yet heard of its user's removal cannot write to the room: the store's
 * scripts refuse (test/hub/write-after-removal.ts), on two nodes sharing Redis; bob is on the
 * second node, his membership is dropped in Redis as a node of the version before log changes
 * dropped it (dropUntold): no node is told, not even through the room's stream.
 */
import { describe, it } from 'vitest';
import { writeAfterRemoval } from '../hub/write-after-removal.js';
import {
  closedAfterEachTest,
  dropUntold,
  redisServerForThisFile,
  startChatServersOnRedis,
} from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('a write from a connection not yet told of the removal, on two nodes', () => {
  it('is refused not_member by the store, and nothing is stored; a member writes as before', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'strict:',
      limits: { messageRate: { burst: 1000, perSecond: 1000 } },
    });
    servers.push(...nodes);
    await writeAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (user, room) => dropUntold(redis().url, 'strict:', user, room),
      (c) => clients.push(c),
    );
  });
});
