/**
 * Assembles the chat: a backend (SQLite, or Redis for several nodes) + the hub + the transport
 * behind one HTTP server. startChatServer() is what main.ts and the tests call; close() shuts
 * down in order: GET /healthz answers 503 "stopping" and, with drainMs, everything else is still
 * served that long (a load balancer's checks take the node out of rotation meanwhile), then stop
 * accepting and stop the periodic sweep, close sockets with 1001 (going away),
 * let queued work and the sweep in flight finish (unless storage is unavailable: then their calls
 * are failed, not waited for), close the backend.
 *
 * Options are validated here, once (unknown keys are refused); the limits' defaults and meaning
 * are in shared/protocol.ts (DEFAULT_LIMITS), documented in docs/chat-protocol.md and SECURITY.md.
 */
import { createServer, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS, type Limits, type Rate, USER_NAME } from '../shared/protocol.js';
import { DEFAULT_SIGN_IN_BACKOFF } from './backends/backoff.js';
import { createRedisBackend, type RedisBackendOptions } from './backends/redis/index.js';
import { createSqliteBackend } from './backends/sqlite/index.js';
import { systemClock } from './clock.js';
import { type AttachmentLimits, DEFAULT_ATTACHMENT_LIMITS } from './http/attachments.js';
import { deferContinue } from './http/body.js';
import { parseTrustList, type TrustedProxies } from './http/client-address.js';
import { createRequestHandler } from './http/routes.js';
import { loadStatic, readBuild } from './http/static.js';
import { createConnectHandler, createUpgradeHandler, createUpgradeProbe } from './http/upgrade.js';
import { Hub } from './hub/hub.js';
import {
  type Backend,
  type BackendOptions,
  type Clock,
  consoleLog,
  type Log,
  type SignInBackoff,
} from './ports.js';
import { applyHttpTimeouts, closeIdleConnections, TIMEOUTS } from './timeouts.js';
import { Transport } from './transport.js';

export interface ChatServerOptions {
  port?: number;
  host?: string;
  /** SQLite file (`:memory:` for none); ignored with `redis`. Default ./data/chat.db. */
  dbPath?: string;
  /** Run as one of several nodes sharing this Redis; dbPath is ignored. */
  redis?: RedisBackendOptions;
  /** Origins allowed besides the page's own (exact `scheme://host[:port]`). */
  allowedOrigins?: string[];
  /**
   * Addresses and CIDR subnets of the reverse proxies in front of the chat (each string may be a
   * comma list: `['127.0.0.1', '::1']`, `['10.0.0.0/8,fd00::/8']`). A request from one of them is
   * counted by the per-address limits under the client X-Forwarded-For gives
   * (http/client-address.ts). Default: none, and the header is never read.
   */
  trustProxy?: readonly string[];
  /** Mark the cookie Secure (served over https by a proxy; the default with `tls`). */
  secureCookies?: boolean;
  /**
   * Serve https:// and wss:// ourselves, over HTTP/2 and HTTP/1.1 on one port: the page and its
   * WebSocket then share one connection in browsers that speak RFC 8441 (docs/http2.md).
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Overrides of DEFAULT_LIMITS (sent to clients in `welcome`). */
  limits?: Partial<Limits>;
  /** Sockets one user may have open on one node. Default 8. */
  maxSocketsPerUser?: number;
  /** Unsent bytes one socket may hold before it is closed as too slow. Default 2 MiB. */
  maxBufferedBytes?: number;
  /** Requests waiting on one connection before its socket is no longer read. Default 32. */
  maxQueuedRequests?: number;
  /** Ping interval of the heartbeat, ms (0: none; at most 2^31 - 1, a Node timer's longest). Default 30000. */
  heartbeatMs?: number;
  /** Sign-in attempts per client address. Default burst 20, 1 per second. */
  signInPerIp?: Rate;
  /** Accounts created per client address. Default burst 5, 1 per minute. */
  signUpPerIp?: Rate;
  /** Backoff of one account's failed sign-ins. */
  signInBackoff?: Partial<SignInBackoff>;
  /** How often empty rooms are looked for, ms (0: never; tests call sweep(); at most 2^31 - 1). Default 60000. */
  sweepIntervalMs?: number;
  /** Directory of the built page (default: dist/public next to this file). */
  publicDir?: string;
  /** Serve GET /_stats (this node's counters, JSON). Off by default. */
  statsEndpoint?: boolean;
  /**
   * Server admins: account names (matched ignoring case, as sign-in finds accounts; a look-alike
   * is another account) who may, in every public room including `general`, do what its owner may
   * (remove and ban, unban, list the bans) and delete anyone's message; not in private rooms or
   * direct messages. Config, never stored: nodes sharing a store should be given the same list. A
   * name no account has yet is allowed (logged at the start): whoever signs up with it is an admin.
   */
  admins?: string[];
  /**
   * How long close() keeps serving before it closes the listener, ms: GET /healthz answers 503
   * "stopping" from the start of close(), while new connections, requests and WebSockets are served
   * as before, so that a load balancer's health checks take the node out of rotation (its check
   * interval times its unhealthy threshold) before the port refuses anyone. Default 0: at once.
   * At most 2^31 - 1 (main.ts allows up to its stop deadline, 20 s).
   */
  drainMs?: number;
  /** Files sent with messages: size per file, unused uploads per user and how long they wait. */
  attachments?: Partial<AttachmentLimits>;
  /** Bytes of attachments held in total (Redis default 256 MiB; SQLite: no cap unless set). */
  maxAttachmentBytesTotal?: number;
  /** The time source (tests pass a ManualClock). */
  clock?: Clock;
  /**
   * Where the server's lines go, each with its level (`info`, `warning`, `error`). Default: warnings
   * and errors to stderr, the rest to stdout.
   */
  log?: Log;
}

