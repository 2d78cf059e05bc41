/**
 * Changing the password and signing out other sessions (accounts.ts; docs/chat-protocol.md,
 * section 1): the other sessions end, their sockets close with 1008, the asking session stays (a
 * password change gives it a new token, its old one ended, its sockets closed with 4001).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { cleanup, login, PASSWORD, post, register, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

const NEW_PASSWORD = 'battery staple';

/** Whether the cookie's session is valid now. */
async function valid(origin: string, cookie: string): Promise<boolean> {
  const res = await fetch(`${origin}/api/session`, { headers: { cookie } });
  return ((await res.json()) as { signedIn: boolean }).signedIn;
}

/**
 * Resolves with the socket's close, or 'answered' if a ping sent now is answered first: a socket
 * closed before the HTTP answer went out is closed before a request sent after it is answered.
 */
function closedBeforePing(client: TestClient): Promise<unknown> {
  const ping = client.request('pong', { type: 'ping' }).then(
    () => 'answered',
    () => 'refused',
  );
  return Promise.race([client.closed, ping]);
}

describe('changing the password', () => {
  it('changes it, ends every other session and closes their sockets, renews this one', async () => {
    const server = await startTestServer();
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const other = await login(origin, 'alice');
    const third = await login(origin, 'alice');
    const bob = await register(origin, 'bob');
    const myTab = (await TestClient.join(origin, mine)).client;
    const otherTab = (await TestClient.join(origin, other)).client;
    const bobTab = (await TestClient.join(origin, bob)).client;

    const res = await post(
      origin,
      '/api/password',
      { current: PASSWORD, password: NEW_PASSWORD },
      { cookie: mine },
    );
    expect(res).toMatchObject({ status: 200, body: { ok: true, ended: 2 } });
    expect(await closedBeforePing(otherTab)).toMatchObject({ code: 1008, reason: 'signed out' });
    // Regression: the asking session kept its token, so a copy of it outlived the change. The
    // answer sets a new one; the old one is ended, its sockets closed with 4001 (the page
    // reconnects, with the new cookie), not 1008 (the page would stop as if signed out).
    expect(res.cookie).toMatch(/^riptide_chat_session=./);
    expect(res.cookie).not.toBe(mine);
    expect(await closedBeforePing(myTab)).toMatchObject({ code: 4001, reason: 'session renewed' });
    expect(await valid(origin, mine)).toBe(false);
    expect(await valid(origin, res.cookie)).toBe(true);
    const again = (await TestClient.join(origin, res.cookie)).client;
    expect(await again.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(await bobTab.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(await valid(origin, other)).toBe(false);
    expect(await valid(origin, third)).toBe(false);
    expect(await valid(origin, bob)).toBe(true);
    // The old password no longer signs in; the new one does.
    expect((await post(origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(401);
    expect((await post(origin, '/api/login', { name: 'alice', password: NEW_PASSWORD })).status).toBe(200);
  });

  it('refuses a wrong current password (403) and a new one against the rules (400), changing nothing', async () => {
    const server = await startTestServer();
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const other = await login(origin, 'alice');
    const change = (body: unknown) => post(origin, '/api/password', body, { cookie: mine });
    expect(await change({ current: 'not the password', password: NEW_PASSWORD })).toMatchObject({
      status: 403,
      body: { error: 'wrong_password' },
    });
    expect(await change({ current: PASSWORD, password: 'short' })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', message: 'password must be 8-256 characters' },
    });
    expect(await change({ current: PASSWORD, password: 'x'.repeat(257) })).toMatchObject({ status: 400 });
    expect(await change({ password: NEW_PASSWORD })).toMatchObject({ status: 400 });
    expect(await valid(origin, other)).toBe(true);
    expect((await post(origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(200);
  });

  it('needs a session, JSON and a same-origin Origin', async () => {
    const server = await startTestServer();
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const body = { current: PASSWORD, password: NEW_PASSWORD };
    expect(await post(origin, '/api/password', body)).toMatchObject({
      status: 401,
      body: { error: 'no_session' },
    });
    expect(
      await post(origin, '/api/password', body, { cookie: mine, origin: 'https://evil.example' }),
    ).toMatchObject({ status: 403, body: { error: 'bad_origin' } });
    const form = await fetch(`${origin}/api/password`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin, cookie: mine },
      body: JSON.stringify(body),
    });
    expect(form.status).toBe(415);
    expect((await post(origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(200);
  });

  it('counts wrong current passwords as failed sign-ins: the same backoff stops guessing', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, signInPerIp: { burst: 1000, perSecond: 1000 } });
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const guess = (current: string) =>
      post(origin, '/api/password', { current, password: NEW_PASSWORD }, { cookie: mine });
    for (let i = 0; i < 5; i++) expect((await guess(`guess ${i} wrong`)).status).toBe(403);
    // The sixth waits, even with the right password, and so does a sign-in of the name.
    expect(await guess(PASSWORD)).toMatchObject({ status: 429, body: { retryAfterMs: 1000 } });
    expect((await post(origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(429);
    clock.advance(1000);
    expect(await guess(PASSWORD)).toMatchObject({ status: 200 });
  });
});

describe('signing out other sessions', () => {
  it('ends every session but this one, says how many, closes their sockets', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock });
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const others = [await login(origin, 'alice'), await login(origin, 'alice')];
    const bob = await register(origin, 'bob');
    const myTab = (await TestClient.join(origin, mine)).client;
    const otherTabs = await Promise.all(others.map(async (c) => (await TestClient.join(origin, c)).client));
    const bobTab = (await TestClient.join(origin, bob)).client;

    const res = await post(origin, '/api/logout-others', {}, { cookie: mine });
    expect(res).toMatchObject({ status: 200, body: { ok: true, ended: 2 } });
    for (const tab of otherTabs)
      expect(await closedBeforePing(tab)).toMatchObject({ code: 1008, reason: 'signed out' });
    expect(await myTab.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(await bobTab.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    for (const cookie of others) expect(await valid(origin, cookie)).toBe(false);
    expect(await valid(origin, mine)).toBe(true);
    expect(await valid(origin, bob)).toBe(true);
    // Nothing left to end; the password is as it was.
    expect(await post(origin, '/api/logout-others', {}, { cookie: mine })).toMatchObject({
      body: { ended: 0 },
    });
    expect(await post(origin, '/api/logout-others', {})).toMatchObject({ status: 401 });
    expect((await post(origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(200);
  });
});
