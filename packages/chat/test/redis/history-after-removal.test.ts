/**
 * History and sync from a connection not yet told of its removal are refused: the store is asked
 * (test/hub/history-after-removal.ts), on two nodes sharing Redis; bob is on the second node, his
 * membership is dropped through the first.
 */
import { describe, it } from 'vitest';
import { historyAfterRemoval } from '../hub/history-after-removal.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('history from a connection not yet told of the removal, on two nodes', () => {
  it('is refused not_member once the store says the user is out; their other rooms answer', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'history:' });
    servers.push(...nodes);
    await historyAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (user, room) => nodes[0].backend.rooms.leave(user, room, Date.now()),
      (c) => clients.push(c),
    );
  });
});
