/**
 * A search from a user removed while it runs answers no hit of that room: the store is asked again
 * after the hits are read (test/hub/search-after-removal.ts), on two nodes sharing Redis; bob is on
 * the second node, his membership is dropped through the first.
 */
import { describe, it } from 'vitest';
import { searchAfterRemoval } from '../hub/search-after-removal.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('search from a user removed while it runs, on two nodes', () => {
  it("answers no hit of that room (a search of it alone, not_member); their other rooms' hits stay", async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'search-removal:' });
    servers.push(...nodes);
    const rooms = nodes[0].backend.rooms;
    await searchAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[1].backend,
      (user, room) => rooms.leave(user, room, Date.now()),
      (user, room) => rooms.join(user, room, 100),
      (c) => clients.push(c),
    );
  });
});
