/**
 * A resend from a user no longer in the room answers alike whether the room was deleted, the user
 * removed, or the room never existed (test/hub/resend-after-removal.ts), on two nodes sharing
 * Redis: bob is on the second node, the store is changed through the first.
 */
import { describe, it } from 'vitest';
import { resendAfterRemoval } from '../hub/resend-after-removal.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('a resend from a user no longer in the room, on two nodes', () => {
  it('gets the same not_member frame for a deleted room, a removal and a room that never was', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'resend:',
      limits: { messageRate: { burst: 1000, perSecond: 1000 } },
    });
    servers.push(...nodes);
    await resendAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      {
        dropMembership: (user, room) => nodes[0].backend.rooms.leave(user, room, Date.now()),
        dropRoom: (room) => nodes[0].backend.rooms.deleteRoom(room),
      },
      (c) => clients.push(c),
    );
  });
});
