/**
 * `members` on one SQLite node (test/hub/members.ts), and the request takes from the request bucket
 * (requestRate), as `rooms` does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, startTestServer, TestClient } from '../helpers.js';
import { listMembers, MEMBERS_PAGE, membersAfterRemoval } from './members.js';

afterEach(cleanup);

describe('members', () => {
  it('lists every member, online or not, in pages; only to members; follows removals and leaves', async () => {
    const server = await startTestServer({
      limits: { membersPage: MEMBERS_PAGE, roomRate: { burst: 100, perSecond: 100 } },
    });
    const clients: TestClient[] = [];
    await listMembers([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });

  it('refuses a member removed in the store before their connection hears of it', async () => {
    const server = await startTestServer({ limits: { roomRate: { burst: 100, perSecond: 100 } } });
    const clients: TestClient[] = [];
    await membersAfterRemoval(
      [server.origin],
      (user, room) => server.backend.rooms.leave(user, room, Date.now()),
      (c) => clients.push(c),
    );
    for (const c of clients) await c.close();
  });

  it('takes from the request bucket, as rooms does', async () => {
    // The hello takes one token, the first members the other.
    const server = await startTestServer({ limits: { requestRate: { burst: 2, perSecond: 0.001 } } });
    const alice = await TestClient.user(server.origin, 'alice');
    expect(await alice.request('members', { type: 'members', room: 'general' })).toMatchObject({
      type: 'members',
      members: ['alice'],
    });
    expect(await alice.request('members', { type: 'members', room: 'general' })).toMatchObject({
      type: 'error',
      code: 'rate_limited',
      retryAfterMs: expect.any(Number),
    });
    await alice.close();
  });
});
