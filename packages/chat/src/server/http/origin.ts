/**
 * The Origin check of the API and of the WebSocket upgrade (cross-site request forgery and
 * cross-site WebSocket hijacking): a browser always sends Origin on a POST and on a WebSocket
 * upgrade, so a request from another site names that site and is refused.
 *
 * Requests without Origin come from programs, not browsers (bots, curl): they cannot carry a
 * victim's cookie, so they pass here and still need a valid session or a password.
 */
import type { IncomingMessage } from 'node:http';

export function originAllowed(req: Pick<IncomingMessage, 'headers'>, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  // HTTP/2 carries the Host in :authority (RFC 9113 8.3.1).
  const host = req.headers.host ?? req.headers[':authority'];
  if (host && (origin === `http://${host}` || origin === `https://${host}`)) return true;
  return allowed.includes(origin);
}
