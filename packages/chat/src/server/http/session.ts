/**
 * Session cookies. The token is 32 random bytes; the cookie is HttpOnly (page scripts cannot read
 * it) and SameSite=Strict (other sites cannot make the browser send it), so the WebSocket upgrade
 * is authenticated by the cookie alone and no token ever appears in a URL.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AccountStore, SessionRecord } from '../ports.js';

export const COOKIE_NAME = 'riptide_chat_session';
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
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

export function sessionCookie(token: string, secure: boolean): string {
  const maxAge = Math.floor(SESSION_TTL_MS / 1000);
  return `${COOKIE_NAME}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The session token of the request's cookie, if it has the right form. */
export function tokenOf(req: Pick<IncomingMessage, 'headers'>): string | null {
  const token = parseCookies(req.headers.cookie).get(COOKIE_NAME);
  return token && TOKEN.test(token) ? token : null;
}

/** The session named by the request's cookie, if valid at `now`. */
export async function sessionFromRequest(
  accounts: AccountStore,
  req: Pick<IncomingMessage, 'headers'>,
  now: number,
): Promise<SessionRecord | null> {
  const token = tokenOf(req);
  return token ? accounts.getSession(token, now) : null;
}
