/**
 * Session cookies. The token is 32 random bytes; the cookie is HttpOnly (page scripts cannot read
 * it) and SameSite=Strict (other sites cannot make the browser send it), so the WebSocket upgrade
 * is authenticated by the cookie alone and no token ever appears in a URL.
 *
 * With Secure (TLS, or --secure-cookies behind a proxy) the cookie is `__Host-riptide_chat_session`
 * and only that name is read: a browser takes a `__Host-` cookie only from this very host, over
 * https, with Path=/ and no Domain. Under the plain name, a page on a sibling host of the same site
 * (another.example.com, or user content there) could set `riptide_chat_session` with
 * Domain=example.com and a longer Path (/ws); the browser sends that one first, and the user's
 * WebSocket would run as the attacker's account ("cookie tossing").
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AccountStore, SessionRecord } from '../ports.js';

export const COOKIE_NAME = 'riptide_chat_session';
/** The name with Secure: set and read only by this host over https (RFC 6265bis 4.1.3.2). */
export const SECURE_COOKIE_NAME = `__Host-${COOKIE_NAME}`;
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
/**
 * The most sessions one user keeps: a sign-in past it ends the user's oldest (accounts.ts). Each
 * browser or device a person signs in from keeps one session for 30 days, and each private window
 * leaves one behind; a phone, a few computers and browsers and a private window now and then stay
 * well under 32. Without a cap every sign-in added a 30-day session, so one account could pile up
 * tens of thousands a day (Redis keeps them in memory).
 */
export const MAX_SESSIONS_PER_USER = 32;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/** The session cookie's name: with `__Host-` when the cookie is Secure. */
export function cookieName(secure: boolean): string {
  return secure ? SECURE_COOKIE_NAME : COOKIE_NAME;
}

export function sessionCookie(token: string, secure: boolean): string {
  const maxAge = Math.floor(SESSION_TTL_MS / 1000);
  return `${cookieName(secure)}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${cookieName(secure)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The session token of the request's cookie (the `__Host-` one with `secure`), if it has the right form. */
export function tokenOf(req: Pick<IncomingMessage, 'headers'>, secure = false): string | null {
  const token = parseCookies(req.headers.cookie).get(cookieName(secure));
  return token && TOKEN.test(token) ? token : null;
}

/** The session named by the request's cookie, if valid at `now`. */
export async function sessionFromRequest(
  accounts: AccountStore,
  req: Pick<IncomingMessage, 'headers'>,
  now: number,
  secure = false,
): Promise<SessionRecord | null> {
  const token = tokenOf(req, secure);
  return token ? accounts.getSession(token, now) : null;
}
