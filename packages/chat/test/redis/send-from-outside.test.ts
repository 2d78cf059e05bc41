/**
 * A message stored just before its room was left is acknowledged, not refused, when resent from
 * outside the room (test/hub/send-from-outside.ts), on two nodes sharing Redis.
 */
import { describe, it } from 'vitest';
import { sendFromOutside } from '../hub/send-from-outside.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('a send from outside the room, on two nodes', () => {
  it("acknowledges the author's message stored before the leave, refuses anything else, writes nothing", async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'outside:',
      limits: { messageRate: { burst: 1000, perSecond: 1000 } },
    });
    servers.push(...nodes);
    await sendFromOutside(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});
