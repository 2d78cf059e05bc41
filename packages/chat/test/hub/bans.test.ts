/**
 * The owner of a public room removes and bans a user, and lifts the ban (test/hub/bans.ts), on one
 * SQLite node; the ban and a join racing it, each way round; and unban takes from the request
 * bucket (requestRate), remove from the room bucket (roomRate), as for a private room.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, register, startTestServer, TestClient } from '../helpers.js';
import { banRaces, banScenario } from './bans.js';

afterEach(cleanup);

const fast = { roomRate: { burst: 100, perSecond: 100 }, requestRate: { burst: 100, perSecond: 100 } };

describe('bans from a public room', () => {
  it('remove takes the user out on every tab and keeps them out until unban; only the owner; capped', async () => {
    const server = await startTestServer({ limits: { ...fast, maxBansPerRoom: 2 } });
    const clients: TestClient[] = [];
    await banScenario([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });

  it('a join is refused when the ban is stored before its add, and undone when stored after it', async () => {
    const server = await startTestServer({ limits: fast });
    const clients: TestClient[] = [];
    await banRaces([server.origin], server.backend.rooms, server.backend.rooms, (c) => clients.push(c));
    for (const c of clients) await c.close();
  });

  it('unban and bans take from the request bucket, remove from the room bucket', async () => {
    const server = await startTestServer({
      limits: { roomRate: { burst: 2, perSecond: 0.001 }, requestRate: { burst: 3, perSecond: 0.001 } },
    });
    const alice = await TestClient.user(server.origin, 'alice'); // hello: 1 request
    await register(server.origin, 'bob');
    expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({
      type: 'joined',
    });
    expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'bob' })).toMatchObject({
      type: 'removed',
    });
    expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'bob' })).toMatchObject({
      code: 'rate_limited',
    });
    expect(await alice.request('unbanned', { type: 'unban', room: 'lobby', user: 'bob' })).toMatchObject({
      type: 'unbanned',
    });
    expect(await alice.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject({ users: [] });
    expect(await alice.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject({
      code: 'rate_limited',
    });
    await alice.close();
  });
});
