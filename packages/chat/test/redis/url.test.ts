/**
 * The Redis URL and presence ttl an operator passes (--redis, --presence-ttl): the database number
 * in the URL's path is the one the node writes to, or the start is refused in one line holding
 * nothing; a query (which ioredis would take as connection options over the node's own) is refused
 * naming its parameters, never their values; a presence ttl no timer can hold is refused before
 * Redis is dialled.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { refusedPort } from '../../../../test-support/ports.js';
import { shownRedisUrl } from '../../src/server/backends/redis/connection.js';
import { startChatServer } from '../../src/server/chat-server.js';
import { post } from '../helpers.js';
import { cleanupAll, RedisServer, runMainUntilListening } from './helpers.js';

afterEach(cleanupAll);

/** The built server (npm start): helpers.ts, runMainUntilListening. */
const runMain = runMainUntilListening;

const start = (url: string, extra: Record<string, unknown> = {}) =>
  startChatServer({ port: 0, redis: { url, ...extra }, sweepIntervalMs: 0, log: () => {} });

/** The names of clients connected to `redis` (the node's are chat-cmd@2, chat-reader@2, chat-sub@2). */
async function clientNames(redis: RedisServer): Promise<string[]> {
  const admin = new Redis(redis.url);
  try {
    const list = (await admin.client('LIST')) as string;
    return [...list.matchAll(/ name=(\S*)/g)].map((m) => m[1]).filter((name) => name.startsWith('chat-'));
  } finally {
    admin.disconnect();
  }
}

describe('the database in the Redis URL', () => {
  it('is the one written to: /3 keeps every key in database 3', async () => {
    const redis = await RedisServer.start();
    const server = await start(`${redis.url}/3`);
    try {
      const origin = server.url.replace(/\/$/, '');
      expect((await post(origin, '/api/register', { name: 'ann', password: 'correct horse' })).status).toBe(
        201,
      );
    } finally {
      await server.close();
    }
    const [db0, db3] = [new Redis(`${redis.url}/0`), new Redis(`${redis.url}/3`)];
    try {
      expect(await db0.dbsize()).toBe(0);
      expect(await db3.keys('chat:*')).not.toEqual([]);
    } finally {
      db0.disconnect();
      db3.disconnect();
    }
  });

  it('a database Redis refuses (past its `databases`) refuses the start in one line, holding no connection', async () => {
    // Regression: ioredis reported the refused SELECT to its 'error' listeners only and carried on
    // in database 0, so the node started and wrote into what may be another deployment's keys.
    const redis = await RedisServer.start(['--databases', '4']);
    await expect(start(`${redis.url}/4`)).rejects.toThrow(
      `redis: Redis at 127.0.0.1:${redis.port} refuses database 4 of the URL (ERR DB index is out of range)`,
    );
    const admin = new Redis(redis.url);
    try {
      expect(await admin.dbsize()).toBe(0);
    } finally {
      admin.disconnect();
    }
    // Disconnected, not left open (the admin's own connection has no chat- name).
    expect(await clientNames(redis)).toEqual([]);
  });

  it('a path that is not a number is refused before connecting, not crashing on SELECT NaN', async () => {
    // Regression: ioredis read "/abc" as database NaN and sent SELECT NaN before every command,
    // a rejection nothing handled: the process died with ioredis's stack trace (vitest reports an
    // unhandled rejection as a failed run). "/1x" was quietly database 1.
    const redis = await RedisServer.start();
    for (const path of ['/abc', '/1x', '/-1']) {
      await expect(start(`${redis.url}${path}`)).rejects.toThrow(
        `redis: the URL's path is a database number (redis://host:port/2), got "${path}"`,
      );
    }
    expect(await clientNames(redis)).toEqual([]);
  });

  it('a URL quoted in an error keeps its password out, in the userinfo or in the query', async () => {
    await expect(start('http://user:hunter2@127.0.0.1:6379')).rejects.toThrow(
      'redis: URL must start with redis:// or rediss://, got "http://user:***@127.0.0.1:6379"',
    );
    await expect(start('http://127.0.0.1:6379/?password=hunter2&db=1')).rejects.toThrow(
      'redis: URL must start with redis:// or rediss://, got "http://127.0.0.1:6379/?password=***&db=***"',
    );
    // A "#" left unencoded in a password makes no URL: the message says how to write one.
    await expect(start('redis://:hun#ter2@127.0.0.1:6379')).rejects.toThrow(
      'redis: not a URL: "redis://:***@127.0.0.1:6379" (in a password, @ : / ? # and % are written percent-encoded',
    );
  });
});

describe('a query in the Redis URL', () => {
  it('is refused before connecting, naming the parameters (never their values), with the way to say each', async () => {
    // Regression: ioredis reads each query parameter as a connection option over the node's own.
    // ?db=99 skipped the check of the database number and the node wrote to database 0; ?tls=true
    // on redis:// spoke TLS to a plain port until the wait ran out; ?password= was printed in the
    // "listening" line; unknown ones were ignored, silently.
    const redis = await RedisServer.start();
    const refused = async (query: string, message: string) => {
      const attempt = start(`${redis.url}/${query}`);
      await expect(attempt).rejects.toThrow(
        `redis: the URL takes no query parameters (the node sets its connection options itself), got ${message}`,
      );
      await expect(attempt).rejects.not.toThrow('s3cret');
    };
    await refused('?db=99', '"db": the database is the path: redis://host:port/3');
    await refused('?tls=true', '"tls": TLS is the scheme: rediss://host:port');
    await refused(
      '?password=s3cret&foo=1',
      '"password", "foo": credentials go before the host: redis://user:password@host:port',
    );
    await refused('?family=6', '"family": both of the host\'s IPv4 and IPv6 addresses are tried');
    await refused('?foo=bar&foo=baz', '"foo"');
    await expect(start(`${redis.url}/#frag`)).rejects.toThrow('redis: the URL takes no #fragment');
    await expect(start('redis://')).rejects.toThrow('redis: the URL names no host: redis://host:port');
    expect(await clientNames(redis)).toEqual([]);
    const admin = new Redis(redis.url);
    try {
      expect(await admin.dbsize()).toBe(0);
    } finally {
      admin.disconnect();
    }
  });

  it('an empty one ("?" alone) is no query: the URL works', async () => {
    const redis = await RedisServer.start();
    const server = await start(`${redis.url}/2?`);
    await server.close();
  });
});

