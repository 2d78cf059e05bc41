/**
 * HTTP: the page's static files, sign-in/sign-out endpoints and the WebSocket upgrade gate.
 *
 *   GET  /, /app.js, /style.css ...   files built into dist/public (a fixed list read at start)
 *   GET  /api/session                 200 {"user"} or 401
 *   POST /api/login  {"name","password"}  registers a new name or checks the password; sets the cookie
 *   POST /api/logout                  deletes the session, clears the cookie, closes its sockets
 *   GET  /ws (Upgrade: websocket)     Origin checked, session cookie required, then the hub
 *
 * The API accepts only application/json bodies and checks Origin like the upgrade does, so another
 * site can neither post a form to it nor open the chat's WebSocket with the user's cookie.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DEFAULT_ROOM } from '../shared/protocol.js';
import { credentialProblem, hashPassword, verifyPassword } from './auth.js';
import type { Hub } from './hub.js';
import type { RateLimiter } from './rate-limit.js';
import {
  COOKIE_NAME,
  clearedCookie,
  newToken,
  parseCookies,
  SESSION_TTL_MS,
  sessionCookie,
  sessionFromRequest,
} from './session.js';
import { type ChatStore, UnavailableError } from './storage/types.js';
import type { Transport } from './transport.js';

const MAX_BODY = 4096;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface StaticFile {
  body: Buffer;
  type: string;
}

/** Reads the built page into memory: only these paths are ever served. */
export function loadStatic(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      if (statSync(join(dir, rel)).isDirectory()) walk(rel);
      else
        files.set(`/${rel}`, {
          body: readFileSync(join(dir, rel)),
          type: TYPES[extname(name)] ?? 'application/octet-stream',
        });
    }
  };
  walk('');
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

export interface GateOptions {
  /** Exact origins allowed besides the page's own (same origin is always allowed). */
  allowedOrigins: string[];
  /** Set the cookie's Secure flag (when served over https by a proxy). */
  secureCookies: boolean;
}

/**
 * Same origin: the Origin header names the host the request was sent to. Requests without Origin
 * come from non-browser clients (bots); they cannot carry a victim's cookie, so they pass here
 * and still need a valid session.
 */
export function originAllowed(req: IncomingMessage, allowed: string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (host && (origin === `http://${host}` || origin === `https://${host}`)) return true;
  return allowed.includes(origin);
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
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(text);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(Object.assign(new Error('body is not JSON'), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}

export interface HttpDeps {
  store: ChatStore;
  hub: Hub;
  transport: Transport;
  files: Map<string, StaticFile>;
  logins: RateLimiter;
  options: GateOptions;
  log: (line: string) => void;
}

export function createRequestHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, hub, files, logins, options } = deps;

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const wait = logins.take(req.socket.remoteAddress ?? '');
    if (wait > 0) {
      send(
        res,
        429,
        { error: 'rate_limited', message: 'too many sign-in attempts', retryAfterMs: wait },
        {
          'retry-after': String(Math.ceil(wait / 1000)),
        },
      );
      return;
    }
    const body = (await readJson(req)) as { name?: unknown; password?: unknown } | null;
    const name = body?.name;
    const password = body?.password;
    const problem = credentialProblem(name, password);
    if (problem || typeof name !== 'string' || typeof password !== 'string') {
      send(res, 400, { error: 'bad_credentials', message: problem });
      return;
    }
    let user = await store.getUser(name);
    let registered = false;
    if (!user) {
      const record = { name, passwordHash: await hashPassword(password), createdAt: Date.now() };
      registered = await store.createUser(record);
      if (registered) {
        await store.join(name, DEFAULT_ROOM);
        user = record;
      } else {
        user = await store.getUser(name); // registered concurrently: check the password against it
      }
    }
    if (!user || (!registered && !(await verifyPassword(password, user.passwordHash)))) {
      send(res, 401, { error: 'wrong_password', message: 'wrong password for this name' });
      return;
    }
    const token = newToken();
    await store.createSession({ token, user: user.name, expiresAt: Date.now() + SESSION_TTL_MS });
    send(res, 200, { user: user.name }, { 'set-cookie': sessionCookie(token, options.secureCookies) });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path.startsWith('/api/')) {
      if (req.method === 'POST') {
        if (!originAllowed(req, options.allowedOrigins)) {
          send(res, 403, { error: 'bad_origin', message: 'origin not allowed' });
          return;
        }
        if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
          send(res, 415, { error: 'bad_content_type', message: 'send application/json' });
          return;
        }
      }
      if (path === '/api/login' && req.method === 'POST') return login(req, res);
      if (path === '/api/logout' && req.method === 'POST') {
        const token = parseCookies(req.headers.cookie).get(COOKIE_NAME);
        if (token) {
          await store.deleteSession(token);
          hub.endSession(token);
        }
        send(res, 200, { ok: true }, { 'set-cookie': clearedCookie(options.secureCookies) });
        return;
      }
      if (path === '/api/session' && req.method === 'GET') {
        const session = await sessionFromRequest(store, req);
        if (session) send(res, 200, { user: session.user });
        else send(res, 401, { error: 'no_session', message: 'not signed in' });
        return;
      }
      send(res, 404, { error: 'not_found', message: 'no such endpoint' });
      return;
    }
    const file = req.method === 'GET' || req.method === 'HEAD' ? files.get(path) : undefined;
    if (!file) {
      send(res, 404, { error: 'not_found', message: 'not found' });
      return;
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': String(file.body.length),
      'cache-control': 'no-cache',
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  return (req, res) => {
    handle(req, res).catch((err: Error & { status?: number }) => {
      if (err.status) {
        if (!res.headersSent) send(res, err.status, { error: 'bad_request', message: err.message });
        return;
      }
      if (err instanceof UnavailableError) {
        if (!res.headersSent)
          send(res, 503, { error: 'unavailable', message: err.message }, { 'retry-after': '1' });
        return;
      }
      deps.log(`chat: http error: ${err.stack ?? err}`);
      if (!res.headersSent) send(res, 500, { error: 'internal', message: 'internal error' });
    });
  };
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** The upgrade gate: path, origin, session, then the hub takes the socket. */
export function createUpgradeHandler(
  deps: HttpDeps,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { store, hub, transport, options } = deps;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/ws') return reject(socket, 404, 'Not Found');
    // Cross-site WebSocket hijacking: a page on another origin could open this socket with the
    // user's cookie, so the Origin the browser sends must be ours or explicitly allowed.
    if (!originAllowed(req, options.allowedOrigins)) return reject(socket, 403, 'Forbidden');
    sessionFromRequest(store, req)
      .then(async (session) => {
        if (!session) return reject(socket, 401, 'Unauthorized');
        const ws = await transport.upgrade(req, socket, head);
        hub.attach(ws, session.user, session.token);
      })
      .catch((err: Error) => {
        // Storage unreachable (several nodes on Redis): the client retries with its backoff.
        if (err instanceof UnavailableError) return reject(socket, 503, 'Service Unavailable');
        deps.log(`chat: upgrade error: ${err.stack ?? err}`);
        reject(socket, 500, 'Internal Server Error');
      });
  };
}
