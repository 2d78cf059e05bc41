/**
 * A join whose public room is deleted and made again as private before the add lets nobody in
 * (test/hub/join-race.ts), on two nodes sharing Redis: the kind is checked in the JOIN script.
 */
import { describe, it } from 'vitest';
import { joinRace } from '../hub/join-race.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('a join racing the deletion of its room, on two nodes', () => {
  it('does not add the joiner to the private room made again under the name', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'joinrace:' });
    servers.push(...nodes);
    await joinRace(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[1].backend.rooms,
      (c) => clients.push(c),
    );
  });
});
