/**
 * Blocking (test/hub/blocks.ts) on one SQLite node, and the refusals a block makes that the
 * scenario does not: oneself, an unknown name, the cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dmRoom } from '../../src/shared/protocol.js';
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

describe('a block racing a new direct message', () => {
  it("a block answered between the hub's check and the joins: the DM is not made for either, refused not_accepted", async () => {
    // Regression (the attacker's pass): bob's `dm` passed the block check, alice's block was
    // answered, then both joins ran: alice was put into a conversation with the user she had just
    // blocked and told `joined`.
    const server = await startTestServer({ limits: fast });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    const rooms = server.backend.rooms;
    const create = rooms.createRoom.bind(rooms);
    let raced = false;
    rooms.createRoom = async (...args) => {
      if (!raced && args[0].kind === 'dm') {
        raced = true;
        // Between the check (bob not blocked) and the joins: alice's block is answered.
        expect(await alice.request('blocked', { type: 'block', user: 'bob' })).toMatchObject({
          users: ['bob'],
        });
      }
      return create(...args);
    };
    expect(await bob.request('joined', { type: 'dm', user: 'alice' })).toMatchObject({
      type: 'error',
      code: 'not_accepted',
      message: 'alice is not accepting messages or invitations from you',
    });
    expect(raced).toBe(true);
    const dm = dmRoom('alice', 'bob');
    expect(await rooms.isMember('alice', dm)).toBe(false);
    expect(await rooms.isMember('bob', dm)).toBe(false);
    // alice was told nothing of it (everything queued for her before the barrier has arrived).
    expect((await alice.barrier()).filter((m) => m.type === 'joined')).toEqual([]);
  });
});
