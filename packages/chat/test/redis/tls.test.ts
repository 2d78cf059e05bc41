/**
 * The chat on a Redis that speaks TLS only (rediss://), its certificate signed by a private CA, as
 * an operator of a managed or self-run Redis starts it: the CA given to the chat (--redis-ca) or
 * to all of node (NODE_EXTRA_CA_CERTS), a client certificate when Redis requires one, and a TLS
 * failure refused at once in one line naming Redis and the reason, never retried as "could not
 * reach Redis" until the wait runs out, and never a fallback to no verification.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisTlsError, startChatServer } from '../../src/server/chat-server.js';
import { post } from '../helpers.js';
import { cleanupAll, PATIENCE_MS, RedisServer, runMainUntilListening } from './helpers.js';

afterEach(cleanupAll);

/** The built server (npm start) with this environment (helpers.ts, runMainUntilListening). */
function runMain(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ out: string; code: number | null }> {
  return runMainUntilListening(args, env);
}

/** A TLS redis-server whose clients must give the password hunter2; the URL that gives it. */
async function withPassword(): Promise<{ redis: RedisServer; url: string }> {
  const redis = await RedisServer.startTls();
  const admin = new Redis(redis.url, { tls: { ca: readFileSync(redis.tlsFiles.ca) } });
  try {
    await admin.config('SET', 'requirepass', 'hunter2');
  } finally {
    admin.disconnect();
  }
  return { redis, url: redis.url.replace('rediss://', 'rediss://:hunter2@') };
}

/** In this process, from the sources; the wait for Redis long enough that only a refusal ends it. */
const start = (url: string, tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer }) =>
  startChatServer({
    port: 0,
    redis: { url, connectTimeoutMs: PATIENCE_MS, ...(tls ? { tls } : {}) },
    sweepIntervalMs: 0,
    log: () => {},
  });

