#!/usr/bin/env node
/**
 * `npm start`: the chat server. Flags win over environment variables, which win over defaults; an
 * empty variable is unset.
 *
 *   --port <n>            CHAT_PORT             8080
 *   --host <addr>         CHAT_HOST             127.0.0.1
 *   --db <path>           CHAT_DB               ./data/chat.db (folder created if missing; a relative
 *                                               path is taken from where `npm start` was typed:
 *                                               npm's INIT_CWD, else the working directory).
 *                                               :memory: keeps it in memory, uploads too (at most
 *                                               256 MiB of them): nothing is written, and it all
 *                                               goes with the process
 *   --allowed-origin <o>  CHAT_ALLOWED_ORIGINS  none besides the page's own (comma-separated, spaces
 *                                               around an entry dropped; the flag may repeat)
 *   --trust-proxy <list>  CHAT_TRUST_PROXY      none: addresses and subnets of the reverse proxies
 *                                               in front (comma-separated; the flag may repeat),
 *                                               e.g. 127.0.0.1,::1 or 10.0.0.0/8. A request from
 *                                               one is limited per address as the client that
 *                                               X-Forwarded-For names (README.md, "Behind a
 *                                               reverse proxy"); without, the header is ignored
 *   --secure-cookies      CHAT_SECURE_COOKIES=1 mark the cookie Secure (behind an https proxy)
 *   --cert <file>         CHAT_TLS_CERT         with --key: serve https:// and wss:// ourselves,
 *   --key <file>          CHAT_TLS_KEY          over HTTP/2 and HTTP/1.1 on one port (the page's
 *                                               WebSocket then rides its HTTP/2 connection,
 *                                               RFC 8441); cookies are then Secure
 *   --drain <ms>          CHAT_DRAIN_MS         0: on SIGTERM, SIGINT or SIGHUP, serve on this long
 *                                               with GET /healthz answering 503 "stopping" before
 *                                               the listener closes (0 to 20000)
 *
 * Several nodes (README-redis.md):
 *   --redis <url>         CHAT_REDIS_URL        none: SQLite. redis://host:port shares Redis with
 *                                               other nodes (--db is then ignored); the path is the
 *                                               database (/3), a query is refused
 *   --redis-password-file <file>                Redis's password, from a file (its content, one
 *                         CHAT_REDIS_PASSWORD_FILE  trailing newline dropped: Docker's and Kubernetes'
 *                                               secrets), or CHAT_REDIS_PASSWORD (no flag: a flag
 *                                               would show it in ps): kept out of the command line.
 *                                               One source: with the URL's own password, or both
 *                                               of these, the start is refused (exit 2). The URL
 *                                               may keep its user name (an ACL user)
 *   --redis-ca <file>     CHAT_REDIS_CA         rediss:// only: the CA (PEM) that signed Redis's
 *                                               certificate, the only one then trusted for Redis
 *   --redis-cert <file>   CHAT_REDIS_CERT       with --redis-key, rediss:// only: the client
 *   --redis-key <file>    CHAT_REDIS_KEY        certificate and key a Redis with
 *                                               tls-auth-clients yes requires
 *   --presence-ttl <ms>   CHAT_PRESENCE_TTL_MS  20000: a dead node's users leave online lists
 *                                               within this plus a third of it (300 to 2^31 - 1)
 *   --stats               CHAT_STATS=1          serve GET /_stats (fan-out counters)
 *   --admin <names>       CHAT_ADMINS           none: accounts that moderate every public room,
 *                                               general included (comma-separated; the flag may
 *                                               repeat); nodes sharing Redis should share it
 *
 * An empty value for a flag is refused (exit 2), as a shell variable that was not set makes one
 * (`--db "$DB"`), except for the lists, --allowed-origin, --trust-proxy and --admin, where it
 * says "none" over the variable.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { USER_NAME } from '../shared/protocol.js';
import { parseRedisUrl, RedisUrlError, shownRedisUrl } from './backends/redis/connection.js';
import { checkPresenceTtl } from './backends/redis/presence.js';
import {
  DatabaseInUseError,
  PortInUseError,
  RedisCredentialsError,
  RedisTlsError,
  startChatServer,
} from './chat-server.js';
import { parseTrustList, TrustListError } from './http/client-address.js';

const USAGE = `usage: riptide-chat [--port 8080] [--host 127.0.0.1] [--db ./data/chat.db]
                    [--allowed-origin https://example.com ...] [--trust-proxy 127.0.0.1,::1 ...]
                    [--secure-cookies]
                    [--cert cert.pem --key key.pem] [--drain 0]
                    [--redis redis://127.0.0.1:6379 [--presence-ttl 20000]] [--stats]
                    [--redis-password-file /run/secrets/redis-password]
                    [--redis-ca ca.pem] [--redis-cert client.pem --redis-key client-key.pem]
                    [--admin alice,bob ...]`;

function fail(message: string): never {
  console.error(`riptide-chat: ${message}\n${USAGE}`);
  process.exit(2);
}

let values: ReturnType<typeof parse>['values'];
function parse() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      db: { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true },
      'trust-proxy': { type: 'string', multiple: true },
      'secure-cookies': { type: 'boolean' },
      cert: { type: 'string' },
      key: { type: 'string' },
      drain: { type: 'string' },
      redis: { type: 'string' },
      'redis-password-file': { type: 'string' },
      'redis-ca': { type: 'string' },
      'redis-cert': { type: 'string' },
      'redis-key': { type: 'string' },
      'presence-ttl': { type: 'string' },
      stats: { type: 'boolean' },
      admin: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  values = parse().values;
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

/**
 * How long a stop on SIGTERM, SIGINT or SIGHUP may take before the process exits anyway (code 1,
 * one line on stderr), ms, counted from the end of the drain (below). close() is bounded by itself
 * (sockets get 2 s to close, a hung Redis is let go within seconds: README-redis.md); this is the
 * backstop for whatever else could keep the process alive, below the usual 30 s a supervisor
 * gives before its SIGKILL (with a drain, the supervisor's wait must cover it too: README.md).
 */
