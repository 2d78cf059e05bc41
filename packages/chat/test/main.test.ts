/**
 * `npm start` (dist/server/main.js) as a user runs it: the database lands where the user typed the
 * command (npm's INIT_CWD), the path it uses is logged in full, and a port in use is one line and
 * exit 1, not the usage text.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { register, selfSignedCertificate, TestClient } from './helpers.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'server', 'main.js');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

function run(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): {
  child: ChildProcess;
  output: Promise<string>;
  exit: Promise<number | null>;
  /** Everything it wrote, both streams, once it exited. */
  all: Promise<string>;
} {
  const child = spawn(process.execPath, [main, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout?.on('data', (c) => {
    out += c;
  });
  child.stderr?.on('data', (c) => {
    out += c;
  });
  // 'close' (the child's stdio closed), not 'exit': the last lines it wrote may still be unread
  // at its 'exit', and `output` is read then.
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const output = new Promise<string>((resolve) => {
    const check = () => {
      if (/listening on/.test(out)) resolve(out);
    };
    child.stdout?.on('data', check);
    void exit.then(() => resolve(out));
  });
  return { child, output, exit, all: exit.then(() => out) };
}

/** GET on a connection of its own (no keep-alive agent): only a listener still open takes it. */
function freshGet(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-main-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('riptide-chat (npm start)', () => {
  it('puts ./data/chat.db where npm start was typed (INIT_CWD) and logs the full path', async () => {
    const typedIn = tempDir();
    const packageDir = tempDir(); // npm runs the workspace's script from the package's folder
    const { child, output, exit } = run(['--port', '0'], { INIT_CWD: typedIn }, packageDir);
    const out = await output;
    const expected = join(typedIn, 'data', 'chat.db');
    expect(out).toContain(`(database ${expected})`);
    expect(existsSync(expected)).toBe(true);
    expect(existsSync(join(packageDir, 'data'))).toBe(false);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('says in one line that the port is in use, and exits 1', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => busy.close());
    const port = (busy.address() as { port: number }).port;
    const dir = tempDir();
    const { output, exit } = run(['--port', String(port), '--db', join(dir, 'chat.db')], {}, dir);
    expect(await exit).toBe(1);
    expect((await output).trim()).toBe(`riptide-chat: port ${port} is in use; pass --port`);
  });

  it.runIf(existsSync('/proc/self'))(
    'says in one line that the database folder cannot be made, and exits 1 (not spinning in mkdir)',
    async () => {
      // Regression: mkdirSync({ recursive: true }) on /proc/nope looped forever in Node 20, so
      // start-up hung without a word.
      const dir = tempDir();
      const { output, exit } = run(['--port', '0', '--db', '/proc/nope/chat.db'], {}, dir);
      expect(await exit).toBe(1);
      expect((await output).trim()).toBe(
        'riptide-chat: cannot create the database folder /proc/nope (ENOENT)',
      );
    },
  );

  it('says which database folder is not a folder, and exits 1', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), '');
    const { output, exit } = run(['--port', '0', '--db', join(dir, 'file', 'sub', 'chat.db')], {}, dir);
    expect(await exit).toBe(1);
    expect((await output).trim()).toBe(
      `riptide-chat: cannot create the database folder ${join(dir, 'file', 'sub')} (ENOTDIR)`,
    );
  });

  it('--db :memory: or CHAT_DB=:memory: keeps the database and its uploads in memory: no file, no lock, said at start', async () => {
    // Regression: ':memory:' was resolved as a path, so the CLI made a file named ':memory:' (and
    // ':memory:-lock') where it was started, and a second one there was refused as "in use".
    const dir = tempDir();
    const byFlag = run(['--port', '0', '--db', ':memory:'], { INIT_CWD: dir }, dir);
    const byVariable = run(['--port', '0'], { INIT_CWD: dir, CHAT_DB: ':memory:' }, dir);
    const said = '(database in memory: accounts, history and uploads go with the process)\n';
    const urls: string[] = [];
    for (const { output } of [byFlag, byVariable]) {
      const out = await output;
      expect(out).toMatch(/^riptide chat listening on http:\/\/127\.0\.0\.1:\d+\/ /);
      expect(out.endsWith(said)).toBe(true);
      urls.push(/listening on (\S+)/.exec(out)?.[1] as string);
    }
    // An upload is served back from the database in memory: no folder is needed for it.
    const origin = urls[0].replace(/\/$/, '');
    const cookie = await register(origin, 'ann');
    const { client } = await TestClient.join(origin, cookie);
    const posted = await fetch(`${origin}/api/attachments?room=general&name=a.txt`, {
      method: 'POST',
      headers: { cookie, origin, 'content-type': 'application/octet-stream' },
      body: 'kept in memory',
    });
    expect(posted.status).toBe(201);
    const { id } = (await posted.json()) as { id: string };
    const got = await fetch(`${origin}/api/attachments/${id}`, { headers: { cookie } });
    expect([got.status, await got.text()]).toEqual([200, 'kept in memory']);
    client.ws.close();
    expect(readdirSync(dir)).toEqual([]);
    for (const { child, exit } of [byFlag, byVariable]) {
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a second server on the same database in one line, exit 1; the first keeps serving', async () => {
    // Two servers on one file (no Redis) would not see each other's live messages.
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const first = run(['--port', '0', '--db', db], {}, dir);
    const url = /listening on (\S+)/.exec(await first.output)?.[1];
    const second = run(['--port', '0', '--db', db], {}, dir);
    // The output first: it resolves on "listening" too, so a second server that runs fails here.
    expect((await second.output).trim()).toBe(
      `riptide-chat: the database ${db} is in use by another chat server (its lock ${db}-lock is held); stop that one, or give another database file with --db (CHAT_DB)`,
    );
    expect(await second.exit).toBe(1);
    expect((await fetch(`${url}`)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    // The lock went with the first: a server starts on the file again.
    const again = run(['--port', '0', '--db', db], {}, dir);
    expect(await again.output).toContain(`(database ${db})`);
    again.child.kill('SIGTERM');
    expect(await again.exit).toBe(0);
  });

  it('refuses a file that is not a database in one line naming it, exit 1, and leaves it as it was', async () => {
    const dir = tempDir();
    const db = join(dir, 'notes.txt');
    const text = 'my notes, not a database: '.repeat(40);
    writeFileSync(db, text);
    const { output, exit } = run(['--port', '0', '--db', db], {}, dir);
    expect(await exit).toBe(1);
    expect((await output).trim()).toBe(
      `riptide-chat: cannot open the database ${db}: file is not a database (SQLITE_NOTADB)`,
    );
    expect(readFileSync(db, 'utf8')).toBe(text);
  });

  it('says the database path is a folder, not "unable to open database file", and exits 1', async () => {
    const dir = tempDir();
    const { output, exit } = run(['--port', '0', '--db', dir], {}, dir);
    expect(await exit).toBe(1);
    expect((await output).trim()).toBe(
      `riptide-chat: cannot open the database ${dir}: it is a folder; name the database file in it (${join(dir, 'chat.db')})`,
    );
    // Refused before a lock was made beside it.
    expect(existsSync(`${dir}-lock`)).toBe(false);
  });

  it('refuses a database of a newer schema in one line, exit 1, without writing to it', async () => {
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const newer = new Database(db);
    newer.exec('CREATE TABLE future (x); PRAGMA user_version = 99;');
    newer.close();
    const before = readFileSync(db);
    const { output, exit } = run(['--port', '0', '--db', db], {}, dir);
    expect(await exit).toBe(1);
    expect((await output).trim()).toBe(
      `riptide-chat: cannot open the database ${db}: it is schema version 99, from a newer server; this one knows up to 13 (the file is left as it is)`,
    );
    // Byte for byte: not even switched to WAL (the header's journal mode bytes).
    expect(readFileSync(db)).toEqual(before);
    expect(existsSync(`${db}-wal`)).toBe(false);
  });

  it('keeps usage errors as usage errors (exit 2)', async () => {
    const dir = tempDir();
    const { output, exit } = run(['--port', 'eighty'], {}, dir);
    expect(await exit).toBe(2);
    expect(await output).toMatch(
      /^riptide-chat: invalid --port "eighty": a port is 0 to 65535\nusage: riptide-chat/,
    );
  });

  it('names the setting a bad value came from, the flag or the environment variable', async () => {
    // Regression: CHAT_PORT=abc said "invalid port", and a --host or CHAT_HOST that is no address
    // of this machine said "listen EADDRNOTAVAIL: address not available 192.0.2.1" (node's words).
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const envPort = run([], { CHAT_PORT: 'abc' }, dir);
    expect(await envPort.exit).toBe(2);
    expect(await envPort.output).toMatch(
      /^riptide-chat: invalid CHAT_PORT "abc": a port is 0 to 65535\nusage: /,
    );
    const flagPort = run(['--port', '65536'], { CHAT_PORT: '8080' }, dir);
    expect(await flagPort.exit).toBe(2);
    expect(await flagPort.output).toMatch(/^riptide-chat: invalid --port "65536"/);
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no machine has it.
    const envHost = run(['--port', '0', '--db', db], { CHAT_HOST: '192.0.2.1' }, dir);
    expect(await envHost.exit).toBe(1);
    expect((await envHost.output).trim()).toBe(
      'riptide-chat: cannot listen on CHAT_HOST "192.0.2.1": no interface of this machine has that address (EADDRNOTAVAIL)',
    );
    const flagHost = run(['--port', '0', '--db', db, '--host', '999.0.0.1'], {}, dir);
    expect(await flagHost.exit).toBe(1);
    expect((await flagHost.output).trim()).toMatch(
      /^riptide-chat: cannot listen on --host "999\.0\.0\.1": no such host name or address \(E[A-Z_]+\)$/,
    );
  });

  it('refuses a --presence-ttl out of range before connecting to Redis, naming the setting (exit 2)', async () => {
    // Regression: 0 was refused only once Redis had answered, in RedisPresence's words, and one
    // past a Node timer's range (2^31 - 1 ms) was taken: node warned of a TimeoutOverflow and the
    // presence refresh ran every millisecond. Port 1 refuses connections: the old code waited on it.
    const dir = tempDir();
    const redis = ['--port', '0', '--redis', 'redis://127.0.0.1:1'];
    const zero = run([...redis, '--presence-ttl', '0'], {}, dir);
    expect(await zero.exit).toBe(2);
    expect(await zero.output).toMatch(
      /^riptide-chat: invalid --presence-ttl "0": milliseconds, 300 to 2147483647\nusage: /,
    );
    const huge = run(redis, { CHAT_PRESENCE_TTL_MS: String(2 ** 31) }, dir);
    expect(await huge.exit).toBe(2);
    expect(await huge.output).toMatch(
      /^riptide-chat: invalid CHAT_PRESENCE_TTL_MS "2147483648": milliseconds, 300 to 2147483647\nusage: /,
    );
    const alone = run(['--port', '0'], { CHAT_PRESENCE_TTL_MS: '3000' }, dir);
    expect(await alone.exit).toBe(2);
    expect(await alone.output).toMatch(/^riptide-chat: CHAT_PRESENCE_TTL_MS needs --redis\n/);
  });

  it('refuses a Redis URL it would misread as a usage error naming --redis or CHAT_REDIS_URL (exit 2), quoting no secret', async () => {
    // Regression: a query (?tls=true, ?db=, ?password=) went to ioredis as connection options over
    // the node's own, and a path that is not a number was exit 1, naming neither setting. Port 1
    // refuses connections: nothing here may get as far as dialling it.
    const dir = tempDir();
    const usage = async (args: string[], env: Record<string, string>, line: string) => {
      const { output, exit } = run(['--port', '0', ...args], env, dir);
      expect(await exit).toBe(2);
      const out = await output;
      expect(out.startsWith(`riptide-chat: ${line}\nusage: `)).toBe(true);
      expect(out).not.toContain('s3cret');
    };
    const noQuery = 'the URL takes no query parameters (the node sets its connection options itself), got';
    await usage(
      ['--redis', 'redis://127.0.0.1:1/?tls=true'],
      {},
      `invalid --redis: ${noQuery} "tls": TLS is the scheme: rediss://host:port`,
    );
    await usage(
      [],
      { CHAT_REDIS_URL: 'redis://127.0.0.1:1?db=2&password=s3cret' },
      `invalid CHAT_REDIS_URL: ${noQuery} "db", "password": the database is the path: redis://host:port/3; credentials go before the host: redis://user:password@host:port`,
    );
    await usage(
      ['--redis', 'redis://127.0.0.1:1/abc'],
      { CHAT_REDIS_URL: 'redis://127.0.0.1:1' },
      `invalid --redis: the URL's path is a database number (redis://host:port/2), got "/abc"`,
    );
    await usage(
      ['--redis', 'tcp://:s3cret@127.0.0.1:1'],
      {},
      'invalid --redis: URL must start with redis:// or rediss://, got "tcp://:***@127.0.0.1:1"',
    );
  });

  it("says which TLS file OpenSSL cannot use, or that the key is not the certificate's (exit 2, nothing opened)", async () => {
    // Regression: all three were "riptide-chat: error:0480006C:PEM routines::no start line" (or
    // "...key values mismatch"), naming neither the setting nor the file.
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const [a, b] = [selfSignedCertificate(), selfSignedCertificate()];
    writeFileSync(join(dir, 'cert.pem'), a.cert);
    writeFileSync(join(dir, 'key.pem'), a.key);
    writeFileSync(join(dir, 'other-key.pem'), b.key);
    writeFileSync(join(dir, 'notes.txt'), 'not a certificate');
    const cases: [string, string, RegExp][] = [
      [
        'notes.txt',
        'key.pem',
        /^riptide-chat: cannot use --cert file "notes\.txt": PEM routines::no start line\nusage: /,
      ],
      ['cert.pem', 'notes.txt', /^riptide-chat: cannot use --key file "notes\.txt": [^\n]+\nusage: /],
      [
        'cert.pem',
        'other-key.pem',
        /^riptide-chat: --key "other-key\.pem" does not go with --cert "cert\.pem": [^\n]*key values mismatch\nusage: /,
      ],
    ];
    for (const [cert, key, expected] of cases) {
      const { output, exit } = run(
        ['--port', '0', '--db', db, '--cert', cert, '--key', key],
        { INIT_CWD: dir },
        dir,
      );
      expect(await exit).toBe(2);
      expect(await output).toMatch(expected);
    }
    expect(existsSync(db)).toBe(false);
    const good = run(
      ['--port', '0', '--db', db, '--cert', 'cert.pem', '--key', 'key.pem'],
      { INIT_CWD: dir },
      dir,
    );
    expect(await good.output).toMatch(/listening on https:/);
    good.child.kill('SIGTERM');
    expect(await good.exit).toBe(0);
  });

  it('refuses a trust list it cannot read, from --trust-proxy or CHAT_TRUST_PROXY: the reason, the usage, exit 2', async () => {
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const flag = run(
      ['--port', '0', '--db', db, '--trust-proxy', '127.0.0.1', '--trust-proxy', '10.0.0.0/33'],
      {},
      dir,
    );
    expect(await flag.exit).toBe(2);
    expect(await flag.output).toMatch(
      /^riptide-chat: invalid --trust-proxy: "10\.0\.0\.0\/33": the prefix length of an IPv4 subnet is 0 to 32\nusage: riptide-chat/,
    );
    const env = run(['--port', '0', '--db', db], { CHAT_TRUST_PROXY: '127.0.0.1,localhost' }, dir);
    expect(await env.exit).toBe(2);
    expect(await env.output).toMatch(
      /^riptide-chat: invalid CHAT_TRUST_PROXY: "localhost" is not an IP address or subnet [^\n]*\nusage: riptide-chat/,
    );
    expect(existsSync(db)).toBe(false);
  });

  it('counts sign-ups per forwarded client behind the proxies --trust-proxy or CHAT_TRUST_PROXY names', async () => {
    const starts: [string[], Record<string, string>][] = [
      [['--trust-proxy', '10.0.0.0/8', '--trust-proxy', '127.0.0.1'], {}],
      [[], { CHAT_TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }],
    ];
    for (const [args, env] of starts) {
      const dir = tempDir();
      const { child, output, exit } = run(['--port', '0', '--db', join(dir, 'chat.db'), ...args], env, dir);
      const url = /listening on (\S+)/.exec(await output)?.[1];
      expect(url, await output).toBeDefined();
      // Said before the "listening on" line, the entries as given.
      expect(await output).toMatch(
        /^chat: trusting X-Forwarded-For from 10\.0\.0\.0\/8, 127\.0\.0\.1\nriptide chat listening on /,
      );
      const signUp = async (name: string, forwardedFor: string) =>
        (
          await fetch(`${url}api/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
            body: JSON.stringify({ name, password: 'correct horse' }),
          })
        ).status;
      // 5 sign-ups per address at once, then 1 a minute. Signed up until refused (at most 20, so
      // a slow machine that earns a refill meanwhile still gets there): the bucket is this address's.
      let refusedAfter = -1;
      for (let i = 0; i < 20 && refusedAfter < 0; i++) {
        const status = await signUp(`a${i}`, '203.0.113.1');
        if (status === 429) refusedAfter = i;
        else expect(status).toBe(201);
      }
      expect(refusedAfter).toBeGreaterThanOrEqual(5);
      expect(await signUp('b0', '203.0.113.2')).toBe(201);
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
  });

  it('stops on SIGINT (twice, as Ctrl-C under npm start sends it): says so, 1001 to the page, every acknowledged message stored, exit 0', async () => {
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const { child, output, exit } = run(['--port', '0', '--db', db], {}, dir);
    let after = '';
    child.stdout?.on('data', (c) => {
      after += c;
    });
    const url = /listening on (\S+)/.exec(await output)?.[1] as string;
    const origin = url.replace(/\/$/, '');
    const cookie = await register(origin, 'ann');
    const page = await TestClient.connect(origin, cookie);
    const welcome = page.next('welcome');
    page.send({ v: 2, type: 'hello' });
    await welcome;
    // Ten sends at once (the rate limit's burst): the stop comes with the first acknowledged and
    // the others in flight.
    const ids = Array.from({ length: 10 }, (_, i) => `m${i}`);
    for (const id of ids) page.send({ v: 2, type: 'send', id, room: 'general', text: `text ${id}` });
    await page.next('ack');
    child.kill('SIGINT');
    child.kill('SIGINT');
    expect(await page.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await exit).toBe(0);
    const lines = after.trim().split('\n');
    expect(lines.slice(-2)).toEqual([
      'riptide chat stopping on SIGINT: closing 1 connection',
      'riptide chat stopped',
    ]);
    const acked = page.all('ack').map((a) => a.id);
    expect(acked.length).toBeGreaterThan(0);
    const stored = new Database(db, { readonly: true });
    try {
      const rows = stored.prepare("SELECT client_id FROM events WHERE kind = 'message'").all() as {
        client_id: string;
      }[];
      expect(rows.map((r) => r.client_id).sort()).toEqual(expect.arrayContaining(acked.sort()));
    } finally {
      stored.close();
    }
  });

  it('stops on SIGHUP (its terminal closed) as on SIGTERM: 1001 to the page, exit 0', async () => {
    // Regression: node's default for SIGHUP ended the process at once: the page got 1006 and the
    // log no line.
    const dir = tempDir();
    const { child, output, exit } = run(['--port', '0', '--db', join(dir, 'chat.db')], {}, dir);
    let after = '';
    child.stdout?.on('data', (c) => {
      after += c;
    });
    const url = /listening on (\S+)/.exec(await output)?.[1] as string;
    const origin = url.replace(/\/$/, '');
    const page = await TestClient.connect(origin, await register(origin, 'hal'));
    const welcome = page.next('welcome');
    page.send({ v: 2, type: 'hello' });
    await welcome;
    child.kill('SIGHUP');
    expect(await page.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await exit).toBe(0);
    expect(after.trim().split('\n').slice(-2)).toEqual([
      'riptide chat stopping on SIGHUP: closing 1 connection',
      'riptide chat stopped',
    ]);
  });

  it('--drain or CHAT_DRAIN_MS: a stop first serves on with GET /healthz 503 "stopping", new connections taken; then stops as without', async () => {
    // Regression: the listener closed as the stop began, so a balancer's next probe was refused
    // (read as down) instead of being told 503 while the node still took new connections.
    const dir = tempDir();
    const { child, output, exit } = run(
      ['--port', '0', '--db', join(dir, 'chat.db')],
      { CHAT_DRAIN_MS: '20000' },
      dir,
    );
    const url = /listening on (\S+)/.exec(await output)?.[1] as string;
    const origin = url.replace(/\/$/, '');
    const ann = await TestClient.join(origin, await register(origin, 'ann'));
    const line =
      'riptide chat stopping on SIGTERM: draining for 20000 ms (GET /healthz answers 503 "stopping", the rest is served), then closing\n';
    let after = '';
    // The line, or the exit of a process that did not drain (then the check below says what it said).
    const stopping = new Promise<void>((resolve) => {
      child.stdout?.on('data', (c) => {
        after += c;
        if (after.includes(line)) resolve();
      });
      void exit.then(() => resolve());
    });
    child.kill('SIGTERM');
    await stopping;
    expect(after).toBe(line);
    // On a new connection (no keep-alive pool): what a balancer's next probe gets.
    expect(await freshGet(`${url}healthz`)).toEqual({
      status: 503,
      text: '{"ok":false,"reason":"stopping"}',
    });
    const ben = await TestClient.join(origin, await register(origin, 'ben'));
    expect(ben.welcome).toMatchObject({ type: 'welcome' });
    ann.client.send({ v: 2, type: 'send', id: 'm1', room: 'general', text: 'still here' });
    await ann.client.next('ack', (m) => m.id === 'm1');
    // The drain's end, where the time is not watched: a drain of 1 ms, then the usual stop.
    child.kill('SIGKILL');
    await exit;
    const short = run(['--port', '0', '--db', join(dir, 'short.db'), '--drain', '1'], {}, dir);
    let lines = '';
    short.child.stdout?.on('data', (c) => {
      lines += c;
    });
    const shortUrl = (/listening on (\S+)\//.exec(await short.output) ?? [])[1] as string;
    const page = await TestClient.join(shortUrl, await register(shortUrl, 'cy'));
    short.child.kill('SIGTERM');
    expect(await page.client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await short.exit).toBe(0);
    expect(lines.trim().split('\n').slice(-3)).toEqual([
      'riptide chat stopping on SIGTERM: draining for 1 ms (GET /healthz answers 503 "stopping", the rest is served), then closing',
      'chat: drained for 1 ms; closing 1 connection',
      'riptide chat stopped',
    ]);
  });

  it('refuses a --drain or CHAT_DRAIN_MS that is not 0 to 20000 ms (the stop deadline), naming it (exit 2)', async () => {
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const long = run(['--port', '0', '--db', db, '--drain', '20001'], {}, dir);
    expect(await long.exit).toBe(2);
    expect(await long.output).toMatch(
      /^riptide-chat: invalid --drain "20001": milliseconds, 0 to 20000\nusage: /,
    );
    const words = run(['--port', '0', '--db', db], { CHAT_DRAIN_MS: '5s' }, dir);
    expect(await words.exit).toBe(2);
    expect(await words.output).toMatch(
      /^riptide-chat: invalid CHAT_DRAIN_MS "5s": milliseconds, 0 to 20000\nusage: /,
    );
    expect(existsSync(db)).toBe(false);
  });

  it('takes CHAT_ALLOWED_ORIGINS with spaces around its entries, as --allowed-origin (each a list too); an empty entry is refused', async () => {
    // Regression: "https://a.example, https://b.example" was refused for its space ("origin must be
    // scheme://host[:port], got \" https://b.example\""), and "a,,b" was taken without a word.
    const dir = tempDir();
    const starts: [string[], Record<string, string>][] = [
      [[], { CHAT_ALLOWED_ORIGINS: ' https://a.example , https://b.example' }],
      [
        [
          '--allowed-origin',
          'https://a.example, https://b.example ',
          '--allowed-origin',
          ' https://c.example',
        ],
        {},
      ],
    ];
    for (const [i, [args, env]] of starts.entries()) {
      const { output, exit, child } = run(['--port', '0', '--db', join(dir, `${i}.db`), ...args], env, dir);
      const url = /listening on (\S+)/.exec(await output)?.[1];
      expect(url, await output).toBeDefined();
      const signUp = async (name: string, origin: string) =>
        (
          await fetch(`${url}api/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', origin },
            body: JSON.stringify({ name, password: 'correct horse' }),
          })
        ).status;
      expect(await signUp('ann', 'https://a.example')).toBe(201);
      expect(await signUp('ben', 'https://b.example')).toBe(201);
      expect(await signUp('cy', 'https://c.example')).toBe(i === 1 ? 201 : 403);
      expect(await signUp('di', 'https://d.example')).toBe(403);
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
    const db = join(dir, 'refused.db');
    for (const [args, env, setting, list] of [
      [
        [],
        { CHAT_ALLOWED_ORIGINS: 'https://a.example,,https://b.example' },
        'CHAT_ALLOWED_ORIGINS',
        'https://a.example,,https://b.example',
      ],
      [[], { CHAT_ALLOWED_ORIGINS: 'https://a.example, ' }, 'CHAT_ALLOWED_ORIGINS', 'https://a.example, '],
      [['--allowed-origin', 'https://a.example,'], {}, '--allowed-origin', 'https://a.example,'],
    ] as const) {
      const { output, exit } = run(['--port', '0', '--db', db, ...args], env, dir);
      expect(await exit).toBe(2);
      expect(await output).toContain(
        `riptide-chat: invalid ${setting}: empty entry in ${JSON.stringify(list)} (two commas in a row, or one at an end)\nusage: `,
      );
    }
    expect(existsSync(db)).toBe(false);
  });

  it('--admin (repeated, each a list) or CHAT_ADMINS names the server admins (welcome `admin`); a name with no account is logged; a bad one is refused (exit 2)', async () => {
    const dir = tempDir();
    const starts: [string[], Record<string, string>, string[]][] = [
      // The flag wins over the variable; names match accounts ignoring case.
      [['--admin', 'Alice', '--admin', ' bob , zed'], { CHAT_ADMINS: 'carol' }, ['alice', 'bob']],
      [[], { CHAT_ADMINS: 'carol,ALICE' }, ['alice', 'carol']],
    ];
    for (const [i, [args, env, admins]] of starts.entries()) {
      const { output, exit, child } = run(['--port', '0', '--db', join(dir, `${i}.db`), ...args], env, dir);
      const url = /listening on (\S+)/.exec(await output)?.[1]?.replace(/\/$/, '');
      expect(url, await output).toBeDefined();
      for (const name of ['alice', 'bob', 'carol']) {
        const { client, welcome } = await TestClient.join(url as string, await register(url as string, name));
        expect(welcome.admin, name).toBe(admins.includes(name) ? true : undefined);
        await client.close();
      }
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
    for (const [args, env, said] of [
      [[], { CHAT_ADMINS: 'alice,,bob' }, 'invalid CHAT_ADMINS: empty entry in "alice,,bob"'],
      [['--admin', 'alice,'], {}, 'invalid --admin: empty entry in "alice,"'],
      [['--admin', 'al ice'], {}, 'invalid --admin: "al ice" is not a user name'],
      [[], { CHAT_ADMINS: 'bob@example.com' }, 'invalid CHAT_ADMINS: "bob@example.com" is not a user name'],
    ] as const) {
      const { output, exit } = run(['--port', '0', '--db', join(dir, 'refused.db'), ...args], env, dir);
      expect(await exit).toBe(2);
      expect(await output).toMatch(
        new RegExp(`^riptide-chat: ${said.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*\nusage: `),
      );
    }
    expect(existsSync(join(dir, 'refused.db'))).toBe(false);
  });

  it('logs once at the start each admin name no account has', async () => {
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const first = run(['--port', '0', '--db', db], {}, dir);
    const url = /listening on (\S+)/.exec(await first.output)?.[1]?.replace(/\/$/, '');
    await register(url as string, 'alice');
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    const { child, exit, output, all } = run(['--port', '0', '--db', db, '--admin', 'ALICE,zed'], {}, dir);
    await output;
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    const lines = (await all).split('\n').filter((line) => line.includes('no account'));
    expect(lines).toEqual([
      'chat: admin zed has no account yet: whoever signs up as zed will be a server admin',
    ]);
  });

  it('refuses a switch in the environment that is neither 1 nor 0 (CHAT_SECURE_COOKIES=true was off)', async () => {
    // Regression: only "1" turned them on, so CHAT_SECURE_COOKIES=true served cookies without
    // Secure behind an https proxy, and said nothing.
    const dir = tempDir();
    for (const variable of ['CHAT_SECURE_COOKIES', 'CHAT_STATS']) {
      const { output, exit } = run(
        ['--port', '0', '--db', join(dir, 'chat.db')],
        { [variable]: 'true' },
        dir,
      );
      // The output first: it resolves on "listening" too, so a server that starts fails here.
      expect(await output).toMatch(
        new RegExp(`^riptide-chat: invalid ${variable} "true": 1 for on, 0 or unset for off\\nusage: `),
      );
      expect(await exit).toBe(2);
    }
    expect(existsSync(join(dir, 'chat.db'))).toBe(false);
    const on = run(
      ['--port', '0', '--db', join(dir, 'chat.db')],
      { CHAT_SECURE_COOKIES: '1', CHAT_STATS: '0' },
      dir,
    );
    const url = /listening on (\S+)/.exec(await on.output)?.[1] as string;
    const res = await fetch(`${url}api/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: url.replace(/\/$/, '') },
      body: JSON.stringify({ name: 'ann', password: 'correct horse' }),
    });
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/i);
    expect((await fetch(`${url}_stats`)).status).toBe(404);
    on.child.kill('SIGTERM');
    expect(await on.exit).toBe(0);
  });

  it('writes failures to stderr and the normal course to stdout: an outage of the database and its end', async () => {
    // Regression: every line of the server went to stdout, "storage (SQLite) is unavailable" and
    // "internal error" as much as "listening on": a supervisor that tells them apart by stream
    // (journald's priority, Docker's split) saw no failure.
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const child = spawn(process.execPath, [main, '--port', '0', '--db', db], {
      cwd: dir,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    const streams = { stdout: '', stderr: '' };
    const waiters: (() => void)[] = [];
    for (const name of ['stdout', 'stderr'] as const)
      child[name].on('data', (c) => {
        streams[name] += c;
        for (const check of waiters.splice(0)) check();
      });
    const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    /** Resolves once either stream holds `text` (each new chunk checks again); which one is asserted. */
    const seen = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () =>
          streams.stdout.includes(text) || streams.stderr.includes(text) ? resolve() : waiters.push(check);
        check();
      });
    await seen('listening on');
    const url = /listening on (\S+)/.exec(streams.stdout)?.[1] as string;
    const other = new Database(db);
    try {
      other.exec('BEGIN IMMEDIATE'); // the file locked by another process past the server's wait
      const res = await fetch(`${url}api/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: url.replace(/\/$/, '') },
        body: JSON.stringify({ name: 'ann', password: 'correct horse' }),
      });
      expect(res.status).toBe(503);
      await seen('chat: storage (SQLite) is unavailable: ');
      other.exec('COMMIT');
    } finally {
      other.close();
    }
    await seen('chat: storage (SQLite) is available again\n');
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(streams.stderr).toMatch(/^chat: storage \(SQLite\) is unavailable: [^\n]*\n$/);
    expect(streams.stdout).not.toContain('unavailable');
    expect(streams.stdout).toMatch(
      /riptide chat listening on .*\nchat: storage \(SQLite\) is available again\n/,
    );
    expect(streams.stdout).toMatch(/riptide chat stopped\n$/);
  });

  it('takes an empty environment variable as unset, and refuses an empty --host (node would listen on every interface)', async () => {
    // Regression: CHAT_HOST= (as a unit file or a compose file writes one it does not set) listened
    // on every interface, saying "listening on http://:8080/"; CHAT_TLS_CERT= was "cannot read
    // --cert file "": EISDIR"; CHAT_DRAIN_MS= and CHAT_PRESENCE_TTL_MS= refused the start.
    const dir = tempDir();
    const empty = run(
      ['--port', '0'],
      {
        INIT_CWD: dir,
        CHAT_HOST: '',
        CHAT_DB: '',
        CHAT_DRAIN_MS: '',
        CHAT_TLS_CERT: '',
        CHAT_TLS_KEY: '',
        CHAT_REDIS_URL: '',
        CHAT_REDIS_CA: '',
        CHAT_PRESENCE_TTL_MS: '',
        CHAT_STATS: '',
      },
      dir,
    );
    expect(await empty.output).toMatch(
      new RegExp(
        `^riptide chat listening on http://127\\.0\\.0\\.1:\\d+/ \\(database ${join(dir, 'data', 'chat.db')}\\)\n`,
      ),
    );
    empty.child.kill('SIGTERM');
    expect(await empty.exit).toBe(0);
    const flag = run(['--port', '0', '--db', join(dir, 'chat.db'), '--host', ''], {}, dir);
    expect(await flag.exit).toBe(2);
    expect(await flag.output).toMatch(
      /^riptide-chat: invalid --host "": an address or host name \(0\.0\.0\.0 or :: for every interface\)\nusage: /,
    );
    // A certificate file named by the variable is named so.
    const missing = run(
      ['--port', '0'],
      { CHAT_TLS_CERT: join(dir, 'nope.pem'), CHAT_TLS_KEY: join(dir, 'nope-key.pem') },
      dir,
    );
    expect(await missing.exit).toBe(2);
    expect(await missing.output).toMatch(
      new RegExp(`^riptide-chat: cannot read CHAT_TLS_CERT file "${join(dir, 'nope.pem')}": ENOENT\nusage: `),
    );
  });

  it('refuses an empty value for any flag but the lists (exit 2, naming it): --db "" was exit 1 on the working directory', async () => {
    // Regression: `--db ''` (as `--db "$DB"` writes one with DB unset) opened the working
    // directory as the database (exit 1, "is a folder"), `--cert ''` was "cannot read --cert file
    // "": EISDIR", `--redis ''` "not a URL".
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const cases: [string, string][] = [
      ['--port', 'a port is 0 to 65535'],
      ['--db', "the database file's path"],
      ['--cert', "the certificate's file (PEM)"],
      ['--key', "the private key's file (PEM)"],
      ['--drain', 'milliseconds, 0 to 20000'],
      ['--redis', 'a URL: redis://host:port or rediss://host:port'],
      ['--redis-password-file', "the file holding Redis's password"],
      ['--redis-ca', "the CA's file (PEM)"],
      ['--redis-cert', "the client certificate's file (PEM)"],
      ['--redis-key', "the client certificate's private key file (PEM)"],
      ['--presence-ttl', 'milliseconds, 300 to 2147483647'],
    ];
    for (const [flag, what] of cases) {
      // Last on the line, so that no other check comes first (--db's own value is a good one).
      const { output, exit } = run(['--port', '0', '--db', db, flag, ''], { INIT_CWD: dir }, dir);
      expect(await exit, flag).toBe(2);
      expect(await output).toMatch(
        new RegExp(`^riptide-chat: invalid ${flag} "": ${what.replace(/[().]/g, '\\$&')}\nusage: `),
      );
    }
    expect(existsSync(db)).toBe(false);
    // A list's empty flag is "none", over its variable (which would refuse the start here).
    const lists = run(
      ['--port', '0', '--db', db, '--allowed-origin', '', '--trust-proxy', ''],
      { CHAT_ALLOWED_ORIGINS: 'not an origin', CHAT_TRUST_PROXY: 'not an address' },
      dir,
    );
    expect(await lists.output).toMatch(/listening on /);
    lists.child.kill('SIGTERM');
    expect(await lists.exit).toBe(0);
  });

  it('names the certificate or key that was set without its partner, the flag or the variable, for https and for Redis', async () => {
    // Regression: "--cert and --key go together" (and "--redis-cert and --redis-key go together")
    // named the flags to an operator who had set CHAT_TLS_CERT or CHAT_REDIS_KEY.
    const dir = tempDir();
    const db = join(dir, 'chat.db');
    const [a, b] = [selfSignedCertificate(), selfSignedCertificate()];
    writeFileSync(join(dir, 'cert.pem'), a.cert);
    writeFileSync(join(dir, 'key.pem'), a.key);
    writeFileSync(join(dir, 'other-key.pem'), b.key);
    const rediss = ['--redis', 'rediss://127.0.0.1:1'];
    const cases: [string[], Record<string, string>, string][] = [
      [[], { CHAT_TLS_CERT: 'cert.pem' }, 'CHAT_TLS_CERT needs its private key too: --key or CHAT_TLS_KEY'],
      [['--cert', 'cert.pem'], {}, '--cert needs its private key too: --key or CHAT_TLS_KEY'],
      [[], { CHAT_TLS_KEY: 'key.pem' }, 'CHAT_TLS_KEY needs its certificate too: --cert or CHAT_TLS_CERT'],
      [['--key', 'key.pem'], {}, '--key needs its certificate too: --cert or CHAT_TLS_CERT'],
      [
        rediss,
        { CHAT_REDIS_CERT: 'cert.pem' },
        'CHAT_REDIS_CERT needs its private key too: --redis-key or CHAT_REDIS_KEY',
      ],
      [
        [...rediss, '--redis-key', 'key.pem'],
        {},
        '--redis-key needs its certificate too: --redis-cert or CHAT_REDIS_CERT',
      ],
      [
        rediss,
        { CHAT_REDIS_CERT: 'cert.pem', CHAT_REDIS_KEY: 'other-key.pem' },
        'CHAT_REDIS_KEY does not go with CHAT_REDIS_CERT: ',
      ],
      [
        [],
        { CHAT_REDIS_URL: 'redis://127.0.0.1:1', CHAT_REDIS_CA: 'cert.pem' },
        'CHAT_REDIS_CA needs a rediss:// URL in CHAT_REDIS_URL',
      ],
    ];
    for (const [args, env, line] of cases) {
      const { output, exit } = run(['--port', '0', '--db', db, ...args], { INIT_CWD: dir, ...env }, dir);
      expect(await exit, line).toBe(2);
      expect((await output).startsWith(`riptide-chat: ${line}`), await output).toBe(true);
    }
    expect(existsSync(db)).toBe(false);
  });

  it("matches the README's table: the flags of --help and the environment variables main.ts reads", async () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const rows = readFileSync(join(root, 'README.md'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('| `--'));
    const names = (text: string, pattern: RegExp) => [...new Set(text.match(pattern))].sort();
    const { output, exit } = run(['--help'], {}, tempDir());
    expect(await exit).toBe(0);
    expect(names(rows.map((row) => row.split('|')[1]).join(' '), /--[a-z-]+/g)).toEqual(
      names(await output, /--[a-z-]+/g),
    );
    const source = readFileSync(join(root, 'packages', 'chat', 'src', 'server', 'main.ts'), 'utf8');
    expect(names(rows.map((row) => row.split('|')[2]).join(' '), /CHAT_[A-Z_]+/g)).toEqual(
      // Read as env.CHAT_X, or named in a string (a table of flag and variable, as for Redis's TLS files).
      names(source, /(?<=env\.|')CHAT_[A-Z_]+/g),
    );
  });
});
