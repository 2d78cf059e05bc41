/**
 * A room's deletion tells only the old room's members, not those of a room of the same name
 * created again before the notice went out (test/hub/room-recreated-notice.ts), on two nodes
 * sharing Redis: deleted on the first, created again and joined by eve on the second.
 */
import { describe, it } from 'vitest';
import { roomRecreatedNotice } from '../hub/room-recreated-notice.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('a room deleted on one node while one of its name is created again on another', () => {
  it("the deletion's notice does not take eve out of the new room", async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'recreated-notice:' });
    servers.push(...nodes);
    await roomRecreatedNotice(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.attachments,
      (c) => clients.push(c),
    );
  });
});
