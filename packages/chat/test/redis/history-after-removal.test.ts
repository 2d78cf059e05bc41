/**
 * History and sync from a connection not yet told of its removal are refused: the store is asked
 * (test/hub/history-after-removal.ts), on two nodes sharing Redis; bob is on the second node, his
 * membership is dropped in Redis as a node of the version before log changes dropped it
 * (dropUntold): no node is told, not even through the room's stream.
 */
import { describe, it } from 'vitest';
import { historyAfterRemoval } from '../hub/history-after-removal.js';
import {
  closedAfterEachTest,
  dropUntold,
  redisServerForThisFile,
  startChatServersOnRedis,
} from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('history from a connection not yet told of the removal, on two nodes', () => {
  it('is refused not_member once the store says the user is out; their other rooms answer', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'history:' });
    servers.push(...nodes);
    await historyAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (user, room) => dropUntold(redis().url, 'history:', user, room),
      (c) => clients.push(c),
    );
  });
});
