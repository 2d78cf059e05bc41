/**
 * A node's three connections to Redis and its view of Redis's health.
 *
 *   command  every store, presence and throttle call, and PUBLISH. No offline queue and no retry of
 *            a command in flight when the connection drops: a call made while Redis is unreachable
 *            fails at once with UnavailableError (so nothing is acknowledged), and an append whose
 *            reply was lost is never silently sent twice (the client resends it; dedup answers).
 *   reader   the blocking XREAD loop of events.ts (it has no command timeout: a read blocks for
 *            blockMs; stop() disconnects it rather than waiting for a hung Redis to answer).
 *   sub      pub/sub for the notice bus (bus.ts).
 *
 * Health: `available` while the command connection is ready and answers a PING (sent every second)
 * within min(3 s, command timeout), and Redis did not refuse a command for now since its last write
 * went through (`refused`: the probe then writes instead of pinging). Each change is reported to the listeners; ioredis reconnects by
 * itself (every 100 ms to 1 s), so a node recovers without a restart.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { Log } from '../../ports.js';
import { connectionName } from './done-markers.js';

/** How long one connection attempt (TCP and, for rediss://, the TLS handshake) may take, ms. */
const ATTEMPT_TIMEOUT_MS = 2000;

export interface RedisConnectOptions {
  /** redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  url: string;
  /**
   * Redis's password, when it is not in the URL (kept out of a command line: main.ts reads it from
   * a file or the environment). The URL may still name the user (an ACL user); a URL with a
   * password of its own and this too is refused, as is an empty one.
   */
  password?: string;
  /** How long connecting waits for Redis, ms. */
  connectTimeoutMs: number;
  /** A command without a reply after this long fails as unavailable, ms. */
  commandTimeoutMs: number;
  /** The key the probe writes while Redis refuses commands (see `refused`). Default 'chat:probe'. */
  probeKey?: string;
  /**
   * For rediss:// only: the CA that signed Redis's certificate (PEM; then the only one trusted for
   * Redis, where NODE_EXTRA_CA_CERTS adds to node's list for every connection of the process), and
   * the client certificate and key when Redis requires one (`tls-auth-clients yes`, Redis's
   * default). Redis's certificate is always verified, and its hostname.
   */
  tls?: RedisTlsFiles;
}

export interface RedisTlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface RedisConnections {
  readonly cmd: Redis;
  readonly reader: Redis;
  readonly sub: Redis;
  readonly where: string;
  readonly available: boolean;
  onChange(listener: (available: boolean) => void): void;
  /**
   * Redis answered a command with a refusal for now (OOM at maxmemory with noeviction, MISCONF after
   * a failed snapshot, READONLY from a replica, BUSY, LOADING): it answers PING all the same, so
   * the node is unavailable until a write goes through again (the probe then writes instead of
   * pinging). Without this, clients would hold their refused messages for a `service` notice that
   * never came.
   */
  refused(reason: string): void;
  /**
   * Stops the probe and closes the three connections, promptly even if Redis is hung (see the
   * function); calls still waiting on them reject.
   */
  close(): Promise<void>;
}

/** What the node takes from a Redis URL (parseRedisUrl). */
export interface RedisUrl {
  /** The host to dial: an IPv6 address without its brackets. */
  host: string;
  port: number;
  /** The database number: the URL's path, 0 without one. */
  db: number;
  /** host:port as written, for messages (no credentials). */
  where: string;
  /** rediss://: TLS. */
  secure: boolean;
}

/** A Redis URL the node refuses before dialling, in a message that quotes no password. */
export class RedisUrlError extends TypeError {
  constructor(message: string) {
    super(`redis: ${message}`);
    this.name = 'RedisUrlError';
  }
}

/**
 * Why a query parameter is refused, for those an operator is likely to write. ioredis reads every
 * query parameter as a connection option and lets it win over the node's own: ?db= skipped the
 * check of the database number (?db=99 wrote to database 0), ?tls=true on redis:// spoke TLS to a
 * plain port until the 10 s wait ran out, ?tls= on rediss:// replaced the CA and client
 * certificate given, ?password= was printed in the "listening" line, and others
 * (?enableOfflineQueue=, ?commandTimeout=, ?keyPrefix=...) would undo what the node relies on.
 */
