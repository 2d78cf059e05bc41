/**
 * Races between ending sessions (a password change, "sign out other sessions") and starting them
 * (a sign-in, a WebSocket upgrade): what is ended stays ended. A hook on the node's account store
 * holds the new session's step until the other request is answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, login, PASSWORD, post, register, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

const NEW_PASSWORD = 'battery staple';

const tokenOf = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

async function signedIn(origin: string, cookie: string): Promise<boolean> {
  const res = await fetch(`${origin}/api/session`, { headers: { cookie } });
  return ((await res.json()) as { signedIn: boolean }).signedIn;
}

describe('a password change racing a sign-in with the old password', () => {
  it('leaves no session to the sign-in checked before the change and stored after it', async () => {
    // Regression: the sign-in's session was inserted after the change's store step had ended the
    // user's other sessions, so whoever knew the old password kept a session past the change.
    const server = await startTestServer();
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const accounts = server.backend.accounts;
    const create = accounts.createSession.bind(accounts);
    let raced = false;
    let theirs = '';
    accounts.createSession = async (session, now, max) => {
      if (!raced && session.user === 'alice') {
        raced = true;
        theirs = session.token;
        // The sign-in below has checked the old password; the owner changes it now.
        expect(
          await post(
            origin,
            '/api/password',
            { current: PASSWORD, password: NEW_PASSWORD },
            { cookie: mine },
          ),
        ).toMatchObject({ status: 200 });
      }
      return create(session, now, max);
    };

    const res = await post(origin, '/api/login', { name: 'alice', password: PASSWORD });
    expect(raced).toBe(true);
    expect(res).toMatchObject({ status: 401, body: { error: 'bad_credentials' }, cookie: '' });
    // The session inserted for it is gone from the store too.
    expect(await accounts.getSession(theirs, 0)).toBeNull();
    // The new password signs in; the changing session is still valid.
    expect((await post(origin, '/api/login', { name: 'alice', password: NEW_PASSWORD })).status).toBe(200);
  });
});

describe('an upgrade racing the end of its session', () => {
  it('closes a WebSocket whose session "sign out other sessions" ended while the upgrade looked it up', async () => {
    // Regression: the hub was told of the ended session before the socket was attached, found
    // nothing to close, and the socket went on as the signed-out session.
    const server = await startTestServer();
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const other = await login(origin, 'alice');
    const accounts = server.backend.accounts;
    const get = accounts.getSession.bind(accounts);
    let raced = false;
    accounts.getSession = async (token, now) => {
      const found = await get(token, now);
      if (!raced && token === tokenOf(other)) {
        raced = true;
        // Found valid; before the upgrade goes on, the user signs out every other session.
        expect(await post(origin, '/api/logout-others', {}, { cookie: mine })).toMatchObject({
          status: 200,
          body: { ended: 1 },
        });
      }
      return found;
    };

    const tab = await TestClient.connect(origin, other);
    expect(raced).toBe(true);
    // Closed before its hello is answered: nothing of the ended session is served.
    const welcome = tab.request('welcome', { type: 'hello' }).then(
      (m) => m.type,
      () => 'closed',
    );
    expect(await Promise.race([tab.closed, welcome])).toMatchObject({ code: 1008, reason: 'signed out' });
    expect(await signedIn(origin, other)).toBe(false);
    expect(await signedIn(origin, mine)).toBe(true);
  });
});
