/**
 * HTTP: the page's static files and the API.
 *
 *   GET  /, /app.js, /style.css ...          the built page (static.ts)
 *   POST /api/register {"name","password"}   201 {"user"} and the session cookie; 409 name_taken
 *                                            (with similar: true for a look-alike of a name)
 *   POST /api/login    {"name","password"}   200 {"user"} and the cookie; 401 bad_credentials
 *   POST /api/logout                         deletes the session, clears the cookie, closes its sockets
 *                                            (429 past the address's sign-in bucket: the cookie is
 *                                            cleared all the same, the session left to expire)
 *   POST /api/password {"current","password"}  200 {"ok","ended"}: the password changed, the
 *                                            user's other sessions ended, and this one's token
 *                                            renewed (a new cookie); 403 wrong_password
 *   POST /api/logout-others                  200 {"ok","ended"}: every other session ended
 *   GET  /api/session                        200 {"signedIn":true,"user"} or {"signedIn":false}
 *   POST /api/attachments, GET /api/attachments/<id>   files sent with messages (attachments.ts)
 *   GET  /ws (no Upgrade)                    what an upgrade would get now: 426, or 401/403/429/503
 *   GET  /_stats                             this node's counters (only with statsEndpoint)
 *   GET  /healthz (and HEAD)                 200 {"ok":true} while this node can serve; 503
 *                                            {"ok":false,"reason"} while its store is unavailable
 *                                            ("database", "redis") or it is stopping ("stopping")
 *
 * POSTs must be application/json (exactly, in any case, parameters allowed: isJson) and pass the
 * Origin check (origin.ts), so another site can neither post a form to the API nor use the user's
 * cookie with it. A body is invited (100 Continue) only once it is to be read, and an answer given
 * while one is still coming closes the connection without resetting that answer away (body.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { type Log, UnavailableError } from '../ports.js';
import { type AccountDeps, accountHandlers } from './accounts.js';
import { type AttachmentRouteDeps, attachmentRoutes } from './attachments.js';
import { continueBody, isMediaType, lingerOnClose } from './body.js';
import { etagMatches } from './etag.js';
import { originAllowed } from './origin.js';
import { SECURITY_HEADERS, type StaticFile } from './static.js';

const MAX_BODY = 4096;
/** A 503's text: the same whatever the store said (the hub answers a socket's request alike). */
export const UNAVAILABLE_TEXT = 'chat storage is unavailable';

export interface RouteDeps extends AccountDeps, AttachmentRouteDeps {
  files: Map<string, StaticFile>;
  allowedOrigins: readonly string[];
  /** GET /ws without Upgrade (upgrade.ts: createUpgradeProbe). */
  probeUpgrade?: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * GET /healthz: null while this node can serve, else why not, a fixed word ("database", "redis",
   * "stopping") that names nothing private.
   */
  unhealthy: () => string | null;
  /** GET /_stats, when enabled. */
  stats: (() => Record<string, unknown>) | null;
  /** Served over TLS by this process (`tls`): answers carry Strict-Transport-Security. */
  hsts?: boolean;
  log: Log;
}

/** One year; no includeSubDomains (other hosts of the domain are not the chat's to decide). */
export const HSTS = 'max-age=31536000';

/**
 * Whether a browser should be told to use https only for this Host: not for an IP address (browsers
 * ignore it there) nor a loopback name, where it would also turn every other development server of
 * `localhost` to https for a year.
 */
export function hstsFor(host: string | undefined): boolean {
  if (!host || host.startsWith('[')) return false;
  const name = host.replace(/:\d*$/, '').replace(/\.$/, '').toLowerCase();
  return name !== '' && isIP(name) === 0 && name !== 'localhost' && !name.endsWith('.localhost');
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(text);
}

/**
 * Whether a Content-Type is JSON: `application/json` in any case, alone or with parameters
 * (`; charset=utf-8`, whitespace allowed before the `;`). Not by prefix: `application/json-evil`
 * or `application/jsonp` is another type, refused with 415 like any other (body.ts, isMediaType).
 */
function isJson(contentType: string | undefined): boolean {
  return isMediaType(contentType, 'application/json');
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) {
      // Without a 100 Continue when the client waits for one. The 413 closes the connection
      // (lingering: body.ts), so a body sent anyway does not reset the answer away.
      req.resume();
      reject(new HttpError(413, 'body too large'));
      return;
    }
    continueBody(res);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        // Not req.destroy(): that resets the connection before the 413 is written, and the
        // client never learns why. Discard the rest; the answer closes the connection.
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, 'body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(null);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, 'body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