describe('the Redis URL as a node shows it', () => {
  it('hides the password and leaves out an empty query or fragment; the user name stays', () => {
    expect(shownRedisUrl('redis://host:6379/?')).toBe('redis://host:6379/');
    expect(shownRedisUrl('redis://host:6379/2?#')).toBe('redis://host:6379/2');
    expect(shownRedisUrl('redis://host#')).toBe('redis://host');
    expect(shownRedisUrl('rediss://bob:s%40cret@host:6380/1?')).toBe('rediss://bob:***@host:6380/1');
    expect(shownRedisUrl('redis://:s3cret@[::1]:6379')).toBe('redis://:***@[::1]:6379');
    expect(shownRedisUrl('redis://bob@host')).toBe('redis://bob@host');
    // Not a URL (refused before, with this same form in the message): the password still hidden.
    expect(shownRedisUrl('redis://:s3cret@host:port')).toBe('redis://:***@host:port');
  });
});

describe('npm start with --redis', () => {
  it('shows the database and hides the password in its "listening" line; a query is a usage error (exit 2)', async () => {
    const redis = await RedisServer.start();
    const admin = new Redis(redis.url);
    try {
      await admin.config('SET', 'requirepass', 's3cret');
    } finally {
      admin.disconnect();
    }
    const url = redis.url.replace('redis://', 'redis://:s3cret@');
    const ok = await runMain(['--redis', `${url}/3`]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`(redis redis://:***@127.0.0.1:${redis.port}/3)\n`);
    expect(ok.out).not.toContain('s3cret');
    // Regression: an empty query or fragment, which the node takes and ignores, was echoed.
    const bare = await runMain(['--redis', `${url}/3?`]);
    expect(bare.code).toBe(0);
    expect(bare.out).toContain(`(redis redis://:***@127.0.0.1:${redis.port}/3)\n`);
    const hash = await runMain([], { CHAT_REDIS_URL: `${url}?#` });
    expect(hash.code).toBe(0);
    expect(hash.out).toContain(`(redis redis://:***@127.0.0.1:${redis.port})\n`);
    expect(bare.out + hash.out).not.toContain('s3cret');
    const query = await runMain([], { CHAT_REDIS_URL: `${url}/?password=s3cret` });
    expect(query.code).toBe(2);
    expect(query.out).toMatch(
      /^riptide-chat: invalid CHAT_REDIS_URL: the URL takes no query parameters \(the node sets its connection options itself\), got "password": credentials go before the host: redis:\/\/user:password@host:port\nusage: /,
    );
    expect(query.out).not.toContain('s3cret');
  });
});

describe('credentials Redis refuses', () => {
  it('refuse the start at once, saying so, instead of "could not reach Redis" when the wait runs out', async () => {
    // Regression: a wrong or missing password was retried like an unreachable Redis until
    // connectTimeoutMs (10 s by default), then reported as "could not reach Redis".
    const redis = await RedisServer.start();
    const admin = new Redis(redis.url);
    try {
      await admin.config('SET', 'requirepass', 's3cret');
      const url = (auth: string) => redis.url.replace('redis://', `redis://${auth}`);
      // Long enough that only the refusal itself ends these starts in time for the test.
      const patient = { connectTimeoutMs: 30_000 };
      await expect(start(url(''), patient)).rejects.toThrow(
        `redis: Redis at 127.0.0.1:${redis.port} refuses the URL's credentials (NOAUTH `,
      );
      for (const auth of [':wrong@', 'bob:s3cret@']) {
        await expect(start(url(auth), patient)).rejects.toThrow(
          `redis: Redis at 127.0.0.1:${redis.port} refuses the URL's credentials (WRONGPASS `,
        );
      }
      const list = (await admin.client('LIST')) as string;
      expect(list).not.toMatch(/ name=chat-/);
      const server = await start(url(':s3cret@'), patient);
      await server.close();
    } finally {
      admin.disconnect();
    }
  });
});

describe('the presence ttl', () => {
  it('one longer than a Node timer takes (2^31 - 1 ms) is refused before Redis is dialled', async () => {
    // Regression: the ttl was checked only once Redis had answered, and with no upper bound: past
    // 3 × (2^31 - 1) ms the refresh timer (every ttl / 3) overflowed to 1 ms. Nothing listens on
    // the port here: a check made after connecting would report "could not reach Redis" instead.
    const refused = await refusedPort();
    try {
      for (const ttl of [2 ** 31, 2 ** 33, 299]) {
        await expect(
          start(`redis://127.0.0.1:${refused.port}`, { presenceTtlMs: ttl, connectTimeoutMs: 200 }),
        ).rejects.toThrow('RedisPresence: ttlMs must be an integer from 300 to 2147483647');
      }
    } finally {
      await refused.release();
    }
  });
});