const STOP_DEADLINE_MS = 20_000;

/**
 * What each flag taking a value takes, said when it is given empty: `--db ''` (as `--db "$DB"`
 * writes one with DB unset) opened the working directory as the database and failed there (exit
 * 1), `--cert ''` was "cannot read --cert file "": EISDIR", `--host ''` listened on every
 * interface. The lists are left out: an empty --allowed-origin or --trust-proxy is "none", over
 * the variable (an empty variable is unset, below).
 */
const EMPTY_VALUE: Record<string, string> = {
  port: 'a port is 0 to 65535',
  host: 'an address or host name (0.0.0.0 or :: for every interface)',
  db: "the database file's path",
  cert: "the certificate's file (PEM)",
  key: "the private key's file (PEM)",
  drain: `milliseconds, 0 to ${STOP_DEADLINE_MS}`,
  redis: 'a URL: redis://host:port or rediss://host:port',
  'redis-password-file': "the file holding Redis's password",
  'redis-ca': "the CA's file (PEM)",
  'redis-cert': "the client certificate's file (PEM)",
  'redis-key': "the client certificate's private key file (PEM)",
  'presence-ttl': `milliseconds, 300 to ${2 ** 31 - 1}`,
};
for (const [flag, what] of Object.entries(EMPTY_VALUE))
  if (values[flag as keyof typeof values] === '') fail(`invalid --${flag} "": ${what}`);

/**
 * The environment, an empty CHAT_ variable left out: empty is unset, for every one alike (as it was
 * already for CHAT_REDIS_URL and the lists and switches). CHAT_HOST= listened on every interface
 * (node's listen takes '' as "any"), CHAT_TLS_CERT= was "cannot read --cert file "": EISDIR", and
 * CHAT_PORT= or CHAT_DRAIN_MS= refused the start, where a supervisor's unit or a compose file
 * writes an empty value for one it does not set.
 */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name, value]) => !(name.startsWith('CHAT_') && value === '')),
);
/** What set a value, for its error: the flag, else the environment variable. */
const source = (flag: keyof typeof values, variable: string) =>
  values[flag] !== undefined ? `--${flag}` : variable;
const portText = values.port ?? env.CHAT_PORT ?? '8080';
const port = Number(portText);
if (!/^\d+$/.test(portText) || port > 65535)
  fail(`invalid ${source('port', 'CHAT_PORT')} ${JSON.stringify(portText)}: a port is 0 to 65535`);
