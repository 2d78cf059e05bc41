/**
 * Reactions, replies, mentions and `history` around on one SQLite node (issue #16), through the
 * WebSocket: what the protocol doc's examples do not show.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, startTestServer } from '../helpers.js';
import { reactionBurst } from './reaction-burst.js';

afterEach(cleanup);

const fast = { messageRate: { burst: 10_000, perSecond: 10_000 } };

describe('reactions', () => {
  it('a client resuming in the middle of a reaction burst gets each event once, in order, and the right state', async () => {
    const server = await startTestServer({ limits: fast });
    await reactionBurst([server.origin, server.origin], () => {});
  });
});