export function createRequestHandler(deps: RouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { files } = deps;
  const api = accountHandlers(deps, send);
  const attachments = attachmentRoutes(deps, send);
  const posts: Record<string, (req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void>> = {
    '/api/register': api.register,
    '/api/login': api.login,
    '/api/logout': (req, res) => api.logout(req, res),
    '/api/password': api.changePassword,
    '/api/logout-others': (req, res) => api.logoutOthers(req, res),
  };

  function health(req: IncomingMessage, res: ServerResponse): void {
    const reason = deps.unhealthy();
    const text = JSON.stringify(reason === null ? { ok: true } : { ok: false, reason });
    res.writeHead(reason === null ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      'cache-control': 'no-store',
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    // For a load balancer or supervisor: first, so no session, Origin check or rate limit applies
    // (a probe must not use up a real user's budget), and it reads only in-memory state.
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) return health(req, res);
    if (path === '/_stats' && deps.stats && req.method === 'GET') return send(res, 200, deps.stats());
    if (path === '/ws' && req.method === 'GET' && deps.probeUpgrade) return deps.probeUpgrade(req, res);
    if (path.startsWith('/api/')) {
      if (path === '/api/attachments' || path.startsWith('/api/attachments/'))
        return attachments(req, res, path);
      if (req.method === 'POST' && Object.hasOwn(posts, path)) {
        if (!originAllowed(req, deps.allowedOrigins))
          return send(res, 403, { error: 'bad_origin', message: 'origin not allowed' });
        if (!isJson(req.headers['content-type']))
          return send(res, 415, { error: 'bad_content_type', message: 'send application/json' });
        return posts[path](req, res, await readJson(req, res));
      }
      if (path === '/api/session' && req.method === 'GET') return api.session(req, res);
      return send(res, 404, { error: 'not_found', message: 'no such endpoint' });
    }
    const file = req.method === 'GET' || req.method === 'HEAD' ? files.get(path) : undefined;
    if (!file) return send(res, 404, { error: 'not_found', message: 'not found' });
    // no-cache: asked again at every load (never a page from before a deploy), answered 304 while
    // the ETag still matches (static.ts, etag.ts).
    const cache = { 'cache-control': 'no-cache', etag: file.etag };
    if (etagMatches(req.headers['if-none-match'], file.etag)) {
      res.writeHead(304, { ...cache, ...SECURITY_HEADERS });
      return void res.end();
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': String(file.body.length),
      ...cache,
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  return (req, res) => {
    lingerOnClose(req, res);
    // A browser that has been here over https goes on using it: a network that answers a later
    // http:// link or typed address itself cannot show a look-alike sign-in page on this name.
    if (deps.hsts && hstsFor(req.headers.host ?? (req.headers[':authority'] as string | undefined)))
      res.setHeader('strict-transport-security', HSTS);
    handle(req, res).catch((err: Error) => {
      if (res.headersSent) return;
      // The peer closed before its body was read whole (a tab closed mid-upload, the page giving up
      // on a stalled one): nobody to answer, and nothing of the server's to log.
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' && req.destroyed) return;
      if (err instanceof HttpError) {
        // A body left unread: HTTP/1.1 closes the connection (HTTP/2 forbids this header).
        const close: Record<string, string> =
          err.status === 413 && req.httpVersionMajor === 1 ? { connection: 'close' } : {};
        return send(res, err.status, { error: 'bad_request', message: err.message }, close);
      }
      if (err instanceof UnavailableError) {
        // The store's own words stay here: they can be its reply (Redis: "OOM command not allowed
        // ...", "READONLY You can't write against a read only replica"), which tells a client how
        // the storage is run. Logged unless the node knows of the outage: the backend logged it,
        // with its reason, when it noticed (a refusing Redis or a failing SQLite at this very
        // call), and a line per request refused meanwhile would bury it.
        const known = deps.unhealthy();
        if (known !== 'redis' && known !== 'database')
          deps.log(`chat: http request failed: ${err.message}`, 'error');
        return send(res, 503, { error: 'unavailable', message: UNAVAILABLE_TEXT }, { 'retry-after': '1' });
      }
      deps.log(`chat: http error: ${err.stack ?? err}`, 'error');
      send(res, 500, { error: 'internal', message: 'internal error' });
    });
  };
}
