/**
 * A typing notice from a connection not yet told of its removal reaches nobody: the store is asked
 * (test/hub/typing-after-removal.ts), on two nodes sharing Redis; bob is on the second node, his
 * membership is dropped through the first.
 */
import { describe, it } from 'vitest';
import { typingAfterRemoval } from '../hub/typing-after-removal.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('typing from a connection not yet told of the removal, on two nodes', () => {
  it('is dropped after the store says the user is out; typing in their other rooms goes on', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'typing:' });
    servers.push(...nodes);
    await typingAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (user, room) => nodes[0].backend.rooms.leave(user, room, Date.now()),
      (c) => clients.push(c),
    );
  });
});