// Comma lists in the variable and in each flag alike, as for --trust-proxy: spaces around an entry
// are dropped ("https://a.example, https://b.example" was refused for its space), an empty entry
// (two commas in a row, one at an end) is refused, and a list that is all blank is none.
const originSource = source('allowed-origin', 'CHAT_ALLOWED_ORIGINS');
const origins: string[] = [];
for (const list of values['allowed-origin'] ?? [env.CHAT_ALLOWED_ORIGINS ?? '']) {
  if (list.trim() === '') continue;
  for (const entry of list.split(',')) {
    const origin = entry.trim();
    if (origin === '')
      fail(
        `invalid ${originSource}: empty entry in ${JSON.stringify(list)} (two commas in a row, or one at an end)`,
      );
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      fail(`invalid origin ${JSON.stringify(origin)} in ${originSource}`);
    }
    if (parsed.origin !== origin)
      fail(`${originSource}: an origin is scheme://host[:port], got ${JSON.stringify(origin)}`);
    origins.push(origin);
  }
}
// The server admins, as the origins: comma lists in the variable and each flag, spaces around an
// entry dropped, an empty entry refused, each a user name (a name no account has yet is allowed:
// the server logs it at the start).
const adminSource = source('admin', 'CHAT_ADMINS');
const admins: string[] = [];
for (const list of values.admin ?? [env.CHAT_ADMINS ?? '']) {
  if (list.trim() === '') continue;
  for (const entry of list.split(',')) {
    const name = entry.trim();
    if (name === '')
      fail(
        `invalid ${adminSource}: empty entry in ${JSON.stringify(list)} (two commas in a row, or one at an end)`,
      );
    if (!USER_NAME.test(name))
      fail(`invalid ${adminSource}: ${JSON.stringify(name)} is not a user name (1-24 of A-Z a-z 0-9 _ -)`);
    admins.push(name);
  }
}
const trustProxy = values['trust-proxy'] ?? (env.CHAT_TRUST_PROXY ? [env.CHAT_TRUST_PROXY] : []);
try {
  parseTrustList(trustProxy);
} catch (err) {
  if (!(err instanceof TrustListError)) throw err;
  fail(`invalid ${values['trust-proxy'] ? '--trust-proxy' : 'CHAT_TRUST_PROXY'}: ${err.message}`);
}
/**
 * The drain: how long a stop keeps serving, GET /healthz answering 503 "stopping", before the
 * listener closes (chat-server.ts, drainMs). 0 by default, so that Ctrl-C and a supervisor's
 * restart stop at once; at most the stop deadline, so a stop ends within twice that.
 */
const drainText = values.drain ?? env.CHAT_DRAIN_MS ?? '0';
const drainMs = Number(drainText);
if (!/^\d+$/.test(drainText) || drainMs > STOP_DEADLINE_MS)
  fail(
    `invalid ${source('drain', 'CHAT_DRAIN_MS')} ${JSON.stringify(drainText)}: milliseconds, 0 to ${STOP_DEADLINE_MS}`,
  );
/**
 * `:memory:` (startChatServer's and SQLite's name for a database held in memory) is one: it was
 * resolved as a path like any other, so `--db :memory:` made a file named `:memory:` (and its lock)
 * in the working directory and kept the history there. Uploads live in the same database (a BLOB
 * table, backends/sqlite/attachments.ts), so they need no folder: they are held in memory too,
 * capped as Redis's are (MEMORY_ATTACHMENT_BYTES) since they take the process's memory, not disk.
 * A file of that name is still `--db ./:memory:`.
 */
const MEMORY = ':memory:';
/** The bytes of attachments a database in memory holds at most (507 storage_full beyond). */
const MEMORY_ATTACHMENT_BYTES = 256 * 1024 * 1024;
/** The start line's words for it: nothing is kept past the process. */
const IN_MEMORY = 'database in memory: accounts, history and uploads go with the process';
const dbSetting = values.db ?? env.CHAT_DB ?? './data/chat.db';
const inMemory = dbSetting === MEMORY;
// `npm start` at the repository root runs this in packages/chat: resolve from where the user was.
const dbPath = inMemory ? MEMORY : resolve(env.INIT_CWD ?? process.cwd(), dbSetting);

const certFile = values.cert ?? env.CHAT_TLS_CERT;
const keyFile = values.key ?? env.CHAT_TLS_KEY;
// Naming the one that was set, the flag or the variable ("--cert and --key go together" named the
// flags to an operator who had set CHAT_TLS_CERT), and where its partner goes.
if (certFile !== undefined && keyFile === undefined)
  fail(`${source('cert', 'CHAT_TLS_CERT')} needs its private key too: --key or CHAT_TLS_KEY`);
