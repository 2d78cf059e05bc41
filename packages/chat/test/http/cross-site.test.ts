/**
 * The account routes that end sessions, tried from another site (cross-site request forgery): a
 * page elsewhere cannot sign the user's other sessions out or change the password with the user's
 * cookie, nor read who is signed in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, login, PASSWORD, post, register, startTestServer } from '../helpers.js';

afterEach(cleanup);

async function signedIn(origin: string, cookie: string): Promise<boolean> {
  const res = await fetch(`${origin}/api/session`, { headers: { cookie } });
  return ((await res.json()) as { signedIn: boolean }).signedIn;
}

describe('the session-ending routes from another site', () => {
  it('refuse a foreign or opaque Origin and a form body, and have no GET; nothing is ended', async () => {
    const server = await startTestServer();
    const origin = server.origin;
    const mine = await register(origin, 'alice');
    const other = await login(origin, 'alice');
    const change = { current: PASSWORD, password: 'battery staple' };
    for (const path of ['/api/logout-others', '/api/password']) {
      const body = path === '/api/password' ? change : {};
      // A page of another site, and a sandboxed frame or a file (Origin: null).
      for (const from of ['https://evil.example', 'null', `${origin}.evil.example`])
        expect(await post(origin, path, body, { cookie: mine, origin: from })).toMatchObject({
          status: 403,
          body: { error: 'bad_origin' },
        });
      // What a cross-site form or a no-cors fetch can send without a preflight.
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'])
        expect(
          (
            await fetch(`${origin}${path}`, {
              method: 'POST',
              headers: { 'content-type': type, cookie: mine, origin },
              body: JSON.stringify(body),
            })
          ).status,
        ).toBe(415);
      // An image or a link: no GET does anything.
      expect((await fetch(`${origin}${path}`, { headers: { cookie: mine } })).status).toBe(404);
    }
    expect(await signedIn(origin, other)).toBe(true);
    expect((await post(origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(200);
  });

  it('answers /api/session with no CORS header, so another site cannot read who is signed in', async () => {
    const server = await startTestServer();
    const mine = await register(server.origin, 'alice');
    const res = await fetch(`${server.origin}/api/session`, {
      headers: { cookie: mine, origin: 'https://evil.example' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
