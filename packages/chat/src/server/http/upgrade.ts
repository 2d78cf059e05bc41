/**
 * The WebSocket gate: path, Origin, session, then the per-user socket cap, then the hub.
 *
 * A refused upgrade gets its HTTP status and is closed as soon as the response is written (or
 * after REFUSED_GRACE_MS if the peer does not take it): a refused socket never holds a file
 * descriptor waiting for the client to hang up.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hub } from '../hub/hub.js';
import { type AccountStore, type Clock, UnavailableError } from '../ports.js';
import type { Transport } from '../transport.js';
import { originAllowed } from './origin.js';
import { sessionFromRequest } from './session.js';

const REFUSED_GRACE_MS = 1000;

export interface UpgradeDeps {
  accounts: AccountStore;
  hub: Hub;
  transport: Transport;
  clock: Clock;
  allowedOrigins: readonly string[];
  /** Sockets one user may have open on this node. */
  maxSocketsPerUser: number;
  log: (line: string) => void;
}

export function refuse(socket: Duplex, status: number, text: string, headers = ''): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS);
  timer.unref();
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${headers}Content-Length: 0\r\n\r\n`, () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

export function createUpgradeHandler(
  deps: UpgradeDeps,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { hub, transport } = deps;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/ws') return refuse(socket, 404, 'Not Found');
    // Cross-site WebSocket hijacking: a page on another origin could open this socket with the
    // user's cookie, so the Origin the browser sends must be ours or explicitly allowed.
    if (!originAllowed(req, deps.allowedOrigins)) return refuse(socket, 403, 'Forbidden');
    sessionFromRequest(deps.accounts, req, deps.clock.now())
      .then((session) => {
        if (!session) return refuse(socket, 401, 'Unauthorized');
        // Checked and attached in one tick (the upgrade completes synchronously), so concurrent
        // upgrades of one user cannot pass the cap together.
        if (hub.connectionsOf(session.user) >= deps.maxSocketsPerUser)
          return refuse(socket, 429, 'Too Many Requests', 'Retry-After: 5\r\n');
        if (socket.destroyed) return;
        transport.upgrade(req, socket, head, (ws) => hub.attach(ws, session.user, session.token));
      })
      .catch((err: Error) => {
        // Storage unreachable (several nodes on Redis): the client retries with its backoff.
        if (err instanceof UnavailableError) return refuse(socket, 503, 'Service Unavailable');
        deps.log(`chat: upgrade error: ${err.stack ?? err}`);
        refuse(socket, 500, 'Internal Server Error');
      });
  };
}
