/**
 * server/http/session.ts: the session token, its cookie (HttpOnly, SameSite=Strict, Secure over
 * TLS), and reading it back from a request. The sign-in flow: http/accounts.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  COOKIE_NAME,
  clearedCookie,
  newToken,
  parseCookies,
  SESSION_TTL_MS,
  sessionCookie,
  sessionFromRequest,
  tokenOf,
} from '../../src/server/http/session.js';
import type { AccountStore } from '../../src/server/ports.js';

const req = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } });

describe('newToken', () => {
  it('32 random bytes, base64url (43 characters), different each time', () => {
    const a = newToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(newToken()).not.toBe(a);
  });
});

describe('parseCookies', () => {
  it('reads name=value pairs separated by ;, trimmed; the first of a repeated name wins', () => {
    expect(parseCookies('a=1; b = 2 ;c=x=y; a=3')).toEqual(
      new Map([
        ['a', '1'],
        ['b', '2'],
        ['c', 'x=y'],
      ]),
    );
  });

  it('skips a part without =; no header is no cookie', () => {
    expect(parseCookies('junk; a=1')).toEqual(new Map([['a', '1']]));
    expect(parseCookies(undefined).size).toBe(0);
    expect(parseCookies('').size).toBe(0);
  });
});

describe('sessionCookie and clearedCookie', () => {
  it('HttpOnly, SameSite=Strict, the whole site, 30 days; Secure only over TLS', () => {
    expect(sessionCookie('tok', false)).toBe(
      `${COOKIE_NAME}=tok; Path=/; Max-Age=${SESSION_TTL_MS / 1000}; HttpOnly; SameSite=Strict`,
    );
    expect(SESSION_TTL_MS / 1000).toBe(30 * 24 * 3600);
    expect(sessionCookie('tok', true).endsWith('; Secure')).toBe(true);
  });

  it('Secure: named __Host-, which a browser takes only from this host, over https, Path=/, no Domain', () => {
    expect(sessionCookie('tok', true)).toBe(
      `__Host-${COOKIE_NAME}=tok; Path=/; Max-Age=${SESSION_TTL_MS / 1000}; HttpOnly; SameSite=Strict; Secure`,
    );
    expect(clearedCookie(true)).toBe(
      `__Host-${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure`,
    );
  });

  it('clearing sets the same cookie empty with Max-Age=0', () => {
    expect(clearedCookie(false)).toBe(`${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`);
    expect(clearedCookie(true).endsWith('; Secure')).toBe(true);
  });
});

describe('tokenOf', () => {
  const token = newToken();

  it('the token of the session cookie, among others', () => {
    expect(tokenOf(req(`theme=dark; ${COOKIE_NAME}=${token}`))).toBe(token);
  });

  it('secure: only the __Host- cookie, whatever a sibling host set under the plain name (cookie tossing)', () => {
    const tossed = newToken();
    // A cookie with a longer Path comes first in the header: the tossed one.
    const header = `${COOKIE_NAME}=${tossed}; __Host-${COOKIE_NAME}=${token}`;
    expect(tokenOf(req(header), true)).toBe(token);
    expect(tokenOf(req(`${COOKIE_NAME}=${tossed}`), true)).toBeNull();
    // Without Secure the plain name, as before (a __Host- cookie never comes over http).
    expect(tokenOf(req(header), false)).toBe(tossed);
  });

  it('null without the cookie, or when its value is not a token of the right form', () => {
    expect(tokenOf(req())).toBeNull();
    expect(tokenOf(req('other=1'))).toBeNull();
    expect(tokenOf(req(`${COOKIE_NAME}=`))).toBeNull();
    expect(tokenOf(req(`${COOKIE_NAME}=${token.slice(1)}`))).toBeNull();
    expect(tokenOf(req(`${COOKIE_NAME}=${token}x`))).toBeNull();
    expect(tokenOf(req(`${COOKIE_NAME}=${token.slice(1)}+`))).toBeNull();
  });
});

describe('sessionFromRequest', () => {
  it('asks the store for the cookie token at `now`, and nothing for a request without one', async () => {
    const asked: Array<[string, number]> = [];
    const accounts = {
      getSession: async (token: string, now: number) => {
        asked.push([token, now]);
        return { token, user: 'ann', expiresAt: now + 1 };
      },
    } as unknown as AccountStore;
    const token = newToken();
    expect(await sessionFromRequest(accounts, req(`${COOKIE_NAME}=${token}`), 42)).toMatchObject({
      user: 'ann',
    });
    expect(asked).toEqual([[token, 42]]);
    expect(await sessionFromRequest(accounts, req('x=1'), 43)).toBeNull();
    expect(asked).toHaveLength(1);
  });
});
