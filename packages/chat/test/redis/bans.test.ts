/**
 * Bans from a public room (test/hub/bans.ts) on two nodes sharing Redis: one of bob's tabs is on
 * the other node; the ban is read by the JOIN script with its add.
 */
import { describe, it } from 'vitest';
import { banRaces, banScenario } from '../hub/bans.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

const fast = { roomRate: { burst: 100, perSecond: 100 }, requestRate: { burst: 100, perSecond: 100 } };

describe('bans from a public room, on two nodes', () => {
  it('remove takes the user out on every tab and node and keeps them out until unban', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'bans:',
      limits: { ...fast, maxBansPerRoom: 2 },
    });
    servers.push(...nodes);
    await banScenario(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });

  it('a join is refused when the ban is stored before its add, and undone when stored after it', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'banrace:', limits: fast });
    servers.push(...nodes);
    await banRaces(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.rooms,
      nodes[1].backend.rooms,
      (c) => clients.push(c),
    );
  });
});