const QUERY_HINTS: Record<string, string> = {
  db: 'the database is the path: redis://host:port/3',
  tls: 'TLS is the scheme: rediss://host:port',
  ssl: 'TLS is the scheme: rediss://host:port',
  password: 'credentials go before the host: redis://user:password@host:port',
  username: 'credentials go before the host: redis://user:password@host:port',
  family:
    "both of the host's IPv4 and IPv6 addresses are tried; an IPv6 address is written in brackets: redis://[::1]:6379",
};

/**
 * The URL an operator gives: redis://[user[:password]@]host[:port][/db], or rediss:// for TLS.
 * Nothing else is taken: a path that is not a database number, a query or a fragment is refused
 * (RedisUrlError), before any connection.
 */
export function parseRedisUrl(url: string): RedisUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisUrlError(
      `not a URL: ${JSON.stringify(withoutPassword(url))} (in a password, @ : / ? # and % are written percent-encoded: %40 %3A %2F %3F %23 %25)`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new RedisUrlError(
      `URL must start with redis:// or rediss://, got ${JSON.stringify(withoutPassword(url))}`,
    );
  if (parsed.hostname === '') throw new RedisUrlError('the URL names no host: redis://host:port');
  const names = [...new Set(parsed.searchParams.keys())];
  if (names.length > 0) {
    const hints = [...new Set(names.map((name) => QUERY_HINTS[name.toLowerCase()]).filter(Boolean))];
    throw new RedisUrlError(
      `the URL takes no query parameters (the node sets its connection options itself), got ${names
        .map((name) => JSON.stringify(name))
        .join(', ')}${hints.length > 0 ? `: ${hints.join('; ')}` : ''}`,
    );
  }
  if (parsed.hash !== '') throw new RedisUrlError('the URL takes no #fragment');
  // The path is the database number. ioredis reads it with parseInt and gives no error: "/abc" made
  // every command first send SELECT NaN, whose refusal nothing catches (the process died with a
  // stack trace), and "/1x" would quietly be database 1.
  const dbText = parsed.pathname.replace(/^\//, '');
  if (!/^\d*$/.test(dbText))
    throw new RedisUrlError(
      `the URL's path is a database number (redis://host:port/2), got ${JSON.stringify(parsed.pathname)}`,
    );
  const port = Number(parsed.port || 6379);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    db: Number(dbText),
    where: `${parsed.hostname}:${port}`,
    secure: parsed.protocol === 'rediss:',
  };
}

/**
 * A URL parseRedisUrl took, as the node shows it (the "listening" line): its password as ***, and
 * normalised: an empty query or fragment (a trailing `?` or `#`, which parseRedisUrl lets through
 * and the node ignores) is left out, so the line says what the node dials.
 */
export function shownRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return withoutPassword(url);
  }
  if (parsed.password !== '') parsed.password = '***';
  parsed.search = '';
  parsed.hash = '';
  return parsed.toString();
}

/**
 * The URL to hand ioredis and the credentials beside it. ioredis takes the URL's user name and
 * password over its options (the URL comes first, its options only fill what it left unset), and a
 * URL with a user name alone sets the password to "": a password given beside the URL was never
 * sent. With one, the URL goes without its credentials and both go as options.
 */
function credentials(
  url: string,
  password: string | undefined,
): { url: string; auth: { username?: string; password: string } | undefined; username: string } {
  const parsed = new URL(url);
  const username = decodeURIComponent(parsed.username);
  if (password === undefined) return { url, auth: undefined, username };
  if (password === '')
    throw new TypeError('redis: the option redis.password is empty (leave it out for none)');
  if (parsed.password !== '')
    throw new TypeError(
      'redis: the URL has a password and the option redis.password gives one too: give one (the URL may keep the user name)',
    );
  parsed.username = '';
  return { url: parsed.toString(), auth: { ...(username ? { username } : {}), password }, username };
}

