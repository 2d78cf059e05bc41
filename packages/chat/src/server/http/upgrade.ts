/**
 * The WebSocket gate: path, Origin, session, then the per-user socket cap, then the hub; for an
 * HTTP/1.1 upgrade and for an HTTP/2 extended CONNECT alike (admit()).
 *
 * A refused upgrade gets its HTTP status and is closed as soon as the response is written (or
 * after REFUSED_GRACE_MS if the peer does not take it): a refused socket never holds a file
 * descriptor waiting for the client to hang up.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Hub } from '../hub/hub.js';
import { type AccountStore, type Clock, type Log, UnavailableError } from '../ports.js';
import type { ChatSocket, Transport } from '../transport.js';
import { originAllowed } from './origin.js';
import { sessionFromRequest } from './session.js';
import { SECURITY_HEADERS } from './static.js';

const REFUSED_GRACE_MS = 1000;

export interface UpgradeDeps {
  accounts: AccountStore;
  hub: Hub;
  transport: Transport;
  clock: Clock;
  allowedOrigins: readonly string[];
  /** The session cookie is Secure, and named `__Host-...` (session.ts). */
  secureCookies: boolean;
  /** Sockets one user may have open on this node. */
  maxSocketsPerUser: number;
  log: Log;
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

/** What the gate reads from a request, over HTTP/1.1 or HTTP/2 alike. */
type GateRequest = Pick<IncomingMessage, 'headers' | 'url'>;

/** How the gate answers, per transport. */
interface Gate {
  refuse(status: number, text: string, retryAfterSeconds?: number): void;
  /** The connection went away while the session was looked up. */
  gone(): boolean;
  accept(onOpen: (ws: ChatSocket) => void): void;
}

/** Path, Origin, session, per-user cap, then the hub: the same checks for both transports. */
function admit(deps: UpgradeDeps, req: GateRequest, gate: Gate): void {
  const { hub } = deps;
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/ws') {
    gate.refuse(404, 'Not Found');
    return;
  }
  // Cross-site WebSocket hijacking: a page on another origin could open this socket with the
  // user's cookie, so the Origin the browser sends must be ours or explicitly allowed.
  if (!originAllowed(req, deps.allowedOrigins)) {
    gate.refuse(403, 'Forbidden');
    return;
  }
  sessionFromRequest(deps.accounts, req, deps.clock.now(), deps.secureCookies)
    .then((session) => {
      if (!session) return gate.refuse(401, 'Unauthorized');
      // Checked and attached in one tick (the upgrade completes synchronously), so concurrent
      // upgrades of one user cannot pass the cap together.
      if (hub.connectionsOf(session.user) >= deps.maxSocketsPerUser)
        return gate.refuse(429, 'Too Many Requests', 5);
      if (gate.gone()) return;
      gate.accept((ws) => {
        hub.attach(ws, session.user, session.token, session.expiresAt);
        // Looked up again now that the hub has the socket: a sign-out, a password change or a
        // "sign out other sessions" that deleted the session after the look above told the hub
        // before the socket was attached, and found nothing to close. The deletion precedes that
        // notice, so this read sees it; a later one's notice finds the socket attached.
        deps.accounts.getSession(session.token, deps.clock.now()).then(
          (still) => {
            if (!still) hub.endSession(null, session.token);
          },
          // Not known to be valid: the client reconnects (1013, try again later) through this gate.
          () => ws.close(1013, 'storage unavailable'),
        );
      });
    })
    .catch((err: Error) => {
      // Storage unreachable (several nodes on Redis): the client retries with its backoff.
      if (err instanceof UnavailableError) return gate.refuse(503, 'Service Unavailable');
      deps.log(`chat: upgrade error: ${err.stack ?? err}`, 'error');
      gate.refuse(500, 'Internal Server Error');
    });
}

export function createUpgradeHandler(
  deps: UpgradeDeps,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { transport } = deps;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    admit(deps, req, {
      refuse: (status, text, retry) =>
        refuse(socket, status, text, retry === undefined ? '' : `Retry-After: ${retry}\r\n`),
      gone: () => socket.destroyed,
      accept: (onOpen) => transport.upgrade(req, socket, head, onOpen),
    });
  };
}

/**
 * The same gate for WebSockets over HTTP/2 (RFC 8441: an extended CONNECT on a stream of the
 * page's own connection), served with --cert/--key. node's compatibility layer, on because the
 * server has a request handler, turns every CONNECT into a 'connect' event; other CONNECTs get
 * the 405 node would have sent.
 */
export function createConnectHandler(
  deps: UpgradeDeps,
): (req: Http2ServerRequest, res: Http2ServerResponse) => void {
  const { transport } = deps;
  return (req, res) => {
    const stream = req.stream;
    stream.on('error', () => stream.destroy());
    const answer = (status: number, headers: Record<string, string> = {}) => {
      if (stream.destroyed || stream.headersSent) return;
      res.writeHead(status, { 'content-length': '0', ...headers });
      res.end();
    };
    if (req.headers[':protocol'] !== 'websocket') return answer(405);
    admit(deps, req, {
      refuse: (status, _text, retry) =>
        answer(status, retry === undefined ? {} : { 'retry-after': String(retry) }),
      gone: () => stream.destroyed,
      accept: (onOpen) => transport.upgradeStream(stream, req.headers, onOpen),
    });
  };
}

/**
 * `GET /ws` without `Upgrade`: the answer an upgrade would get now, through the same gate, with
 * 426 (Upgrade Required) where the upgrade would be accepted. Browsers do not show a page the
 * status of a refused upgrade, so the page asks here after a WebSocket failed to open, and tells
 * the user when it is 429 (too many open tabs) instead of retrying in silence.
 */
export function createUpgradeProbe(deps: UpgradeDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const answer = (status: number, headers: Record<string, string> = {}) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, {
        'content-length': '0',
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
        ...headers,
      });
      res.end();
    };
    admit(deps, req, {
      refuse: (status, _text, retry) =>
        answer(status, retry === undefined ? {} : { 'retry-after': String(retry) }),
      gone: () => res.destroyed,
      accept: () => answer(426, { upgrade: 'websocket', connection: 'Upgrade' }),
    });
  };
}
