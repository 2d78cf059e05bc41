/**
 * An attacker's look at the session's end on a socket: the timers a connection arms (hello
 * deadline, session expiry: hub/connection.ts) are all cleared when the server closes it before
 * its hello, and the token a password change renewed opens no socket again (a copy of it keeps
 * nothing). Fake setTimeout from after the server started, so the hub's timers can be counted.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import {
  cleanup,
  login,
  PASSWORD,
  post,
  register,
  startTestServer,
  TestClient,
  upgradeStatus,
} from '../helpers.js';

afterEach(async () => {
  vi.useRealTimers();
  await cleanup();
});

it('leaves no timer behind a socket the server closed before its hello (a sign-out)', async () => {
  const server = await startTestServer({ clock: new ManualClock() });
  const origin = server.origin;
  const cookie = await register(origin, 'alice');
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  /** Opens a socket that says nothing, signs its session out, waits for the server's side. */
  const openSignedOut = async (session: string) => {
    const client = await TestClient.connect(origin, session);
    const open = vi.getTimerCount();
    expect((await post(origin, '/api/logout', {}, { cookie: session })).status).toBe(200);
    expect(await client.closed).toEqual({ code: 1008, reason: 'signed out' });
    while (server.hub.connectionsOf('alice') > 0) await new Promise((resolve) => setImmediate(resolve));
    return open;
  };
  // The baseline: what the library keeps armed after a handshake is pending in both counts.
  await openSignedOut(cookie);
  const before = vi.getTimerCount();
  // Its hello deadline and its expiry timer, both gone with it.
  expect(await openSignedOut(await login(origin, 'alice'))).toBe(before + 2);
  expect(vi.getTimerCount()).toBe(before);
});

it('opens no socket with the token a password change renewed, on reconnect or anew', async () => {
  const server = await startTestServer();
  const origin = server.origin;
  const old = await register(origin, 'alice');
  const tab = (await TestClient.join(origin, old)).client;
  const res = await post(
    origin,
    '/api/password',
    { current: PASSWORD, password: 'battery staple' },
    { cookie: old },
  );
  expect(res.status).toBe(200);
  expect(await tab.closed).toEqual({ code: 4001, reason: 'session renewed' });
  // What a copy of the old cookie gets, and what the page reconnecting without the answer gets.
  expect(await upgradeStatus(origin, { cookie: old, origin })).toBe(401);
  expect(await upgradeStatus(origin, { cookie: res.cookie, origin })).toBe(101);
  expect((await post(origin, '/api/logout-others', {}, { cookie: old })).status).toBe(401);
});