const KNOWN_OPTIONS = new Set<keyof ChatServerOptions>([
  'port',
  'host',
  'dbPath',
  'redis',
  'allowedOrigins',
  'trustProxy',
  'secureCookies',
  'tls',
  'limits',
  'maxSocketsPerUser',
  'maxBufferedBytes',
  'maxQueuedRequests',
  'heartbeatMs',
  'signInPerIp',
  'signUpPerIp',
  'signInBackoff',
  'sweepIntervalMs',
  'publicDir',
  'statsEndpoint',
  'admins',
  'drainMs',
  'clock',
  'log',
  'attachments',
  'maxAttachmentBytesTotal',
]);

export interface ChatServer {
  readonly url: string;
  readonly port: number;
  /** An http.Server, or with `tls` node's HTTP/2 secure server (HTTP/1.1 allowed). */
  readonly http: Server | Http2SecureServer;
  readonly hub: Hub;
  readonly backend: Backend;
  readonly transport: Transport;
  close(): Promise<void>;
}

/**
 * Thrown when a TLS handshake with Redis fails for good (a certificate not trusted, a client
 * certificate required...): its message names this function's options (redis.tls.ca...).
 */
/**
 * Thrown when Redis refuses the credentials (WRONGPASS, NOAUTH): its message names the option the
 * password came from (redis.password) or the URL's, never the password.
 */
export { RedisCredentialsError, RedisTlsError } from './backends/redis/connection.js';

/**
 * Thrown when another chat server holds the SQLite database (its lock file): the message names
 * the option dbPath.
 */
export { DatabaseInUseError } from './backends/sqlite/owner-lock.js';

/** Thrown when the port is taken (main.ts prints one line and exits 1). */
export class PortInUseError extends Error {
  readonly code = 'EADDRINUSE';
  constructor(
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(`port ${port} is in use`, options);
    this.name = 'PortInUseError';
  }
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new TypeError(`startChatServer: ${name} must be an integer >= ${min}`);
  return value;
}

/** The longest delay a Node timer takes: setTimeout/setInterval make a longer one 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An interval in ms for a timer, 0 for none: refused above what a Node timer can wait. */
function interval(name: string, value: number | undefined, fallback: number): number {
  const ms = positive(name, value, fallback, 0);
  if (ms > MAX_TIMER_MS)
    throw new TypeError(
      `startChatServer: ${name} must be at most ${MAX_TIMER_MS} (ms, the longest a Node timer waits)`,
    );
  return ms;
}