export async function connectRedis(options: RedisConnectOptions, log: Log): Promise<RedisConnections> {
  const { db, host, port, where, secure } = parseRedisUrl(options.url);
  if (!secure && options.tls)
    throw new TypeError('redis: a CA, client certificate or key for Redis needs a rediss:// URL');
  const { url, auth, username } = credentials(options.url, options.password);

  const common: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    connectTimeout: ATTEMPT_TIMEOUT_MS,
    // disconnect() ends the socket and, by default, destroys it only 2 s later if Redis has not
    // closed its side: a hung Redis never does, and the calls still waiting on the connection
    // would wait that long. This module disconnects for good (close, a failed start), or a
    // connection whose QUIT was answered: drop the socket at once.
    disconnectTimeout: 0,
    // TLS as the scheme says, set here: ioredis looks for "rediss://" case-sensitively, so
    // REDISS://host spoke plain text to Redis, its password included. Verification stays on: no
    // option here turns it off (rejectUnauthorized is node's default, true).
    ...(secure ? { tls: { ...options.tls } } : {}),
    ...auth,
  };
  const cmd = new Redis(url, {
    ...common,
    commandTimeout: options.commandTimeoutMs,
    connectionName: connectionName('cmd'),
  });
  const reader = new Redis(url, { ...common, connectionName: connectionName('reader') });
  const sub = new Redis(url, {
    ...common,
    // SUBSCRIBEs made while the connection is away queue until it is back; those it had are made
    // again by the bus (bus.ts), not by ioredis, whose own have no rejection handler: a stop
    // before their answer rejected them unhandled, which ends a Node process.
    autoResubscribe: false,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectionName: connectionName('sub'),
  });
  const clients = [cmd, reader, sub];
  for (const c of clients) c.on('error', () => {}); // reported through the health below

  // Wait (ioredis retrying meanwhile) until every connection is ready, so nodes may start before
  // Redis does; give up after the timeout with the last connection error. Credentials Redis refuses
  // are refused at once: no retry changes them (they were "could not reach Redis" 10 s later). So
  // is a TLS handshake that failed (a certificate not trusted or for another host, a client
  // certificate Redis requires, a port that does not speak TLS): it fails the same way each time.
  // A plain Redis says nothing to a TLS handshake (see plainRedisAnswer): when one gets no answer,
  // a plain-text PING tells that port apart from one that is slow or unreachable.
  let lastError = 'no answer';
  const probes = new Set<Socket>();
  let plainProbe: Promise<void> | undefined;
  let refuseStart: (err: Error) => void = () => {};
  const credentialsRefused = new Promise<never>((_, reject) => {
    refuseStart = reject;
  });
  const noteError = (err: Error) => {
    lastError = err.message || err.name;
    if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(lastError)) refuseStart(err);
    if (secure) {
      const tlsFailure = tlsProblem(err);
      if (tlsFailure)
        refuseStart(
          new RedisTlsError((names) => `redis: TLS with Redis at ${where} failed: ${tlsFailure(names)}`),
        );
      if ((err as NodeJS.ErrnoException).code === 'ETIMEDOUT' && plainProbe === undefined)
        plainProbe = plainRedisAnswer(host, port, probes).then((answer) => {
          plainProbe = undefined;
          if (answer !== null)
            refuseStart(
              new RedisTlsError(
                () =>
                  `redis: TLS with Redis at ${where} failed: the port does not speak TLS (no answer to the ` +
                  `handshake within ${ATTEMPT_TIMEOUT_MS} ms; a plain-text PING there is answered ` +
                  `${JSON.stringify(answer)}): use redis:// for it, or Redis's tls-port`,
              ),
            );
        });
    }
  };
  for (const c of clients) c.on('error', noteError);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Error('timeout');
  try {
    await Promise.race([
      credentialsRefused,
      Promise.all(
        clients.map((c) => {
          const ready = new Promise<void>((resolve) => c.once('ready', () => resolve()));
          c.connect().catch(() => {});
          return ready;
        }),
      ),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(timedOut), options.connectTimeoutMs);
      }),
    ]);
  } catch (err) {
    for (const c of clients) c.disconnect();
    if (err instanceof RedisTlsError) throw err;
    if (err !== timedOut) {
      const reason = (err as Error).message;
      throw new RedisCredentialsError((names) =>
        auth
          ? `redis: Redis at ${where} refuses the password of ${names.password}${username ? ` for user ${JSON.stringify(username)}` : ''} (${reason})`
          : `redis: Redis at ${where} refuses the URL's credentials (${reason}); ${names.remedy}`,
      );
    }
    throw new Error(
      `redis: could not reach Redis at ${where} within ${options.connectTimeoutMs} ms (${lastError})`,
    );
  } finally {
    clearTimeout(timer);
    for (const c of clients) c.off('error', noteError);
    for (const socket of probes) socket.destroy();
  }
  // ioredis selects the URL's database as it connects, and a refusal (past the server's
  // `databases`) only reaches its 'error' listeners: the connection is then ready on database 0, so
  // the node would write into another deployment's keys. Ask again, and refuse to start on a no.
  if (db !== 0) {
    try {
      await cmd.select(db);
    } catch (err) {
      for (const c of clients) c.disconnect();
      throw new Error(
        `redis: Redis at ${where} refuses database ${db} of the URL (${(err as Error).message})`,
      );
    }
  }

  try {
    const [, aof] = (await cmd.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await cmd.config('GET', 'appendfsync')) as string[];
    if (aof !== 'yes' || fsync !== 'always')
      log(
        `chat: warning: Redis at ${where} has appendonly=${aof} appendfsync=${fsync}; acknowledged messages ` +
          'survive a Redis crash only with appendonly yes and appendfsync always',
        'warning',
      );
  } catch {
    // CONFIG may be disabled (managed Redis): nothing to check.
  }

  let available = true;
  let closing = false;
  /** Why Redis refuses commands (the probe writes until one goes through), or null. */
  let refusal: string | null = null;
  const probeKey = options.probeKey ?? 'chat:probe';
  const listeners: ((available: boolean) => void)[] = [];
  const setAvailable = (value: boolean, why?: string) => {
    if (value === available || closing) return;
    available = value;
    log(
      value
        ? `chat: Redis at ${where} is back`
        : why !== undefined
          ? `chat: Redis at ${where} refuses commands (${why}); refusing writes until it accepts them`
          : `chat: lost Redis at ${where}; refusing writes until it returns`,
      value ? 'info' : 'error',
    );
    for (const listener of listeners) listener(value);
  };
  cmd.on('close', () => setAvailable(false));
  // Back, unless Redis refused commands: then the probe's write decides.
  cmd.on('ready', () => {
    if (refusal === null) setAvailable(true);
  });
  // A Redis that hangs (stopped process, network partition) keeps the TCP connection open: probe
  // it with PING every second; no answer within the probe timeout means unavailable, and the store
  // then refuses at once instead of making every request wait for its command timeout.
  const probeTimeout = Math.min(3000, options.commandTimeoutMs);
  let probing = false;
  const probe = setInterval(() => {
    if (probing || closing || cmd.status !== 'ready') return;
    probing = true;
    let timer: NodeJS.Timeout | undefined;
    // While Redis refuses commands it still answers PING: write, as the refused commands did.
    const writing = refusal !== null;
    Promise.race([
      (writing ? cmd.set(probeKey, '1', 'PX', 1000) : cmd.ping()).then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), probeTimeout);
      }),
    ]).then((ok) => {
      clearTimeout(timer);
      probing = false;
      if (cmd.status !== 'ready') return;
      if (writing && ok) refusal = null;
      // A PING answered while Redis refuses (the refusal came during the ping) changes nothing.
      if (!ok || refusal === null) setAvailable(ok);
    });
  }, 1000);
  probe.unref();

  return {
    cmd,
    reader,
    sub,
    where,
    get available() {
      return available;
    },
    onChange(listener) {
      listeners.push(listener);
    },
    refused(reason) {
      if (closing) return;
      refusal = reason.split('.')[0] || reason;
      setAvailable(false, refusal);
    },
    async close() {
      closing = true;
      clearInterval(probe);
      // The reader and the subscriber have nothing to finish: a blocked XREAD is abandoned (its
      // positions live in this process) and Redis drops the subscriptions with the connection.
      reader.disconnect();
      sub.disconnect();
      // The command connection QUITs, so that what was already sent on it (the last presence
      // removals and notices, the reader's wake stream's DEL) is answered before the node lets go:
      // a healthy Redis answers at once. A Redis known to be unreachable gets no QUIT, and one that
      // hung without the probe noticing yet gets as long as the probe gives a PING: past that it is
      // hung. Either way the connection is then dropped, and calls still waiting on it fail as
      // unavailable instead of waiting for their command timeout.
      if (available && cmd.status === 'ready') {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          cmd.quit().catch(() => {}),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, probeTimeout);
          }),
        ]);
        clearTimeout(timer);
      }
      cmd.disconnect();
    },
  };
}

