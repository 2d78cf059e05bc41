/**
 * Races between ending sessions (a password change, "sign out other sessions") and starting them
 * (a sign-in, a WebSocket upgrade), run on one SQLite node (test/http/account-races.test.ts) and on
 * two nodes sharing Redis (test/redis/account-races.test.ts: the new session on node 1, the ending
 * on node 0). A hook on node 1's account store holds the new session's step until the other
 * request is answered: what was ended must stay ended.
 */
import { expect } from 'vitest';
import type { AccountStore } from '../../src/server/ports.js';
import { PASSWORD, post, register, TestClient } from '../helpers.js';

export const NEW_PASSWORD = 'battery staple';

const tokenOf = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

async function signedIn(origin: string, cookie: string): Promise<boolean> {
  const res = await fetch(`${origin}/api/session`, { headers: { cookie } });
  return ((await res.json()) as { signedIn: boolean }).signedIn;
}

/**
 * A sign-in with the old password, checked before a change of it and stored after the change's
 * step (which ended every other session), gets no session.
 */
export async function signInRace(origins: string[], accounts: AccountStore): Promise<void> {
  const on = (i: number) => origins[i % origins.length];
  const mine = await register(on(0), 'alice');
  const create = accounts.createSession.bind(accounts);
  let theirs = '';
  let renewed = '';
  accounts.createSession = async (session, now, max) => {
    if (theirs === '' && session.user === 'alice') {
      theirs = session.token;
      // The sign-in below has checked the old password; the owner changes it now (and gets a new
      // session cookie for it).
      const change = { current: PASSWORD, password: NEW_PASSWORD };
      const changed = await post(on(0), '/api/password', change, { cookie: mine });
      expect(changed).toMatchObject({ status: 200 });
      renewed = changed.cookie;
    }
    return create(session, now, max);
  };

  const res = await post(on(1), '/api/login', { name: 'alice', password: PASSWORD });
  expect(theirs).not.toBe('');
  expect(res).toMatchObject({ status: 401, body: { error: 'bad_credentials' }, cookie: '' });
  // The session stored for it is gone too.
  expect(await accounts.getSession(theirs, 0)).toBeNull();
  expect(await signedIn(on(1), renewed)).toBe(true);
  expect((await post(on(1), '/api/login', { name: 'alice', password: NEW_PASSWORD })).status).toBe(200);
}

/**
 * An upgrade whose session is found valid, then ended by "sign out other sessions" (and the end
 * told to node 1) before the socket is attached: the socket is closed, 1008, before its hello is
 * answered.
 */
export async function upgradeRace(
  origins: string[],
  accounts: AccountStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const mine = await register(on(0), 'alice');
  const other = await post(on(1), '/api/login', { name: 'alice', password: PASSWORD });
  const bob = (await join(0, await register(on(0), 'bob'))).client;
  const myTab = (await join(0, mine)).client;
  // Node 1 has a tab of alice's: what reaches it on her topic after the sign-out's notice tells
  // that node 1 has had that notice (one publisher, one topic: in order).
  const myTabOnOne = (await join(1, mine)).client;
  const ack = await bob.request('ack', { type: 'send', room: 'general', id: 'b1', text: 'hi' });
  if (ack.type !== 'ack') throw new Error(`bob's message was refused: ${JSON.stringify(ack)}`);
  const seq = ack.seq;
  await myTab.next('message', (m) => m.message.seq === seq);
  await myTabOnOne.next('message', (m) => m.message.seq === seq);

  const get = accounts.getSession.bind(accounts);
  let raced = false;
  accounts.getSession = async (token, now) => {
    const found = await get(token, now);
    if (!raced && token === tokenOf(other.cookie)) {
      raced = true;
      // Found valid; before the upgrade goes on, the user signs out every other session.
      expect(await post(on(0), '/api/logout-others', {}, { cookie: mine })).toMatchObject({
        status: 200,
        body: { ended: 1 },
      });
      await myTab.request('read', { type: 'read', room: 'general', seq });
      await myTabOnOne.next('read', (m) => m.ref === undefined && m.seq === seq);
    }
    return found;
  };

  const tab = await TestClient.connect(on(1), other.cookie);
  track(tab);
  expect(raced).toBe(true);
  const welcome = tab.request('welcome', { type: 'hello' }).then(
    (m) => m.type,
    () => 'closed',
  );
  expect(await Promise.race([tab.closed, welcome])).toMatchObject({ code: 1008, reason: 'signed out' });
  expect(await signedIn(on(1), other.cookie)).toBe(false);
  expect(await myTabOnOne.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
}
