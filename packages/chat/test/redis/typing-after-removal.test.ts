/**
 * A typing notice from a connection not yet told of its removal reaches nobody: the store is asked
 * (test/hub/typing-after-removal.ts), on two nodes sharing Redis; bob is on the second node, his
 * membership is dropped in Redis as a node of the version before log changes dropped it
 * (dropUntold): no node is told, not even through the room's stream.
 */
import { describe, it } from 'vitest';
import { typingAfterRemoval } from '../hub/typing-after-removal.js';
import {
  closedAfterEachTest,
  dropUntold,
  redisServerForThisFile,
  startChatServersOnRedis,
} from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('typing from a connection not yet told of the removal, on two nodes', () => {
  it('is dropped after the store says the user is out; typing in their other rooms goes on', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'typing:' });
    servers.push(...nodes);
    await typingAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (user, room) => dropUntold(redis().url, 'typing:', user, room),
      (c) => clients.push(c),
    );
  });
});