/** What a TLS failure's remedy calls the settings that give Redis's CA and a client certificate. */
export interface RedisTlsSettingNames {
  ca: string;
  clientCertificate: string;
}

/** startChatServer's names: its message from code names these. */
const OPTION_NAMES: RedisTlsSettingNames = {
  ca: 'the option redis.tls.ca',
  clientCertificate: 'the options redis.tls.cert and redis.tls.key',
};

/**
 * A TLS handshake with Redis failed in a way no retry changes: the start is refused at once. Its
 * message names startChatServer's options; naming() gives it with another caller's names for the
 * same settings (main.ts: its flags and variables).
 */
export class RedisTlsError extends Error {
  readonly #describe: (names: RedisTlsSettingNames) => string;
  constructor(describe: (names: RedisTlsSettingNames) => string) {
    super(describe(OPTION_NAMES));
    this.name = 'RedisTlsError';
    this.#describe = describe;
  }

  naming(names: RedisTlsSettingNames): string {
    return this.#describe(names);
  }
}

/** Node's codes for a server certificate it does not accept (tls.connect's verify errors). */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
]);

/**
 * What went wrong in a TLS handshake with Redis, with what the operator can do about it (naming
 * the settings as the caller calls them), or null for any other error (Redis not there yet, a
 * reset: those are retried until the timeout).
 */