if (keyFile !== undefined && certFile === undefined)
  fail(`${source('key', 'CHAT_TLS_KEY')} needs its certificate too: --cert or CHAT_TLS_CERT`);
let tls: { cert: Buffer; key: Buffer } | undefined;
if (certFile !== undefined && keyFile !== undefined) {
  const read = (flag: 'cert' | 'key', file: string) => {
    try {
      return readFileSync(resolve(env.INIT_CWD ?? process.cwd(), file));
    } catch (err) {
      fail(
        `cannot read ${source(flag, flag === 'cert' ? 'CHAT_TLS_CERT' : 'CHAT_TLS_KEY')} file ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code}`,
      );
    }
  };
  tls = { cert: read('cert', certFile), key: read('key', keyFile) };
  // What OpenSSL makes of them, now, naming the file: at listen it is one line with neither.
  const unusable = (options: Parameters<typeof createSecureContext>[0]) => {
    try {
      createSecureContext(options);
      return undefined;
    } catch (err) {
      return (err as Error).message.replace(/^error:[0-9A-F]+:/, '');
    }
  };
  const certError = unusable({ cert: tls.cert });
  const certSource = source('cert', 'CHAT_TLS_CERT');
  const keySource = source('key', 'CHAT_TLS_KEY');
  if (certError) fail(`cannot use ${certSource} file ${JSON.stringify(certFile)}: ${certError}`);
  const keyError = unusable({ key: tls.key });
  if (keyError) fail(`cannot use ${keySource} file ${JSON.stringify(keyFile)}: ${keyError}`);
  const pairError = unusable(tls);
  if (pairError)
    fail(
      `${keySource} ${JSON.stringify(keyFile)} does not go with ${certSource} ${JSON.stringify(certFile)}: ${pairError}`,
    );
}

const redisUrl = values.redis ?? env.CHAT_REDIS_URL;
const urlSource = source('redis', 'CHAT_REDIS_URL');
// The URL's form, now: a usage error naming the setting (with a password or a query in it, the
// message quotes neither), not exit 1 from the start.
if (redisUrl !== undefined) {
  try {
    parseRedisUrl(redisUrl);
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    fail(`invalid ${urlSource}: ${err.message.replace(/^redis: /, '')}`);
  }
}
/**
 * Redis's password kept out of the command line, where the URL's shows in `ps`, shell history and
 * every process listing of the host: a file (--redis-password-file or CHAT_REDIS_PASSWORD_FILE, the
 * flag winning over its variable as everywhere; a Docker or Kubernetes secret: its content, one
 * trailing newline dropped) or CHAT_REDIS_PASSWORD (no flag: it would be in argv again). One
 * source only: a password in the URL and one of these, or both of these, is a usage error naming
 * both, rather than a rule of which wins that an operator would have to know. The URL may keep its
 * user name (an ACL user): the password goes with it. Never printed: the messages name the setting
 * and the file.
 */
const passwordFile = values['redis-password-file'] ?? env.CHAT_REDIS_PASSWORD_FILE;
const passwordFileSource = source('redis-password-file', 'CHAT_REDIS_PASSWORD_FILE');
let redisPassword: string | undefined;
let passwordSource: string | undefined;
if (passwordFile !== undefined && env.CHAT_REDIS_PASSWORD !== undefined)
  fail(`${passwordFileSource} and CHAT_REDIS_PASSWORD both give Redis's password: give one`);
