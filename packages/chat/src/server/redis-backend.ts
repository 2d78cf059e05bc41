/**
 * The Redis backend of a chat node: three connections, the store, fan-out and presence built on
 * them, and the node's view of Redis's health.
 *
 *   command  every store/presence call and PUBLISH. No offline queue and no retry of a command in
 *            flight when the connection drops: a call made while Redis is unreachable fails at once
 *            with UnavailableError (so nothing is acknowledged), and an append whose reply was lost
 *            is never silently sent twice (the client resends it; dedup answers with the original).
 *   reader   the fan-out's blocking XREAD loop (fanout-redis.ts).
 *   sub      pub/sub for ephemeral topics.
 *
 * Health: the node is `available` while the command connection is ready and answers a PING (sent
 * every second) within min(3 s, command timeout). While unavailable, the store refuses at once.
 * Each change is reported through onServiceChange (chat-server.ts tells every client with a
 * `service` message); ioredis reconnects by itself (every 100 ms to 1 s), so a node recovers
 * without a restart.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { RedisFanOut } from './fanout-redis.js';
import { RedisPresence } from './presence-redis.js';
import { RedisStore } from './storage/redis.js';

export interface RedisBackendOptions {
  /** redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  url: string;
  /** Key prefix. Default 'chat:'. */
  prefix?: string;
  /** Presence expiry of a dead node's connections, ms. Default 20000. */
  presenceTtlMs?: number;
  /** Approximate events kept per room stream. Default 10000. */
  streamRetention?: number;
  /** How long start() waits for Redis, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** A command without a reply after this long fails as unavailable, ms. Default 5000. */
  commandTimeoutMs?: number;
}

const KNOWN = new Set([
  'url',
  'prefix',
  'presenceTtlMs',
  'streamRetention',
  'connectTimeoutMs',
  'commandTimeoutMs',
]);

export interface RedisBackend {
  readonly store: RedisStore;
  readonly fanout: RedisFanOut;
  readonly presence: RedisPresence;
  readonly available: boolean;
  /** Called with false when the command connection is lost and true when it is back. */
  onServiceChange(listener: (available: boolean) => void): void;
  /** Counters for tests and /_stats. */
  stats(): Record<string, unknown>;
}

export async function connectRedis(
  options: RedisBackendOptions,
  log: (line: string) => void,
): Promise<RedisBackend> {
  for (const key of Object.keys(options))
    if (!KNOWN.has(key)) throw new TypeError(`redis: unknown option "${key}"`);
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new TypeError(`redis: invalid URL ${JSON.stringify(options.url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new TypeError(
      `redis: URL must start with redis:// or rediss://, got ${JSON.stringify(options.url)}`,
    );
  const where = `${parsed.hostname}:${parsed.port || 6379}`;

  const common: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    connectTimeout: 2000,
  };
  const cmd = new Redis(options.url, {
    ...common,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    connectionName: 'chat-cmd',
  });
  const reader = new Redis(options.url, { ...common, connectionName: 'chat-reader' });
  const sub = new Redis(options.url, {
    ...common,
    // Subscriptions are replayed by ioredis after a reconnect; let them queue until then.
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectionName: 'chat-sub',
  });
  const clients = [cmd, reader, sub];
  for (const c of clients) c.on('error', () => {}); // reported through the health below

  // Wait (ioredis retrying meanwhile) until every connection is ready, so nodes may start before
  // Redis does; give up after the timeout with the last connection error.
  const timeout = options.connectTimeoutMs ?? 10_000;
  let lastError = 'no answer';
  const noteError = (err: Error) => {
    lastError = err.message || err.name;
  };
  for (const c of clients) c.on('error', noteError);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(
        clients.map((c) => {
          const ready = new Promise<void>((resolve) => c.once('ready', () => resolve()));
          c.connect().catch(() => {});
          return ready;
        }),
      ),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeout);
      }),
    ]);
  } catch {
    for (const c of clients) c.disconnect();
    throw new Error(`redis: could not reach Redis at ${where} within ${timeout} ms (${lastError})`);
  } finally {
    clearTimeout(timer);
    for (const c of clients) c.off('error', noteError);
  }

  try {
    const [, aof] = (await cmd.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await cmd.config('GET', 'appendfsync')) as string[];
    if (aof !== 'yes' || fsync !== 'always')
      log(
        `chat: warning: Redis at ${where} has appendonly=${aof} appendfsync=${fsync}; acknowledged messages ` +
          'survive a Redis crash only with appendonly yes and appendfsync always',
      );
  } catch {
    // CONFIG may be disabled (managed Redis): nothing to check.
  }

  let available = true;
  let closing = false;
  const listeners: ((available: boolean) => void)[] = [];
  const setAvailable = (value: boolean) => {
    if (value === available || closing) return;
    available = value;
    log(
      value
        ? `chat: Redis at ${where} is back`
        : `chat: lost Redis at ${where}; refusing writes until it returns`,
    );
    for (const listener of listeners) listener(value);
  };
  cmd.on('close', () => setAvailable(false));
  cmd.on('ready', () => setAvailable(true));
  // A Redis that hangs (stopped process, network partition) keeps the TCP connection open: probe
  // it with PING every second; no answer within the probe timeout means unavailable, and the store
  // then refuses at once instead of making every request wait for its command timeout.
  const commandTimeout = options.commandTimeoutMs ?? 5000;
  const probeTimeout = Math.min(3000, commandTimeout);
  let probing = false;
  const probe = setInterval(() => {
    if (probing || closing || cmd.status !== 'ready') return;
    probing = true;
    let timer: NodeJS.Timeout | undefined;
    Promise.race([
      cmd.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), probeTimeout);
      }),
    ]).then((ok) => {
      clearTimeout(timer);
      probing = false;
      if (cmd.status === 'ready') setAvailable(ok);
    });
  }, 1000);
  probe.unref();

  const prefix = options.prefix ?? 'chat:';
  let fanout: RedisFanOut | undefined;
  let presence: RedisPresence | undefined;
  const store = new RedisStore(cmd, {
    prefix,
    isAvailable: () => available,
    ...(options.streamRetention !== undefined ? { streamRetention: options.streamRetention } : {}),
    onClose: async () => {
      closing = true;
      clearInterval(probe);
      presence?.close();
      await fanout?.close();
      await Promise.allSettled(clients.map((c) => (c.status === 'ready' ? c.quit() : c.disconnect())));
      for (const c of clients) c.disconnect();
    },
  });
  fanout = new RedisFanOut(cmd, reader, sub, store.keys, { log });
  const fan = fanout;
  presence = new RedisPresence(cmd, store.keys, {
    ...(options.presenceTtlMs !== undefined ? { ttlMs: options.presenceTtlMs } : {}),
    // A dead node's user expired, or a user re-added after an outage: tell the room.
    onChange: (room, user, online) =>
      fan.publish(`room:${room}`, JSON.stringify({ v: 1, type: 'presence', room, user, online })),
    log,
  });
  const pres = presence;
  return {
    store,
    fanout: fan,
    presence: pres,
    get available() {
      return available;
    },
    onServiceChange(listener) {
      listeners.push(listener);
    },
    stats() {
      return { available, rooms: fan.rooms, presenceTtlMs: pres.ttlMs, ...fan.stats };
    },
  };
}