function tlsProblem(err: Error): ((names: RedisTlsSettingNames) => string) | null {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  // OpenSSL's text, without its "<id>:error:<code>:SSL routines:<function>:" and source location.
  const reason = err.message
    .replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:/, '')
    .replace(/:\.\.?\/.*$/s, '');
  if (UNTRUSTED.has(code))
    return (names) =>
      `its certificate is not trusted (${reason}): give the CA that signed it with ${names.ca}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return () =>
      `its certificate is for another host (${reason}): use a hostname the certificate names in the URL`;
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || /alert certificate required/.test(reason))
    return (names) =>
      `Redis requires a client certificate (${reason}): give one with ${names.clientCertificate}`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return () => `the port does not speak TLS (${reason}): use redis:// for it, or Redis's tls-port`;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return () => reason;
  return null;
}

/**
 * What a plain-text Redis at host:port answers a PING (its first line: +PONG, or an error such as
 * -NOAUTH or -DENIED), or null: no answer within the attempt timeout, none at all, or not one of
 * Redis's. Asked after a TLS handshake there got no answer: a plain Redis reads a ClientHello as
 * an inline command whose line end it looks for only up to the record's first NUL byte, so it
 * waits, silently, for more. A TLS port takes the PING for a bad record and closes; the PING
 * carries nothing but itself (no password). `open` holds the socket while it is open.
 */
function plainRedisAnswer(host: string, port: number, open: Set<Socket>): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    open.add(socket);
    let text = '';
    const done = (answer: string | null) => {
      open.delete(socket);
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(ATTEMPT_TIMEOUT_MS, () => done(null));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end === -1 && text.length < 256) return;
      const line = text.slice(0, end === -1 ? 256 : end);
      done(/^[+-][\x20-\x7e]*$/.test(line) ? line.slice(0, 100) : null);
    });
    socket.on('error', () => done(null));
    socket.once('close', () => done(null));
  });
}

/**
 * The URL as written, its password (if any) and the values of its query (?password=...) replaced:
 * for messages that quote it.
 */
function withoutPassword(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@')
    .replace(/([?&][^=&#]*=)[^&#]*/g, '$1***');
}

/** What a refusal of the credentials calls the setting that gave the password, and the remedy. */
export interface RedisPasswordNames {
  /** The setting the password came from, when not from the URL. */
  password: string;
  /** How to give a password, when none was given or the URL's was refused. */
  remedy: string;
}

const PASSWORD_NAMES: RedisPasswordNames = {
  password: 'the option redis.password',
  remedy: 'pass redis://[user]:password@host:port, or the option redis.password',
};

/**
 * Redis refused the credentials (WRONGPASS, NOAUTH, NOPERM): the start is refused at once. Its
 * message names startChatServer's option; naming() gives it in another caller's words (main.ts:
 * the flag or variable the password came from). Neither quotes the password.
 */
export class RedisCredentialsError extends Error {
  readonly #describe: (names: RedisPasswordNames) => string;
  constructor(describe: (names: RedisPasswordNames) => string) {
    super(describe(PASSWORD_NAMES));
    this.name = 'RedisCredentialsError';
    this.#describe = describe;
  }

  naming(names: RedisPasswordNames): string {
    return this.#describe(names);
  }
}
