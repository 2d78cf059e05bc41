/**
 * The hub's session recheck (Hub, after the bus was away): a node whose sockets' sign-out notices
 * may have been lost looks each socket's session up, closes those whose session is gone, and looks
 * again when the service is back if the store could not be read. The memory bus never loses its
 * subscription, so its onResubscribed is captured here and called as the Redis bus would; the
 * Redis path itself is in redis/sign-out.test.ts. Fake setTimeout (after the server started): the
 * recheck's retry timer never fires by itself, so only the `service` path can close a socket here.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBus } from '../../src/server/backends/memory/bus.js';
import { ManualClock } from '../../src/server/clock.js';
import { SESSION_TTL_MS } from '../../src/server/http/session.js';
import { UnavailableError } from '../../src/server/ports.js';
import { cleanup, login, register, startTestServer, TestClient } from '../helpers.js';

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await cleanup();
});

/** A server whose bus says "heard again" when the test calls resubscribed(). */
async function serverWithResubscribe() {
  const listeners: Array<() => void> = [];
  vi.spyOn(MemoryBus.prototype, 'onResubscribed').mockImplementation((listener) => {
    listeners.push(listener);
  });
  const clock = new ManualClock();
  const server = await startTestServer({ dbPath: ':memory:', clock });
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const resubscribed = () => {
    for (const listener of listeners) listener();
  };
  return { server, clock, resubscribed };
}

/** The socket's fate: closed before a request sent now is answered, or still answering. */
function closedOrAnswering(client: TestClient) {
  const ping = client.request('pong', { type: 'ping' }).then(
    () => 'answered',
    () => 'refused',
  );
  return Promise.race([client.closed, ping]);
}

const tokenOf = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

describe('the session recheck after the bus was away', () => {
  it('could not read the store as the bus came back: runs when the service is back, closes the signed-out session', async () => {
    // Regression: a recheck whose lookups failed was never run again (the presence resync was,
    // on `service`): a session signed out on another node meanwhile kept its socket here for good.
    const { server, resubscribed } = await serverWithResubscribe();
    const cookie = await register(server.origin, 'alice');
    const other = await login(server.origin, 'alice');
    const signedOut = (await TestClient.join(server.origin, cookie)).client;
    const kept = (await TestClient.join(server.origin, other)).client;
    // Signed out on another node; its notice was lost with the bus.
    await server.backend.accounts.deleteSession(tokenOf(cookie));
    const accounts = server.backend.accounts;
    const getSession = accounts.getSession.bind(accounts);
    let down = true;
    let refusals = 0;
    accounts.getSession = (token, now) => {
      if (!down) return getSession(token, now);
      refusals++;
      return Promise.reject(new UnavailableError('storage went away'));
    };
    resubscribed();
    expect(await closedOrAnswering(signedOut)).toBe('answered');
    expect(refusals).toBeGreaterThan(0);

    down = false;
    server.hub.serviceChanged(true);
    expect(await closedOrAnswering(signedOut)).toEqual({ code: 1008, reason: 'signed out' });
    expect(await closedOrAnswering(kept)).toBe('answered');
  });

  it('says "session expired" for a session past its expiry, "signed out" for one deleted', async () => {
    // The page reads only 1008 (web/connection.ts: stop reconnecting); the reason tells a person
    // reading devtools or logs that nobody signed this session out.
    const { server, clock, resubscribed } = await serverWithResubscribe();
    const expiring = await register(server.origin, 'alice');
    clock.advance(SESSION_TTL_MS / 2);
    const fresh = await login(server.origin, 'alice');
    const bobCookie = await register(server.origin, 'bob');
    const expired = (await TestClient.join(server.origin, expiring)).client;
    const kept = (await TestClient.join(server.origin, fresh)).client;
    const bob = (await TestClient.join(server.origin, bobCookie)).client;
    await server.backend.accounts.deleteSession(tokenOf(bobCookie));
    clock.advance(SESSION_TTL_MS / 2);
    resubscribed();
    expect(await closedOrAnswering(expired)).toEqual({ code: 1008, reason: 'session expired' });
    expect(await closedOrAnswering(bob)).toEqual({ code: 1008, reason: 'signed out' });
    expect(await closedOrAnswering(kept)).toBe('answered');
  });
});