function checkTrustProxy(list: readonly string[] | undefined): TrustedProxies {
  if (list === undefined) return parseTrustList([]);
  if (!Array.isArray(list) || !list.every((entry) => typeof entry === 'string'))
    throw new TypeError('startChatServer: trustProxy must be an array of strings');
  try {
    return parseTrustList(list);
  } catch (err) {
    throw new TypeError(`startChatServer: trustProxy: ${(err as Error).message}`);
  }
}

/** The admins' names: each a user name (USER_NAME); a repeat (ignoring case) is dropped. */
function checkAdmins(admins: string[] | undefined): string[] {
  if (admins === undefined) return [];
  if (!Array.isArray(admins)) throw new TypeError('startChatServer: admins must be an array of user names');
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of admins) {
    if (typeof name !== 'string' || !USER_NAME.test(name))
      throw new TypeError(`startChatServer: admins: ${JSON.stringify(name)} is not a user name`);
    if (seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out;
}

function checkLimits(limits: Partial<Limits> | undefined): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits ?? {})) {
    if (!Object.hasOwn(DEFAULT_LIMITS, key)) throw new TypeError(`startChatServer: unknown limit "${key}"`);
    const fallback = DEFAULT_LIMITS[key as keyof Limits];
    if (typeof fallback === 'number') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
        throw new TypeError(`startChatServer: limits.${key} must be a positive integer`);
    } else if (
      typeof value !== 'object' ||
      value === null ||
      !Number.isInteger((value as Rate).burst) ||
      (value as Rate).burst < 1 ||
      !((value as Rate).perSecond > 0)
    ) {
      throw new TypeError(`startChatServer: limits.${key} must be { burst: integer >= 1, perSecond: > 0 }`);
    }
    (out as unknown as Record<string, unknown>)[key] = value;
  }
  return out;
}

