/**
 * A WebSocket outlives nothing of its session: it is closed with 1008 'session expired' when the
 * session expires (hub.ts, #closeAtExpiry), not only at a sign-out. Before, a socket opened before
 * its session's expiry stayed open and served for as long as it stayed open, and neither "sign out
 * other sessions" nor a password change (which end the sessions not yet expired) reached it: a
 * stolen session's socket kept its place for good. ManualClock for the server's time, fake
 * setTimeout (from after the server started) for the hub's timers: both moved together, no sleeps.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { SESSION_TTL_MS } from '../../src/server/http/session.js';
import { cleanup, login, post, register, startTestServer, TestClient } from '../helpers.js';

afterEach(async () => {
  vi.useRealTimers();
  await cleanup();
});

/** The socket's fate: closed before a request sent now is answered, or still answering. */
function closedOrAnswering(client: TestClient) {
  const ping = client.request('pong', { type: 'ping' }).then(
    () => 'answered',
    () => 'refused',
  );
  return Promise.race([client.closed, ping]);
}

async function expiringServer() {
  const clock = new ManualClock();
  const server = await startTestServer({ clock });
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  /** The server's clock and its timers, moved together. */
  const later = (ms: number) => {
    clock.advance(ms);
    vi.advanceTimersByTime(ms);
  };
  return { server, later };
}

it('closes the socket of a session with 1008 "session expired" when it expires, not a moment before', async () => {
  const { server, later } = await expiringServer();
  const origin = server.origin;
  await register(origin, 'alice');
  const stolen = await login(origin, 'alice');
  const tab = (await TestClient.join(origin, stolen)).client;
  later(SESSION_TTL_MS - 3600_000);
  const mine = await login(origin, 'alice');
  const myTab = (await TestClient.join(origin, mine)).client;
  // 30 days is longer than one setTimeout can wait (about 24.8 days): the hub's timer is set again.
  later(3600_000 - 1);
  expect(await closedOrAnswering(tab)).toBe('answered');
  later(1);
  expect(await closedOrAnswering(tab)).toEqual({ code: 1008, reason: 'session expired' });
  expect(await closedOrAnswering(myTab)).toBe('answered');
  // What the review's probe did next: nothing of the expired session is left for it to end.
  expect(await post(origin, '/api/logout-others', {}, { cookie: mine })).toMatchObject({
    status: 200,
    body: { ended: 0 },
  });
  expect(await closedOrAnswering(myTab)).toBe('answered');
});

it('leaves no expiry timer behind a socket that closed', async () => {
  // A closed socket's timer would hold its Connection (and socket) for up to 30 days.
  const { server } = await expiringServer();
  const cookie = await register(server.origin, 'alice');
  /** Opens a socket (hello answered), closes it, then waits for the server's side (setImmediate). */
  const openAndClose = async () => {
    const { client } = await TestClient.join(server.origin, cookie);
    const open = vi.getTimerCount();
    client.ws.close();
    await client.closed;
    while (server.hub.connectionsOf('alice') > 0) await new Promise((resolve) => setImmediate(resolve));
    return open;
  };
  // The baseline: what the library keeps armed after a handshake is pending in both counts.
  await openAndClose();
  const before = vi.getTimerCount();
  expect(await openAndClose()).toBe(before + 1); // its expiry timer
  expect(vi.getTimerCount()).toBe(before);
});
