/**
 * The per-address limits of the account routes that cost a store step without a password to check:
 * POST /api/logout (with a token), /api/logout-others and /api/password (the sign-in bucket, before
 * the session is looked up),
 * GET /api/session with a token (the `requests` bucket, per address). Each answers 429 with
 * Retry-After, as sign-in and sign-up do, on a clock that only the test moves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { cleanup, PASSWORD, post, register, startTestServer } from '../helpers.js';

afterEach(cleanup);

/** A well-formed token no session has: its look-up is a store step all the same. */
const MADE_UP = `riptide_chat_session=${'x'.repeat(43)}`;

/** A server whose sign-in and request buckets per address hold 3, on a clock the test moves. */
async function start() {
  const clock = new ManualClock();
  const server = await startTestServer({
    clock,
    signInPerIp: { burst: 3, perSecond: 1 },
    limits: { requestRate: { burst: 3, perSecond: 1 } },
  });
  return { clock, origin: server.origin };
}

async function session(origin: string, cookie?: string) {
  const res = await fetch(`${origin}/api/session`, cookie ? { headers: { cookie } } : {});
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

describe('POST /api/logout-others', () => {
  it('is limited per address (429 with Retry-After), made-up tokens counted, until the bucket refills', async () => {
    const { clock, origin } = await start();
    const mine = await register(origin, 'alice');
    const others = (cookie: string) => post(origin, '/api/logout-others', {}, { cookie });
    expect((await others(mine)).status).toBe(200);
    expect((await others(MADE_UP)).status).toBe(401);
    expect((await others(mine)).status).toBe(200);
    const limited = await fetch(`${origin}/api/logout-others`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, cookie: mine },
      body: '{}',
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toEqual({
      error: 'rate_limited',
      message: 'too many requests from this address',
      retryAfterMs: 1000,
    });
    expect(await others(MADE_UP)).toMatchObject({ status: 429 });
    clock.advance(1000);
    expect(await others(mine)).toMatchObject({ status: 200, body: { ok: true, ended: 0 } });
  });
});

describe('POST /api/logout', () => {
  it('is limited per address with a token (made-up ones too); refused, it still clears the cookie', async () => {
    // Regression: a sign-out was counted nowhere, and each costs two store steps (look-up, delete).
    const { clock, origin } = await start();
    const mine = await register(origin, 'alice');
    const logout = (cookie?: string) =>
      fetch(`${origin}/api/logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin, ...(cookie ? { cookie } : {}) },
        body: '{}',
      });
    for (let i = 0; i < 3; i++) expect((await logout(MADE_UP)).status).toBe(200);
    const limited = await logout(mine);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.headers.get('set-cookie')).toBe(
      'riptide_chat_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict',
    );
    expect(await limited.json()).toEqual({
      error: 'rate_limited',
      message: 'too many requests from this address; signed out in this browser only',
      retryAfterMs: 1000,
    });
    // The session itself was left alone: it ends at its expiry, or with "Sign out other sessions".
    expect((await session(origin, mine)).body).toEqual({ signedIn: true, user: 'alice' });
    // Without a token a sign-out costs no store step, and is not counted.
    expect((await logout()).status).toBe(200);
    clock.advance(1000);
    expect((await logout(mine)).status).toBe(200);
    expect((await session(origin, mine)).body).toEqual({ signedIn: false });
  });
});

describe('POST /api/password', () => {
  it('counts a request with a made-up token in the address’s bucket before looking the session up', async () => {
    const { origin } = await start();
    const change = () =>
      post(origin, '/api/password', { current: 'whatever', password: 'battery staple' }, { cookie: MADE_UP });
    for (let i = 0; i < 3; i++) expect((await change()).status).toBe(401);
    expect(await change()).toMatchObject({
      status: 429,
      body: { message: 'too many password attempts from this address', retryAfterMs: 1000 },
    });
  });
});

describe('GET /api/session', () => {
  it('is limited per address when it names a token (429 with Retry-After); without one it costs nothing', async () => {
    const { clock, origin } = await start();
    const mine = await register(origin, 'alice');
    expect(await session(origin, mine)).toMatchObject({ status: 200, body: { signedIn: true } });
    expect(await session(origin, MADE_UP)).toMatchObject({ status: 200, body: { signedIn: false } });
    expect(await session(origin, mine)).toMatchObject({ status: 200, body: { signedIn: true } });
    expect(await session(origin, mine)).toEqual({
      status: 429,
      retryAfter: '1',
      body: { error: 'rate_limited', message: 'too many requests from this address', retryAfterMs: 1000 },
    });
    expect(await session(origin, MADE_UP)).toMatchObject({ status: 429 });
    // No token, no store step: a signed-out page load is answered whatever the bucket holds.
    for (let i = 0; i < 5; i++)
      expect(await session(origin)).toMatchObject({ status: 200, body: { signedIn: false } });
    clock.advance(1000);
    expect(await session(origin, mine)).toMatchObject({ status: 200, body: { signedIn: true } });
  });

  it('does not share its bucket with sign-in or signing out the other sessions', async () => {
    const { origin } = await start();
    const mine = await register(origin, 'alice');
    for (let i = 0; i < 3; i++) expect((await session(origin, mine)).status).toBe(200);
    expect((await session(origin, mine)).status).toBe(429);
    expect((await post(origin, '/api/logout-others', {}, { cookie: mine })).status).toBe(200);
    expect((await post(origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(200);
  });
});