if (passwordFile !== undefined || env.CHAT_REDIS_PASSWORD !== undefined) {
  const what = passwordFile !== undefined ? passwordFileSource : 'CHAT_REDIS_PASSWORD';
  if (redisUrl === undefined) fail(`${what} needs --redis`);
  if (new URL(redisUrl).password !== '')
    fail(`${urlSource} has a password and ${what} gives one too: give one (the URL may keep the user name)`);
  if (passwordFile !== undefined) {
    let content: string;
    try {
      content = readFileSync(resolve(env.INIT_CWD ?? process.cwd(), passwordFile), 'utf8');
    } catch (err) {
      fail(
        `cannot read ${what} file ${JSON.stringify(passwordFile)}: ${(err as NodeJS.ErrnoException).code}`,
      );
    }
    // One trailing newline, as `echo` and editors leave one: the rest is the password.
    redisPassword = content.replace(/\r?\n$/, '');
    if (redisPassword === '') fail(`${what} file ${JSON.stringify(passwordFile)} is empty`);
    passwordSource = `${what} ${JSON.stringify(passwordFile)}`;
  } else {
    redisPassword = env.CHAT_REDIS_PASSWORD;
    passwordSource = what;
  }
}
// Redis over TLS: its CA and a client certificate, each read now so that a wrong file is refused
// in one line naming it, before Redis is dialled.
const redisTls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
for (const [name, variable] of [
  ['ca', 'CHAT_REDIS_CA'],
  ['cert', 'CHAT_REDIS_CERT'],
  ['key', 'CHAT_REDIS_KEY'],
] as const) {
  const flag = `redis-${name}` as const;
  const file = values[flag] ?? env[variable];
  if (file === undefined) continue;
  const what = source(flag, variable);
  if (!redisUrl || !/^rediss:/i.test(redisUrl))
    fail(`${what} needs a rediss:// URL in ${redisUrl ? urlSource : '--redis'}`);
  let content: Buffer;
  try {
    content = readFileSync(resolve(env.INIT_CWD ?? process.cwd(), file));
  } catch (err) {
    fail(`cannot read ${what} file ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    createSecureContext(name === 'ca' ? { ca: content } : { [name]: content });
  } catch (err) {
    fail(
      `cannot use ${what} file ${JSON.stringify(file)}: ${(err as Error).message.replace(/^error:[0-9A-F]+:/, '')}`,
    );
  }
  redisTls[name] = content;
}
const redisCertSource = source('redis-cert', 'CHAT_REDIS_CERT');
const redisKeySource = source('redis-key', 'CHAT_REDIS_KEY');
if (redisTls.cert !== undefined && redisTls.key === undefined)
  fail(`${redisCertSource} needs its private key too: --redis-key or CHAT_REDIS_KEY`);
if (redisTls.key !== undefined && redisTls.cert === undefined)
  fail(`${redisKeySource} needs its certificate too: --redis-cert or CHAT_REDIS_CERT`);
if (redisTls.cert && redisTls.key) {
  try {
    createSecureContext({ cert: redisTls.cert, key: redisTls.key });
  } catch (err) {
    fail(
      `${redisKeySource} does not go with ${redisCertSource}: ${(err as Error).message.replace(/^error:[0-9A-F]+:/, '')}`,
    );
  }
}
const ttlText = values['presence-ttl'] ?? env.CHAT_PRESENCE_TTL_MS;
if (ttlText !== undefined) {
  const ttlSource = source('presence-ttl', 'CHAT_PRESENCE_TTL_MS');
  let valid = /^\d+$/.test(ttlText);
  try {
    if (valid) checkPresenceTtl(Number(ttlText));
  } catch {
    valid = false;
  }
  if (!valid) fail(`invalid ${ttlSource} ${JSON.stringify(ttlText)}: milliseconds, 300 to ${2 ** 31 - 1}`);
  if (!redisUrl) fail(`${ttlSource} needs --redis`);
}

/**
 * A switch from the environment: unset, empty or 0 is off, 1 is on; anything else is refused, as
 * CHAT_SECURE_COOKIES=true left the cookie without Secure, silently.
 */
const envSwitch = (variable: string, text: string | undefined): boolean => {
  if (text === undefined || text === '' || text === '0') return false;
  if (text === '1') return true;
  fail(`invalid ${variable} ${JSON.stringify(text)}: 1 for on, 0 or unset for off`);
};
const stats = values.stats || envSwitch('CHAT_STATS', env.CHAT_STATS);
const secureCookies = values['secure-cookies'] || envSwitch('CHAT_SECURE_COOKIES', env.CHAT_SECURE_COOKIES);
// node's listen takes an empty host as every interface: an empty --host is refused above, an empty
// CHAT_HOST is unset.
const host = values.host ?? env.CHAT_HOST ?? '127.0.0.1';
const server = await startChatServer({
  ...(redisUrl
    ? {
        redis: {
          url: redisUrl,
          ...(redisPassword !== undefined ? { password: redisPassword } : {}),
          ...(ttlText !== undefined ? { presenceTtlMs: Number(ttlText) } : {}),
          ...(Object.keys(redisTls).length > 0 ? { tls: redisTls } : {}),
        },
      }
    : {}),
  statsEndpoint: stats,
  drainMs,
  port,
  host,
  dbPath,
  ...(inMemory && !redisUrl ? { maxAttachmentBytesTotal: MEMORY_ATTACHMENT_BYTES } : {}),
  allowedOrigins: origins,
  trustProxy,
  ...(admins.length > 0 ? { admins } : {}),
  ...(secureCookies ? { secureCookies: true } : {}),
  ...(tls ? { tls } : {}),
}).catch((err: Error) => {
  // A runtime failure, not a usage error: one line, exit 1.
  console.error(`riptide-chat: ${startError(err)}`);
  process.exit(1);
});

let stopping = false;
const stop = (signal: string) => {
  // A repeated signal does not cut the stop short: Ctrl-C under `npm start` can deliver SIGINT
  // twice (the terminal's, and npm forwarding its own).
  if (stopping) return;
  stopping = true;
  // The stop and its end, each a line beside the start's: a supervisor's log then shows a restart
  // that was asked for, and that it finished (not the 20 s deadline below, nor a SIGKILL).
  // With a drain, the count comes at its end (chat-server.ts logs "chat: drained ...").
  const open = server.hub.connectionCount;
  console.log(
    drainMs > 0
      ? `riptide chat stopping on ${signal}: draining for ${drainMs} ms (GET /healthz answers 503 "stopping", the rest is served), then closing`
      : `riptide chat stopping on ${signal}: closing ${open} connection${open === 1 ? '' : 's'}`,
  );
  setTimeout(() => {
    console.error(
      `riptide-chat: still stopping ${STOP_DEADLINE_MS / 1000} s after ${signal}${drainMs > 0 ? ` and its ${drainMs} ms drain` : ''}; exiting without finishing`,
    );
    process.exit(1);
  }, drainMs + STOP_DEADLINE_MS).unref();
  server.close().then(
    () => {
      console.log('riptide chat stopped');
      process.exit(0);
    },
    (err: Error) => {
      console.error(`riptide-chat: error while stopping on ${signal}: ${err.message}`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
// The terminal it runs in closed (or an ssh session dropped): node's default would end the process
// at once, the pages getting 1006 and the messages in flight no answer. The same stop instead.
process.on('SIGHUP', () => stop('SIGHUP'));
// Last: whoever waits for this line may signal us at once (the handlers above are in place).
console.log(
  `riptide chat listening on ${server.url} (${redisUrl ? `redis ${shownRedisUrl(redisUrl)}${passwordSource ? `, password from ${passwordSource}` : ''}` : inMemory ? IN_MEMORY : `database ${dbPath}`})`,
);

/** Why the start failed, in one line naming the setting when it is ours to name. */
function startError(err: Error): string {
  if (err instanceof PortInUseError) return `port ${err.port} is in use; pass --port`;
  // Its remedy in this command's words, not startChatServer's option names.
  if (err instanceof DatabaseInUseError) return err.naming('--db (CHAT_DB)');
  if (err instanceof RedisCredentialsError)
    return err.naming({
      password: passwordSource ?? '',
      remedy:
        'give the password in a file with --redis-password-file (CHAT_REDIS_PASSWORD_FILE), in CHAT_REDIS_PASSWORD, or in the URL (redis://[user]:password@host:port)',
    });
  if (err instanceof RedisTlsError)
    return err.naming({
      ca: '--redis-ca (CHAT_REDIS_CA)',
      clientCertificate: '--redis-cert and --redis-key (CHAT_REDIS_CERT, CHAT_REDIS_KEY)',
    });
  const { code, syscall } = err as NodeJS.ErrnoException;
  const hostSource = source('host', 'CHAT_HOST');
  if (syscall === 'getaddrinfo')
    return `cannot listen on ${hostSource} ${JSON.stringify(host)}: no such host name or address (${code})`;
  if (syscall === 'listen' && code === 'EADDRNOTAVAIL')
    return `cannot listen on ${hostSource} ${JSON.stringify(host)}: no interface of this machine has that address (${code})`;
  if (syscall === 'listen' && code === 'EACCES')
    return `cannot listen on port ${port}: permission denied (a port below 1024 needs privileges; pass --port)`;
  return err.message;
}
