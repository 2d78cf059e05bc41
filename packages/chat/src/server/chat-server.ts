/**
 * Assembles the chat: store + fan-out + presence + hub behind one HTTP server.
 * startChatServer() is what main.ts and the tests call; close() shuts down in order:
 * stop accepting, close sockets with 1001 (going away), let queued work finish, close the store.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS, type Limits } from '../shared/protocol.js';
import { type FanOut, MemoryFanOut } from './fanout.js';
import { createRequestHandler, createUpgradeHandler, loadStatic } from './http.js';
import { Hub } from './hub.js';
import { MemoryPresence, type Presence } from './presence.js';
import { RateLimiter } from './rate-limit.js';
import { connectRedis, type RedisBackend, type RedisBackendOptions } from './redis-backend.js';
import { SqliteStore } from './storage/sqlite.js';
import type { ChatStore } from './storage/types.js';
import { Transport } from './transport.js';

export interface ChatServerOptions {
  port?: number;
  host?: string;
  /** SQLite file; ignored when `store` is given. */
  dbPath?: string;
  store?: ChatStore;
  fanout?: FanOut;
  presence?: Presence;
  allowedOrigins?: string[];
  secureCookies?: boolean;
  limits?: Partial<Limits>;
  /** Largest WebSocket message accepted, bytes (bigger closes the connection with 1009). */
  maxPayload?: number;
  heartbeatMs?: number;
  typingIntervalMs?: number;
  /** Sign-in attempts per IP: burst and per second. */
  loginBurst?: number;
  loginPerSecond?: number;
  /** Directory of the built page (default: dist/public next to this file). */
  publicDir?: string;
  log?: (line: string) => void;
  /** Run as one of several nodes sharing this Redis (store, fan-out, presence); dbPath is ignored. */
  redis?: RedisBackendOptions;
  /** Serve GET /_stats (this node's fan-out counters, JSON). Off by default. */
  statsEndpoint?: boolean;
  /** The clock (ms) of the rate limits and the typing throttle (default Date.now); for tests. */
  now?: () => number;
}

const KNOWN_OPTIONS = new Set([
  'port',
  'host',
  'dbPath',
  'store',
  'fanout',
  'presence',
  'allowedOrigins',
  'secureCookies',
  'limits',
  'maxPayload',
  'heartbeatMs',
  'typingIntervalMs',
  'loginBurst',
  'loginPerSecond',
  'publicDir',
  'log',
  'redis',
  'statsEndpoint',
  'now',
]);

export interface ChatServer {
  readonly url: string;
  readonly port: number;
  readonly http: Server;
  readonly hub: Hub;
  /** The Redis backend when running as one of several nodes. */
  readonly redis: RedisBackend | undefined;
  close(): Promise<void>;
}

export async function startChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`startChatServer: unknown option "${key}"`);
  }
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = options.log ?? ((line: string) => console.log(line));
  // ---- several nodes: the Redis backend replaces store, fan-out and presence (redis-backend.ts) ----
  const redis = options.redis ? await connectRedis(options.redis, log) : undefined;
  const store = redis?.store ?? options.store ?? new SqliteStore(options.dbPath ?? './data/chat.db');
  const fanout = redis?.fanout ?? options.fanout ?? new MemoryFanOut();
  const presence = redis?.presence ?? options.presence ?? new MemoryPresence();
  const hub = new Hub(store, fanout, presence, {
    limits,
    typingIntervalMs: options.typingIntervalMs ?? 1000,
    maxBufferedBytes: 8 * 1024 * 1024,
    log,
    now: options.now,
  });
  // A failed start must not leave the store (or the Redis connections) open.
  const abort = async (err: unknown): Promise<never> => {
    await store.close().catch(() => {});
    throw err;
  };
  await hub.start().catch(abort);
  const transport = new Transport({
    maxPayload: options.maxPayload ?? 64 * 1024,
    heartbeatMs: options.heartbeatMs ?? 30_000,
  });
  const here = dirname(fileURLToPath(import.meta.url));
  const publicDir = options.publicDir ?? join(here, '..', '..', 'dist', 'public');
  const deps = {
    store,
    hub,
    transport,
    files: loadStatic(publicDir),
    logins: new RateLimiter(options.loginBurst ?? 20, options.loginPerSecond ?? 1),
    options: { allowedOrigins: options.allowedOrigins ?? [], secureCookies: options.secureCookies ?? false },
    log,
  };
  const handler = createRequestHandler(deps);
  const http = createServer((req, res) => {
    if (options.statsEndpoint && req.method === 'GET' && req.url === '/_stats') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ connections: hub.connectionCount, ...(redis?.stats() ?? {}) }));
      return;
    }
    handler(req, res);
  });
  // Redis lost or back: every client hears it (the hub refuses writes meanwhile, code 'unavailable').
  redis?.onServiceChange((available) => {
    const message = available
      ? 'the chat is available again'
      : 'chat storage is unavailable; messages are not accepted';
    const payload = JSON.stringify({ v: 1, type: 'service', available, message });
    for (const ws of transport.clients) if (ws.readyState === 1) ws.send(payload);
  });
  http.on('upgrade', createUpgradeHandler(deps));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => abort(err).catch(reject);
    http.once('error', onError);
    http.listen(options.port ?? 8080, host, () => {
      http.off('error', onError);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      await transport.closeAll(1001, 'server shutting down', 2000);
      await hub.drain();
      await store.close();
      http.closeAllConnections();
      await stopped;
    })();
    return closing;
  };
  return { url, port, http, hub, redis, close };
}
