/**
 * Blocking (test/hub/blocks.ts) on one SQLite node, and the refusals a block makes that the
 * scenario does not: oneself, an unknown name, the cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, register, startTestServer, TestClient } from '../helpers.js';
import { blockScenario } from './blocks.js';

afterEach(cleanup);

const fast = { roomRate: { burst: 100, perSecond: 100 }, requestRate: { burst: 100, perSecond: 100 } };

describe('block', () => {
  it("refuses the blocked user's DM, DM messages and invitations; drops the pending one; rooms still deliver", async () => {
    const server = await startTestServer({ limits: fast });
    const clients: TestClient[] = [];
    await blockScenario([server.origin], (c) => clients.push(c), server.backend.rooms);
    for (const c of clients) await c.close();
  });

  it('refuses oneself, a name without an account and a block past the cap; changes nothing then', async () => {
    const server = await startTestServer({ limits: { ...fast, maxBlockedUsers: 1 } });
    const alice = await TestClient.user(server.origin, 'alice');
    for (const name of ['bob', 'carol']) await register(server.origin, name);
    expect(await alice.request('blocked', { type: 'block', user: 'Alice' })).toMatchObject({
      code: 'cannot_block_self',
      message: 'you cannot block yourself',
    });
    expect(await alice.request('blocked', { type: 'block', user: 'nobody' })).toMatchObject({
      code: 'no_such_user',
      message: 'there is no user nobody',
    });
    expect(await alice.request('blocked', { type: 'unblock', user: 'nobody' })).toMatchObject({
      code: 'no_such_user',
    });
    expect(await alice.request('blocked', { type: 'block', user: 'bob' })).toMatchObject({ users: ['bob'] });
    // Again: the same answer, nothing new.
    expect(await alice.request('blocked', { type: 'block', user: 'bob' })).toMatchObject({ users: ['bob'] });
    expect(await alice.request('blocked', { type: 'block', user: 'carol' })).toMatchObject({
      code: 'too_many_blocks',
      message: 'you can block at most 1 user',
    });
    expect(await server.backend.rooms.blockedUsers('alice')).toEqual(['bob']);
    expect(await alice.request('blocked', { type: 'unblock', user: 'carol' })).toMatchObject({
      users: ['bob'],
    });
    await alice.close();
  });
});
