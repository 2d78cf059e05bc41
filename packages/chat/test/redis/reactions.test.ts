/**
 * Reactions across two nodes sharing Redis (issue #16): a client resuming on one node in the middle
 * of a reaction burst made on both gets each event once, in seq order, and the right state.
 */
import { describe, it } from 'vitest';
import { reactionBurst } from '../hub/reaction-burst.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('reactions on two nodes', () => {
  it('a client resuming in the middle of a reaction burst gets each event once, in order, and the right state', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'reactions:',
      limits: { messageRate: { burst: 10_000, perSecond: 10_000 } },
    });
    servers.push(...nodes);
    const origins = nodes.map((node) => node.url.replace(/\/$/, ''));
    await reactionBurst([origins[0], origins[1]], (c) => clients.push(c));
  });
});