/** The node works on Redis: a registration is stored there. */
async function registers(url: string, tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<void> {
  const server = await start(url, tls);
  try {
    const origin = server.url.replace(/\/$/, '');
    expect((await post(origin, '/api/register', { name: 'ann', password: 'correct horse' })).status).toBe(
      201,
    );
  } finally {
    await server.close();
  }
}

describe('Redis over TLS with a private CA', () => {
  it('the CA given to the chat (tls.ca, --redis-ca) is trusted, and the chat works', async () => {
    const redis = await RedisServer.startTls();
    await registers(redis.url, { ca: readFileSync(redis.tlsFiles.ca) });
  });

  it('REDISS:// in capitals is TLS too, not plain text to the TLS port', async () => {
    // Regression: ioredis looks for "rediss://" case-sensitively, while the chat took the scheme in
    // any case: REDISS:// spoke plain text (to a plain Redis, the password in clear).
    // Without the CA, so that only a TLS handshake (not one given options.tls) can say this.
    const redis = await RedisServer.startTls();
    await expect(start(redis.url.replace('rediss://', 'REDISS://'))).rejects.toThrow(
      `redis: TLS with Redis at 127.0.0.1:${redis.port} failed: its certificate is not trusted`,
    );
  });

  it('npm start: --redis-ca, or NODE_EXTRA_CA_CERTS for all of node, lets it start; the password stays out of the log', async () => {
    const { redis, url } = await withPassword();
    const withFlag = await runMain({ CHAT_REDIS_URL: url, CHAT_REDIS_CA: redis.tlsFiles.ca });
    expect(withFlag.out).toContain(`listening on`);
    expect(withFlag.out).toContain(`(redis rediss://:***@127.0.0.1:${redis.port})`);
    expect(withFlag.out).not.toContain('hunter2');
    expect(withFlag.code).toBe(0);
    const withNode = await runMain({ CHAT_REDIS_URL: url, NODE_EXTRA_CA_CERTS: redis.tlsFiles.ca });
    expect(withNode.out).toContain(`(redis rediss://:***@127.0.0.1:${redis.port})`);
    expect(withNode.code).toBe(0);
  });

  it('npm start: a certificate it does not trust is refused in one line naming Redis and why, exit 1, no password', async () => {
    // Regression: the handshake's refusal was retried like an unreachable Redis, and the start
    // failed 10 s later as "could not reach Redis at ... (self-signed certificate in certificate chain)".
    const { redis, url } = await withPassword();
    const { out, code } = await runMain({ CHAT_REDIS_URL: url });
    expect(code).toBe(1);
    expect(out.trim().split('\n')).toEqual([
      `riptide-chat: redis: TLS with Redis at 127.0.0.1:${redis.port} failed: its certificate is not trusted ` +
        '(self-signed certificate in certificate chain): give the CA that signed it with --redis-ca (CHAT_REDIS_CA)',
    ]);
  });

  it('a certificate for another host is refused at once, naming it, though its CA is trusted', async () => {
    const redis = await RedisServer.startTls({ serverNames: 'DNS:redis.internal' });
    await expect(start(redis.url, { ca: readFileSync(redis.tlsFiles.ca) })).rejects.toThrow(
      `redis: TLS with Redis at 127.0.0.1:${redis.port} failed: its certificate is for another host ` +
        "(Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: )",
    );
  });

  it('a Redis that requires a client certificate: refused at once without one, working with one', async () => {
    const redis = await RedisServer.startTls({ authClients: true });
    const { ca, clientCert, clientKey } = redis.tlsFiles;
    await expect(start(redis.url, { ca: readFileSync(ca) })).rejects.toThrow(
      `redis: TLS with Redis at 127.0.0.1:${redis.port} failed: Redis requires a client certificate`,
    );
    await registers(redis.url, {
      ca: readFileSync(ca),
      cert: readFileSync(clientCert),
      key: readFileSync(clientKey),
    });
  });

  it("from code the remedy names startChatServer's options (redis.tls.ca...), from npm start its flags", async () => {
    // Regression: a caller of startChatServer was told to give --redis-ca (CHAT_REDIS_CA), or
    // --redis-cert and --redis-key, which only the command has.
    const redis = await RedisServer.startTls({ authClients: true });
    const { ca } = redis.tlsFiles;
    const untrusted = await start(redis.url).then(
      () => null,
      (err: unknown) => err,
    );
    expect(untrusted).toBeInstanceOf(RedisTlsError);
    expect((untrusted as Error).message).toMatch(
      /: its certificate is not trusted \(.*\): give the CA that signed it with the option redis\.tls\.ca$/,
    );
    await expect(start(redis.url, { ca: readFileSync(ca) })).rejects.toThrow(
      /: Redis requires a client certificate \(.*\): give one with the options redis\.tls\.cert and redis\.tls\.key$/,
    );
    // The command says it in its own words (the untrusted case: the test above).
    const { out, code } = await runMain({ CHAT_REDIS_URL: redis.url, CHAT_REDIS_CA: ca });
    expect(code).toBe(1);
    expect(out.trim()).toMatch(
      /^riptide-chat: redis: TLS with Redis at 127\.0\.0\.1:\d+ failed: Redis requires a client certificate \(.*\): give one with --redis-cert and --redis-key \(CHAT_REDIS_CERT, CHAT_REDIS_KEY\)$/,
    );
  });

  it("rediss:// to Redis's plain-text port is refused within seconds as not TLS, not as unreachable once the wait ran out", async () => {
    // Regression: a plain Redis says nothing to a TLS handshake (it waits for the end of a line),
    // so every attempt timed out and the start failed when its wait ran out (10 s by default) as
    // "could not reach Redis at ... (connect ETIMEDOUT)". The wait here is PATIENCE_MS.
    const redis = await RedisServer.start();
    const url = redis.url.replace('redis://', 'rediss://');
    const notTls = (answer: string) =>
      `redis: TLS with Redis at 127.0.0.1:${redis.port} failed: the port does not speak TLS (no answer to ` +
      `the handshake within 2000 ms; a plain-text PING there is answered ${JSON.stringify(answer)}): use ` +
      "redis:// for it, or Redis's tls-port";
    await expect(start(url)).rejects.toThrow(notTls('+PONG'));
    // With a password: Redis's refusal tells it apart just as well (the PING carries no password).
    const admin = new Redis(redis.url);
    try {
      await admin.config('SET', 'requirepass', 'hunter2');
    } finally {
      admin.disconnect();
    }
    await expect(start(url.replace('rediss://', 'rediss://:hunter2@'))).rejects.toThrow(
      notTls('-NOAUTH Authentication required.'),
    );
  });

  it('npm start: --redis-ca with a redis:// URL, or a cert without its key, is a usage error before Redis is dialled', async () => {
    const redis = await RedisServer.startTls();
    const { ca, clientCert } = redis.tlsFiles;
    const plain = await runMain({ CHAT_REDIS_URL: `redis://127.0.0.1:${redis.port}`, CHAT_REDIS_CA: ca });
    expect(plain.code).toBe(2);
    // The setting the URL came from, as the operator wrote it (it said "in --redis").
    expect(plain.out).toMatch(/^riptide-chat: CHAT_REDIS_CA needs a rediss:\/\/ URL in CHAT_REDIS_URL\n/);
    const half = await runMain({ CHAT_REDIS_URL: redis.url }, ['--redis-ca', ca, '--redis-cert', clientCert]);
    expect(half.code).toBe(2);
    expect(half.out).toMatch(
      /^riptide-chat: --redis-cert needs its private key too: --redis-key or CHAT_REDIS_KEY\n/,
    );
  });
});
