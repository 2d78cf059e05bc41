/**
 * Reactions across two nodes sharing Redis (issue #16): a client resuming on one node in the middle
 * of a reaction burst made on both gets each event once, in seq order, and the right state.
 */
import { afterEach, describe, it } from 'vitest';
import type { ChatServer } from '../../src/server/chat-server.js';
import type { TestClient } from '../helpers.js';
import { reactionBurst } from '../hub/reaction-burst.js';
import { redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const started: ChatServer[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const node of started.splice(0)) await node.close();
});

describe('reactions on two nodes', () => {
  it('a client resuming in the middle of a reaction burst gets each event once, in order, and the right state', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'reactions:',
      limits: { messageRate: { burst: 10_000, perSecond: 10_000 } },
    });
    started.push(...nodes);
    const origins = nodes.map((node) => node.url.replace(/\/$/, ''));
    await reactionBurst([origins[0], origins[1]], (c) => clients.push(c));
  });
});
