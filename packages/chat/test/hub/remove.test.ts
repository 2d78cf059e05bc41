/**
 * The owner of a private room removes a member (test/hub/remove.ts), on one SQLite node; and the
 * request takes from the room bucket (roomRate), as invite does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, register, startTestServer, TestClient } from '../helpers.js';
import { removeMember } from './remove.js';

afterEach(cleanup);

describe('remove', () => {
  it("takes the member out on every tab, with reason 'removed'; refuses everyone but the owner", async () => {
    const server = await startTestServer({ limits: { roomRate: { burst: 100, perSecond: 100 } } });
    const clients: TestClient[] = [];
    await removeMember([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });

  it('takes from the room bucket, as invite does', async () => {
    const server = await startTestServer({ limits: { roomRate: { burst: 2, perSecond: 0.001 } } });
    const alice = await TestClient.user(server.origin, 'alice');
    await register(server.origin, 'bob');
    expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
      type: 'joined',
    });
    expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
      type: 'invited',
    });
    expect(await alice.request('removed', { type: 'remove', room: 'plans', user: 'bob' })).toMatchObject({
      type: 'error',
      code: 'rate_limited',
      retryAfterMs: expect.any(Number),
    });
    // Nothing was done: bob's invitation (pending: he has not accepted it) still stands.
    expect(await server.backend.rooms.invitations('bob', 0)).toHaveLength(1);
    await alice.close();
  });
});
