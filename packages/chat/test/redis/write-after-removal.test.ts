/**
 * A connection that has not yet heard of its user's removal cannot write to the room: the store's
 * scripts refuse (test/hub/write-after-removal.ts), on two nodes sharing Redis; bob is on the
 * second node, his membership is dropped through the first.
 */
import { describe, it } from 'vitest';
import { writeAfterRemoval } from '../hub/write-after-removal.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

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
      (user, room) => nodes[0].backend.rooms.leave(user, room, Date.now()),
      (c) => clients.push(c),
    );
  });
});