export async function startChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key as keyof ChatServerOptions))
      throw new TypeError(`startChatServer: unknown option "${key}"`);
  }
  const limits = checkLimits(options.limits);
  const trustedProxies = checkTrustProxy(options.trustProxy);
  const log = options.log ?? consoleLog;
  const clock = options.clock ?? systemClock;
  const maxBufferedBytes = positive('maxBufferedBytes', options.maxBufferedBytes, 2 * 1024 * 1024, 64 * 1024);
  // Every option is checked before the backend opens: a refused start must hold nothing (the SQLite
  // file's owner lock, Redis connections, the port).
  const heartbeatMs = interval('heartbeatMs', options.heartbeatMs, 30_000);
  const maxQueuedRequests = positive('maxQueuedRequests', options.maxQueuedRequests, 32);
  const maxSocketsPerUser = positive('maxSocketsPerUser', options.maxSocketsPerUser, 8);
  const sweepMs = interval('sweepIntervalMs', options.sweepIntervalMs, 60_000);
  const drainMs = interval('drainMs', options.drainMs, 0);
  const admins = checkAdmins(options.admins);
  const attachmentLimits: AttachmentLimits = {
    maxBytes: positive(
      'attachments.maxBytes',
      options.attachments?.maxBytes,
      DEFAULT_ATTACHMENT_LIMITS.maxBytes,
    ),
    maxUnusedPerUser: positive(
      'attachments.maxUnusedPerUser',
      options.attachments?.maxUnusedPerUser,
      DEFAULT_ATTACHMENT_LIMITS.maxUnusedPerUser,
    ),
    unusedTtlMs: positive(
      'attachments.unusedTtlMs',
      options.attachments?.unusedTtlMs,
      DEFAULT_ATTACHMENT_LIMITS.unusedTtlMs,
    ),
  };
  const common: BackendOptions = {
    ...(options.maxAttachmentBytesTotal !== undefined
      ? { maxAttachmentBytesTotal: positive('maxAttachmentBytesTotal', options.maxAttachmentBytesTotal, 0) }
      : {}),
    clock,
    log,
    buckets: {
      messages: limits.messageRate,
      rooms: limits.roomRate,
      requests: limits.requestRate,
      signInPerIp: options.signInPerIp ?? { burst: 20, perSecond: 1 },
      signUpPerIp: options.signUpPerIp ?? { burst: 5, perSecond: 1 / 60 },
    },
    signInBackoff: { ...DEFAULT_SIGN_IN_BACKOFF, ...options.signInBackoff },
  };
  const backend = options.redis
    ? await createRedisBackend(options.redis, common)
    : createSqliteBackend(options.dbPath ?? './data/chat.db', common);
  // A failed start must not leave the store (or the Redis connections) open.
  const abort = async (err: unknown): Promise<never> => {
    await backend.close().catch(() => {});
    throw err;
  };
  const transport = new Transport({
    maxPayload: limits.maxFrameBytes,
    heartbeatMs,
    maxBufferedBytes,
    closeTimeoutMs: 5000,
  });
  const here = dirname(fileURLToPath(import.meta.url));
  const publicDir = options.publicDir ?? join(here, '..', '..', 'dist', 'public');
  const build = readBuild(publicDir);
  const hub = new Hub(backend, (topic, payload) => transport.publish(topic, payload), {
    limits,
    clock,
    maxBufferedBytes,
    maxQueuedRequests,
    log,
    admins,
    ...(build !== undefined ? { build } : {}),
  });
  await hub.start().catch((err: unknown) => {
    hub.close();
    return abort(err);
  });
  // Once, at the start: an admin name nobody has yet goes to whoever signs up with it first.
  for (const name of admins)
    if (!(await backend.accounts.getUser(name).catch(() => null)))
      log(
        `chat: admin ${name} has no account yet: whoever signs up as ${name} will be a server admin`,
        'warning',
      );
  backend.onServiceChange((available) => hub.serviceChanged(available));

  const allowedOrigins = options.allowedOrigins ?? [];
  const secureCookies = options.secureCookies ?? options.tls !== undefined;
  const gateDeps = {
    accounts: backend.accounts,
    hub,
    transport,
    clock,
    allowedOrigins,
    secureCookies,
    maxSocketsPerUser,
    log,
  };
  const handler = createRequestHandler({
    accounts: backend.accounts,
    rooms: backend.rooms,
    throttle: backend.throttle,
    attachments: backend.attachments,
    attachmentLimits,
    clock,
    secureCookies,
    hsts: options.tls !== undefined,
    maxRoomsPerUser: limits.maxRoomsPerUser,
    trustedProxies,
    endSession: (user, token, renewed) => hub.endSession(user, token, renewed),
    files: loadStatic(publicDir),
    allowedOrigins,
    probeUpgrade: createUpgradeProbe(gateDeps),
    unhealthy: () => {
      if (closing !== undefined) return 'stopping';
      if (!backend.available) return backend.name === 'redis' ? 'redis' : 'database';
      return null;
    },
    stats: options.statsEndpoint
      ? () => ({ connections: hub.connectionCount, openRooms: hub.openRooms, ...backend.stats() })
      : null,
    log,
  });
  let http: Server | Http2SecureServer;
  /** With tls: every TCP connection, to end them at close (sessions have no closeAllConnections). */
  const sockets = new Set<Socket>();
  if (options.tls === undefined) {
    http = createServer(handler);
  } else {
    // node's compatibility API hands HTTP/2 requests to the same handler with the same surface
    // (headers, url, method, 'data', socket.remoteAddress, writeHead, end), which is all it uses.
    try {
      http = createSecureServer(
        // RFC 8441 3: SETTINGS_ENABLE_CONNECT_PROTOCOL tells browsers they may open WebSockets as
        // streams (riptide's noServer mode leaves the server's settings to us).
        {
          cert: options.tls.cert,
          key: options.tls.key,
          allowHTTP1: true,
          settings: { enableConnectProtocol: true },
          // node's is 120 s: a handshake is a few round trips (timeouts.ts, closeIdleConnections).
          handshakeTimeout: TIMEOUTS.headersMs,
        },
        handler as unknown as Parameters<typeof createSecureServer>[1],
      );
    } catch (err) {
      // A key or certificate Node cannot read, known only now: the start is refused holding nothing.
      hub.close();
      return abort(err);
    }
    http.on('connect', createConnectHandler(gateDeps));
    http.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }
  // Expect: 100-continue: the 100 goes when a route reads the body (http/body.ts), not at once.
  http.on('checkContinue', deferContinue(handler));
  // Node's defaults would give a head 60 s and a request 300 s; ours are in timeouts.ts.
  applyHttpTimeouts(http, attachmentLimits.maxBytes);
  closeIdleConnections(http, attachmentLimits.maxBytes);
  http.on('upgrade', createUpgradeHandler(gateDeps));
  const port = options.port ?? 8080;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      abort(err.code === 'EADDRINUSE' ? new PortInUseError(port, { cause: err }) : err).catch(reject);
    };
    http.once('error', onError);
    http.listen(port, host, () => {
      http.off('error', onError);
      resolve();
    });
  });
  const actualPort = (http.address() as AddressInfo).port;
  const scheme = options.tls === undefined ? 'http' : 'https';
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${actualPort}/`;
  // Said once started (the CLI's "listening on" line follows): whose X-Forwarded-For decides the
  // client a per-address limit counts, so a proxy list too wide (or one forgotten) shows at a glance.
  if (trustedProxies.size > 0)
    log(`chat: trusting X-Forwarded-For from ${trustedProxies.entries.join(', ')}`, 'info');

  /**
   * Set as close() begins: GET /healthz then answers 503 "stopping", so a balancer drains this node
   * (for drainMs while the rest is served as before, then while the stop runs).
   */
  let closing: Promise<void> | undefined;

  // The periodic sweep: one at a time (a tick while one runs, Redis being slow, is skipped), none
  // once close() began; close() stops the one in flight between its steps and waits for it, so
  // it sends nothing to (and logs nothing about) a backend closed under it.
  const stopSweep = new AbortController();
  let sweeping: Promise<void> | undefined;
  const sweepOnce = () => {
    if (sweeping !== undefined || stopSweep.signal.aborted) return;
    sweeping = Promise.all([
      hub
        .sweep(stopSweep.signal)
        .catch((err: Error) => log(`chat: room expiry failed: ${err.message}`, 'error')),
      backend.attachments
        .expireUnused(clock.now() - attachmentLimits.unusedTtlMs)
        .catch((err: Error) => log(`chat: attachment expiry failed: ${err.message}`, 'error')),
    ]).then(() => {
      sweeping = undefined;
    });
  };
  const sweeper = sweepMs > 0 ? setInterval(sweepOnce, sweepMs) : undefined;
  sweeper?.unref();

  /** Resolves once the backend says it is unavailable (at once if it is already). */
  const storageLost = () =>
    new Promise<void>((resolve) => {
      if (!backend.available) resolve();
      else backend.onServiceChange((available) => available || resolve());
    });
  const close = () => {
    closing ??= (async () => {
      if (drainMs > 0) {
        // Nothing else changes meanwhile: the hub, the sweep and the listener run on, and only
        // /healthz (reading `closing`) tells the balancer to send new clients elsewhere.
        await new Promise<void>((resolve) => setTimeout(resolve, drainMs));
        const open = hub.connectionCount;
        log(`chat: drained for ${drainMs} ms; closing ${open} connection${open === 1 ? '' : 's'}`, 'info');
      }
      clearInterval(sweeper);
      stopSweep.abort();
      hub.close(); // no presence resync or session recheck is retried once closing began
      const swept = sweeping ?? Promise.resolve();
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
      if ('closeAllConnections' in http) http.closeIdleConnections();
      await transport.closeAll(1001, 'server shutting down', 2000);
      // Queued work finishes first, unless storage is (or becomes) unreachable: its calls would
      // wait for their command timeout (or for ever), and closing the backend rejects them now.
      const drained = hub.drain();
      await Promise.race([Promise.all([drained, swept]), storageLost()]);
      await backend.close();
      await drained;
      await swept;
      if ('closeAllConnections' in http) http.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await stopped;
    })();
    return closing;
  };
  return { url, port: actualPort, http, hub, backend, transport, close };
}
