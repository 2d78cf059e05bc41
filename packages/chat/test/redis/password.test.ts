/**
 * Redis's password kept out of the command line (where the URL's shows in `ps` and shell history):
 * --redis-password-file or CHAT_REDIS_PASSWORD_FILE (a Docker or Kubernetes secret), or
 * CHAT_REDIS_PASSWORD, with the URL's user name when it has one (an ACL user), and startChatServer's
 * `redis.password`. One source: a second is a usage error naming both. The password is never in
 * what the node prints, started or refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisCredentialsError, startChatServer } from '../../src/server/chat-server.js';
import { post } from '../helpers.js';
import { cleanupAll, RedisServer, runMainUntilListening } from './helpers.js';

/** The default user's password, and an ACL user's with read and write on every key. */
const SECRET = 's3cret-default';
const ALICE_SECRET = 'alice-s3cret';

let redis: RedisServer;
let dir: string;
beforeAll(async () => {
  redis = await RedisServer.start();
  const admin = new Redis(redis.url);
  try {
    await admin.acl('SETUSER', 'alice', 'on', `>${ALICE_SECRET}`, '~*', '&*', '+@all');
    await admin.config('SET', 'requirepass', SECRET);
  } finally {
    admin.disconnect();
  }
  dir = mkdtempSync(join(tmpdir(), 'riptide-redis-password-'));
  return async () => {
    rmSync(dir, { recursive: true, force: true });
    await cleanupAll();
  };
});

/** A file of `content` in the test's folder; its path. */
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** The built server (npm start), its Redis variables cleared, files relative to the test's folder. */
function runMain(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ out: string; code: number | null }> {
  return runMainUntilListening(args, { INIT_CWD: dir, ...env });
}

/** Neither password appears in `out`. */
function holdsNoPassword(out: string): void {
  expect(out).not.toContain(SECRET);
  expect(out).not.toContain(ALICE_SECRET);
  expect(out).not.toContain('wrong-one');
}

describe('npm start: the password out of the command line', () => {
  it('from --redis-password-file, CHAT_REDIS_PASSWORD_FILE (one trailing newline dropped) or CHAT_REDIS_PASSWORD', async () => {
    const secretFile = file('secret', `${SECRET}\n`);
    const crlfFile = file('secret-crlf', `${SECRET}\r\n`);
    const starts: [string[], Record<string, string>, string][] = [
      [['--redis', redis.url, '--redis-password-file', 'secret'], {}, '--redis-password-file "secret"'],
      [
        [],
        { CHAT_REDIS_URL: redis.url, CHAT_REDIS_PASSWORD_FILE: secretFile },
        `CHAT_REDIS_PASSWORD_FILE "${secretFile}"`,
      ],
      [
        ['--redis', redis.url],
        { CHAT_REDIS_PASSWORD_FILE: crlfFile },
        `CHAT_REDIS_PASSWORD_FILE "${crlfFile}"`,
      ],
      [['--redis', `${redis.url}/2`], { CHAT_REDIS_PASSWORD: SECRET }, 'CHAT_REDIS_PASSWORD'],
      // The flag wins over its own variable, as every flag does (the variable's file is wrong).
      [
        ['--redis', redis.url, '--redis-password-file', secretFile],
        { CHAT_REDIS_PASSWORD_FILE: file('wrong', 'wrong-one') },
        `--redis-password-file "${secretFile}"`,
      ],
    ];
    for (const [args, env, from] of starts) {
      const { out, code } = await runMain(args, env);
      expect(code, out).toBe(0);
      expect(out).toMatch(
        new RegExp(
          `listening on http://127\\.0\\.0\\.1:\\d+/ \\(redis redis://127\\.0\\.0\\.1:${redis.port}(/2)?, password from ${from.replace(/[.()/\\]/g, '\\$&')}\\)\n`,
        ),
      );
      holdsNoPassword(out);
    }
  });

  it('an ACL user named in the URL takes the password given beside it', async () => {
    // Regression: ioredis sets the password to "" for a URL with a user name and none, over the
    // password option given beside it, so alice went without hers (WRONGPASS).
    const url = redis.url.replace('redis://', 'redis://alice@');
    const ok = await runMain(['--redis', url], { CHAT_REDIS_PASSWORD: ALICE_SECRET });
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain(
      `(redis redis://alice@127.0.0.1:${redis.port}, password from CHAT_REDIS_PASSWORD)\n`,
    );
    holdsNoPassword(ok.out);
    // The default user's password is not alice's.
    const wrong = await runMain(['--redis', url, '--redis-password-file', file('default-secret', SECRET)]);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(
      new RegExp(
        `^riptide-chat: redis: Redis at 127\\.0\\.0\\.1:${redis.port} refuses the password of --redis-password-file "${dir}/default-secret" for user "alice" \\(WRONGPASS [^\\n]*\\)\n$`,
      ),
    );
    holdsNoPassword(wrong.out);
  });

  it('a wrong or missing password fails the start as before (exit 1, one line naming where it came from)', async () => {
    const wrong = await runMain(['--redis', redis.url], { CHAT_REDIS_PASSWORD: 'wrong-one' });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(
      new RegExp(
        `^riptide-chat: redis: Redis at 127\\.0\\.0\\.1:${redis.port} refuses the password of CHAT_REDIS_PASSWORD \\(WRONGPASS [^\\n]*\\)\n$`,
      ),
    );
    holdsNoPassword(wrong.out);
    const none = await runMain(['--redis', redis.url]);
    expect(none.code).toBe(1);
    expect(none.out).toMatch(
      new RegExp(
        `^riptide-chat: redis: Redis at 127\\.0\\.0\\.1:${redis.port} refuses the URL's credentials \\(NOAUTH [^\\n]*\\); give the password in a file with --redis-password-file \\(CHAT_REDIS_PASSWORD_FILE\\), in CHAT_REDIS_PASSWORD, or in the URL`,
      ),
    );
  });

  it('two sources, a file it cannot read, an empty one, or no --redis: a usage error naming them (exit 2)', async () => {
    const secretFile = file('secret2', SECRET);
    const withPassword = redis.url.replace('redis://', 'redis://:wrong-one@');
    const usage = async (args: string[], env: Record<string, string>, line: string) => {
      const { out, code } = await runMain(args, env);
      expect(code, out).toBe(2);
      expect(out.startsWith(`riptide-chat: ${line}\nusage: `), out).toBe(true);
      holdsNoPassword(out);
    };
    await usage(
      ['--redis', withPassword, '--redis-password-file', secretFile],
      {},
      '--redis has a password and --redis-password-file gives one too: give one (the URL may keep the user name)',
    );
    await usage(
      [],
      { CHAT_REDIS_URL: withPassword, CHAT_REDIS_PASSWORD: SECRET },
      'CHAT_REDIS_URL has a password and CHAT_REDIS_PASSWORD gives one too: give one (the URL may keep the user name)',
    );
    await usage(
      ['--redis', redis.url, '--redis-password-file', secretFile],
      { CHAT_REDIS_PASSWORD: SECRET },
      "--redis-password-file and CHAT_REDIS_PASSWORD both give Redis's password: give one",
    );
    await usage(
      ['--redis', redis.url],
      { CHAT_REDIS_PASSWORD_FILE: secretFile, CHAT_REDIS_PASSWORD: SECRET },
      "CHAT_REDIS_PASSWORD_FILE and CHAT_REDIS_PASSWORD both give Redis's password: give one",
    );
    await usage(['--redis-password-file', secretFile], {}, '--redis-password-file needs --redis');
    await usage([], { CHAT_REDIS_PASSWORD: SECRET }, 'CHAT_REDIS_PASSWORD needs --redis');
    await usage(
      ['--redis', redis.url, '--redis-password-file', 'nope'],
      {},
      'cannot read --redis-password-file file "nope": ENOENT',
    );
    await usage(
      ['--redis', redis.url],
      { CHAT_REDIS_PASSWORD_FILE: dir },
      `cannot read CHAT_REDIS_PASSWORD_FILE file "${dir}": EISDIR`,
    );
    for (const content of ['', '\n'])
      await usage(
        ['--redis', redis.url, '--redis-password-file', file('empty', content)],
        {},
        `--redis-password-file file "${join(dir, 'empty')}" is empty`,
      );
    await usage(
      ['--redis', redis.url, '--redis-password-file', ''],
      {},
      `invalid --redis-password-file "": the file holding Redis's password`,
    );
  });
});

describe('startChatServer: redis.password', () => {
  const start = (url: string, password?: string) =>
    startChatServer({
      port: 0,
      redis: { url, ...(password !== undefined ? { password } : {}), connectTimeoutMs: 30_000 },
      sweepIntervalMs: 0,
      log: () => {},
    });

  afterEach(async () => {
    // No connection of a refused start is left open (the admin's own has no chat- name).
    const admin = new Redis(redis.url, { password: SECRET });
    try {
      expect(await admin.client('LIST')).not.toMatch(/ name=chat-/);
    } finally {
      admin.disconnect();
    }
  });

  it('is sent with the URL, or with its user; the node serves', async () => {
    for (const [url, password] of [
      [redis.url, SECRET],
      [redis.url.replace('redis://', 'redis://alice@'), ALICE_SECRET],
    ] as const) {
      const server = await start(url, password);
      try {
        const origin = server.url.replace(/\/$/, '');
        const name = `u${Math.random().toString(36).slice(2, 8)}`;
        expect((await post(origin, '/api/register', { name, password: 'correct horse' })).status).toBe(201);
      } finally {
        await server.close();
      }
    }
  });

  it('a wrong one is refused at once, naming the option and not the password', async () => {
    const attempt = start(redis.url.replace('redis://', 'redis://alice@'), 'wrong-one');
    await expect(attempt).rejects.toThrow(RedisCredentialsError);
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `^redis: Redis at 127\\.0\\.0\\.1:${redis.port} refuses the password of the option redis\\.password for user "alice" \\(WRONGPASS `,
      ),
    );
  });

  it('with a password in the URL too, or empty, is refused before connecting', async () => {
    await expect(start(redis.url.replace('redis://', 'redis://:wrong-one@'), SECRET)).rejects.toThrow(
      'redis: the URL has a password and the option redis.password gives one too: give one (the URL may keep the user name)',
    );
    await expect(start(redis.url, '')).rejects.toThrow(
      'redis: the option redis.password is empty (leave it out for none)',
    );
  });
});
