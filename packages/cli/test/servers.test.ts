/**
 * The server commands (echo, broadcast, listen) as child processes, with `ws` clients.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket as Riptide } from 'riptide';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type Cli,
  killAll,
  PATIENT,
  run,
  selfSignedCertificate,
  startServer,
  USAGE,
  WAIT_FOR_CLOSE,
} from './helpers.js';
import { until } from './peers.js';

afterEach(() => killAll());

interface Client {
  ws: WebSocket;
  received: string[];
  closed: Promise<[number, string]>;
  /** resolves once `count` messages have arrived */
  next(count?: number): Promise<string[]>;
}

async function client(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  const received: string[] = [];
  let waiting: (() => void) | null = null;
  ws.on('message', (data, isBinary) => {
    received.push(isBinary ? `binary:${(data as Buffer).toString('hex')}` : data.toString());
    waiting?.();
  });
  const closed = new Promise<[number, string]>((resolve) =>
    ws.on('close', (code, reason) => resolve([code, reason.toString()])),
  );
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    received,
    closed,
    next: async (count = 1) => {
      while (received.length < count) await new Promise<void>((resolve) => (waiting = resolve));
      return received;
    },
  };
}

describe('riptide echo', () => {
  it('echoes text as text and binary as binary, and logs connections', async () => {
    const { cli, url } = await startServer('echo');
    const c = await client(url);
    c.ws.send('hello');
    c.ws.send(Buffer.from([0, 1, 2]));
    c.ws.send('');
    expect(await c.next(3)).toEqual(['hello', 'binary:000102', '']);
    c.ws.close(1000, 'done');
    // the server's answer repeats the code; whether it repeats the reason is up to the library
    expect((await c.closed)[0]).toBe(1000);
    await cli.waitFor(/\[1\] connected from 127\.0\.0\.1:\d+\n\[1\] closed 1000 done\n/);
  });

  it('--max-message-size closes a client that sends a larger message with 1009, and says why', async () => {
    const { cli, url } = await startServer('echo', '--max-message-size', '1K');
    const c = await client(url);
    c.ws.send('a'.repeat(1024)); // at the limit: echoed
    expect((await c.next(1))[0].length).toBe(1024);
    c.ws.send('a'.repeat(1025));
    expect((await c.closed)[0]).toBe(1009);
    // Regression (with the flag new): "error: Max payload size exceeded", then "closed 1006".
    await cli.waitFor(
      /\[1\] sent a message over --max-message-size \(1024 bytes\): closing it with 1009\n\[1\] closed 1009 \(message too big\)\n/,
    );
  });

  it('--deflate negotiates permessage-deflate with clients that offer it, and serves those that do not', async () => {
    const { url } = await startServer('echo', '--deflate');
    for (const perMessageDeflate of [true, false]) {
      const ws = new WebSocket(url, { perMessageDeflate });
      const echoed = await new Promise<string>((resolve, reject) => {
        ws.on('open', () => ws.send('x'.repeat(10_000)));
        ws.on('message', (data) => resolve(data.toString()));
        ws.on('error', reject);
      });
      expect(echoed).toBe('x'.repeat(10_000));
      expect(ws.extensions, `client offered deflate: ${perMessageDeflate}`).toMatch(
        perMessageDeflate ? /^permessage-deflate/ : /^$/,
      );
      ws.close();
    }
    const res = await run(['connect', url, '--deflate', ...PATIENT], 'compressible compressible\n');
    expect(res.stdout).toBe('compressible compressible\n');
    expect(res.stderr).toMatch(/^connected to .* \(extensions permessage-deflate[^)]*\)\n/);
  });

  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const { url } = await startServer('echo');
    const res = await fetch(url.replace('ws:', 'http:'));
    expect(res.status).toBe(426);
    expect(await res.text()).toContain('WebSocket endpoint');
  });

  it('Ctrl-C closes every client with 1001 and exits 0', async () => {
    const { cli, url } = await startServer('echo');
    const a = await client(url);
    const b = await client(url);
    await cli.waitFor(/\[2\] connected/);
    cli.signal('SIGINT');
    expect(await a.closed).toEqual([1001, 'server shutting down']);
    expect(await b.closed).toEqual([1001, 'server shutting down']);
    expect((await cli.exited).code).toBe(0);
  });

  // Regression: a hang-up (ssh dropped) killed the servers with status 129 and no close frame.
  for (const command of ['echo', 'broadcast', 'listen']) {
    it(`${command}: a hang-up (SIGHUP) and SIGTERM close every client with 1001 and exit 0`, async () => {
      for (const signal of ['SIGHUP', 'SIGTERM'] as const) {
        const { cli, url } = await startServer(command);
        const a = await client(url);
        await cli.waitFor(/\[1\] connected/);
        cli.signal(signal);
        expect(await a.closed, signal).toEqual([1001, 'server shutting down']);
        const res = await cli.exited;
        expect([res.code, res.signal], signal).toEqual([0, null]);
        expect(res.stderr, signal).toBe('');
      }
    });
  }

  it('exits 1 with one line when the port is taken', async () => {
    const { url } = await startServer('echo');
    const port = new URL(url).port;
    const res = await run(['echo', '--port', port]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`riptide echo: cannot listen on 127.0.0.1:${port}: address in use\n`);
  });
});

describe('the servers and a client that does not read', () => {
  // Far more than the server's backlog (4 MiB) plus what loopback's socket buffers hold.
  const CAP = 64 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x42);

  it('echo stops reading from a client that does not read its echoes, says so once, loses nothing', async () => {
    const { cli, url } = await startServer('echo');
    const ws = new WebSocket(url);
    await once(ws, 'open');
    ws.pause(); // read nothing: the echoes wait in the server
    let receivedBytes = 0;
    ws.on('message', (data) => {
      receivedBytes += (data as Buffer).length;
    });
    const told = cli.waitFor(/\[1\] does not read its echoes: reading from it waits until it does\n/);
    let saidSo = false;
    void told.then(() => {
      saidSo = true;
    });
    let sentBytes = 0;
    // each send waits until the socket took it, or until the server says it stopped reading
    while (!saidSo && sentBytes < CAP) {
      sentBytes += chunk.length;
      await Promise.race([new Promise((resolve) => ws.send(chunk, resolve)), told]);
    }
    expect(saidSo).toBe(true);
    ws.resume();
    const closed = once(ws, 'close');
    await until(() => receivedBytes === sentBytes);
    ws.close(1000);
    expect((await closed)[0]).toBe(1000);
    await cli.waitFor(/\[1\] closed 1000/);
    expect(cli.stdout.match(/does not read/g)).toHaveLength(1);
  });

  it('broadcast drops a client that does not read (close 1008) and keeps serving the others', async () => {
    const { cli, url } = await startServer('broadcast');
    const reader = new WebSocket(url);
    const sleeper = new WebSocket(url);
    await Promise.all([once(reader, 'open'), once(sleeper, 'open')]);
    sleeper.pause();
    await cli.waitFor(/\[2\] connected/);
    const dropped = cli.waitFor(/\[2\] dropped: does not read \(over 4 MiB waiting\), close 1008\n/);
    let isDropped = false;
    void dropped.then(() => {
      isDropped = true;
    });
    let sentBytes = 0;
    // each message waits for its broadcast back to the sender, or for the drop
    while (!isDropped && sentBytes < CAP) {
      sentBytes += chunk.length;
      const back = new Promise((resolve) => reader.once('message', resolve));
      reader.send(chunk);
      await Promise.race([back, dropped]);
    }
    expect(isDropped).toBe(true);
    const sleeperClosed = once(sleeper, 'close');
    sleeper.resume();
    const [code, reason] = await sleeperClosed;
    expect([code, String(reason)]).toEqual([1008, 'too far behind: not reading']);
    reader.send('still here');
    const [message] = await once(reader, 'message');
    expect(String(message)).toBe('Server: still here');
    reader.close();
  });
});

describe('riptide broadcast', () => {
  it('greets each client and sends every message to all three clients', async () => {
    const { cli, url } = await startServer('broadcast');
    const clients = [await client(url), await client(url), await client(url)];
    for (const c of clients) expect(await c.next(1)).toEqual(['Welcome to the chat!']);
    clients[0].ws.send('hi all');
    // two senders on two connections have no order between them: send the second after the first
    for (const c of clients) expect((await c.next(2))[1]).toBe('Server: hi all');
    clients[2].ws.send('hello back');
    for (const c of clients) {
      expect(await c.next(3)).toEqual(['Welcome to the chat!', 'Server: hi all', 'Server: hello back']);
    }
    await cli.waitFor(/\[1\] hi all\n/);
    await cli.waitFor(/\[3\] hello back\n/);
    // a closed client no longer receives; the others still do
    clients[1].ws.close();
    await clients[1].closed;
    clients[0].ws.send('after');
    expect(await clients[2].next(4)).toContain('Server: after');
    expect(clients[1].received).toHaveLength(3);
  });

  it('a CLI client receives the welcome and the broadcast of its own message', async () => {
    const { url } = await startServer('broadcast');
    const res = await run(['connect', url, '-x', 'from the cli', '--wait', '0.5', ...WAIT_FOR_CLOSE]);
    expect(res.stdout).toBe('Welcome to the chat!\nServer: from the cli\n');
    expect(res.code).toBe(0);
  });

  it('serves the chat page at / (an input, a Send button, a message list) and 404 elsewhere', async () => {
    const { url } = await startServer('broadcast');
    const http = url.replace('ws:', 'http:');
    const page = await fetch(`${http}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toMatch(/<input id="msg"/);
    expect(html).toMatch(/<button id="send">Send<\/button>/);
    expect(html).toMatch(/<ul id="messages"><\/ul>/);
    // messages are shown as text, never parsed as HTML
    expect(html).toContain('li.textContent = text');
    expect(html).not.toContain('innerHTML');
    expect((await fetch(`${http}/other`)).status).toBe(404);
  });
});

describe('riptide listen', () => {
  async function listenWithClients(n: number): Promise<{ cli: Cli; clients: Client[] }> {
    const { cli, url } = await startServer('listen');
    const clients: Client[] = [];
    for (let i = 1; i <= n; i++) {
      clients.push(await client(url));
      await cli.waitFor(new RegExp(`\\[${i}\\] connected from 127\\.0\\.0\\.1:\\d+`));
    }
    return { cli, clients };
  }

  it('prints what each client sends with its number, and sends typed lines to every client', async () => {
    const { cli, clients } = await listenWithClients(2);
    clients[1].ws.send('from two');
    await cli.waitFor(/\[2\] from two\n/);
    clients[0].ws.send(Buffer.from('ab'));
    await cli.waitFor(/\[1\] binary 2 bytes: 61 62\n/);
    cli.write('to everyone\n');
    for (const c of clients) expect(await c.next(1)).toEqual(['to everyone']);
    cli.write('/binary 00 ff\n');
    for (const c of clients) expect(await c.next(2)).toEqual(['to everyone', 'binary:00ff']);
    cli.write('//not a command\n');
    for (const c of clients) expect((await c.next(3))[2]).toBe('/not a command');
  });

  it('/clients lists the connected clients and /kick n closes one', async () => {
    const { cli, clients } = await listenWithClients(3);
    cli.write('/clients\n');
    await cli.waitFor(/\[1\] 127\.0\.0\.1:\d+\n\[2\] 127\.0\.0\.1:\d+\n\[3\] 127\.0\.0\.1:\d+\n/);
    cli.write('/kick 2 enough\n');
    expect(await clients[1].closed).toEqual([1000, 'enough']);
    await cli.waitFor(/\[2\] closed 1000 enough\n/);
    const before = cli.stdout.length;
    cli.write('/clients\n');
    await cli.waitFor(/\[3\] 127\.0\.0\.1:\d+\n$/);
    expect(cli.stdout.slice(before)).not.toContain('[2]');
    cli.write('/kick 9\n');
    await cli.waitFor(/no client '9'; \/clients lists them\n/);
    // Regression: a reason over 123 bytes threw out of the line handler and killed the server.
    cli.write(`/kick 1 ${'r'.repeat(124)}\n`);
    await cli.waitFor(/error: .*123 bytes\n/);
    cli.write('/kick 1\n');
    expect(await clients[0].closed).toEqual([1000, 'kicked']);
  });

  it('keeps serving after piped input ends; Ctrl-C closes the clients with 1001', async () => {
    const { cli, clients } = await listenWithClients(1);
    cli.end('last line\n');
    expect(await clients[0].next(1)).toEqual(['last line']);
    clients[0].ws.send('still here');
    await cli.waitFor(/\[1\] still here\n/);
    cli.signal('SIGINT');
    expect(await clients[0].closed).toEqual([1001, 'server shutting down']);
    expect((await cli.exited).code).toBe(0);
  });

  it('serves with an input that ended before any client came (/dev/null under a process manager); SIGTERM stops it', async () => {
    const { cli, url } = await startServer('listen');
    cli.end();
    // The end of input is read before the client below connects or not: either way nothing stops.
    const c = await client(url);
    await cli.waitFor(/\[1\] connected from/);
    c.ws.send('after the end');
    await cli.waitFor(/\[1\] after the end\n/);
    cli.signal('SIGTERM');
    expect(await c.closed).toEqual([1001, 'server shutting down']);
    expect((await cli.exited).code).toBe(0);
  });
});

/**
 * The opening handshake with these headers, answered with its status and body (101: the
 * WebSocket was accepted; its socket is closed at once).
 */
function handshake(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Origin check (cross-site WebSocket hijacking)', () => {
  it('on loopback: refuses another site with 403 and a log line, accepts local pages and non-browsers', async () => {
    const { cli, url } = await startServer('listen');
    const port = new URL(url).port;
    const refused = await handshake(url, { Origin: 'https://evil.example' });
    expect(refused).toEqual({
      status: 403,
      body: 'Forbidden: origin not allowed (riptide listen --allow-origin)',
    });
    await cli.waitFor(
      /refused 127\.0\.0\.1:\d+: origin https:\/\/evil\.example, not a local page \(--allow-origin https:\/\/evil\.example accepts it\)\n/,
    );
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, so the Host matches its Origin.
    const rebound = `http://evil.example:${port}`;
    expect(await handshake(url, { Origin: rebound, Host: `evil.example:${port}` })).toMatchObject({
      status: 403,
    });
    expect(await handshake(url, { Origin: 'null' })).toMatchObject({ status: 403 });
    expect(cli.stdout).not.toMatch(/connected from/);
    for (const origin of [undefined, `http://127.0.0.1:${port}`, 'http://localhost:3000'])
      expect(await handshake(url, origin === undefined ? {} : { Origin: origin })).toEqual({
        status: 101,
        body: '',
      });
    await cli.waitFor(/\[3\] connected from/);
  });

  it('--allow-origin accepts the origins it names (repeatable), null, or any with *', async () => {
    const { cli, url } = await startServer(
      'echo',
      '--allow-origin',
      'https://app.example',
      '--allow-origin',
      'null',
    );
    expect(await handshake(url, { Origin: 'https://app.example' })).toMatchObject({ status: 101 });
    expect(await handshake(url, { Origin: 'null' })).toMatchObject({ status: 101 });
    expect(await handshake(url, { Origin: 'https://other.example' })).toMatchObject({ status: 403 });
    await cli.waitFor(/refused .*: origin https:\/\/other\.example, not a local page/);
    const any = await startServer('broadcast', '--allow-origin', '*');
    expect(await handshake(any.url, { Origin: 'https://other.example' })).toMatchObject({ status: 101 });
    // A CLI client sending a foreign --origin is a browser page to the server: refused by default.
    const blocked = await startServer('echo');
    const res = await run(['connect', blocked.url, '--origin', 'https://other.example', '-x', 'hi']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/403 Forbidden/);
  });

  it('on another address: accepts the pages of the host the request names (the broadcast page)', async () => {
    const { url } = await startServer('broadcast', '--host', '0.0.0.0');
    const port = new URL(url).port;
    const local = `ws://127.0.0.1:${port}`;
    expect(await handshake(local, { Origin: `http://127.0.0.1:${port}` })).toMatchObject({ status: 101 });
    expect(
      await handshake(local, { Origin: `http://box.lan:${port}`, Host: `box.lan:${port}` }),
    ).toMatchObject({
      status: 101,
    });
    // Not loopback-bound: a local page on another port is another site.
    expect(await handshake(local, { Origin: 'http://localhost:3000' })).toMatchObject({ status: 403 });
  });

  it.each([
    ['echo', 'https://a.test/'],
    ['listen', ''],
    ['broadcast', 'app.example'],
  ])('%s --allow-origin %j is a usage error (exit 2)', async (command, value) => {
    const res = await run([command, '--port', '0', '--allow-origin', value]);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(
      new RegExp(`^riptide ${command}: --allow-origin must be an origin .* or null, or '\\*' for any, got "`),
    );
    expect(res.stderr).toMatch(USAGE);
  });
});

describe('--cert/--key: wss:// over HTTP/2 and HTTP/1.1 on one port', () => {
  let dir: string;
  let cert: string;
  let key: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'riptide-cli-h2-'));
    ({ cert, key } = selfSignedCertificate(dir));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('echo serves an HTTP/1.1 client and an HTTP/2 client on the same port, and says which', async () => {
    const { cli, url } = await startServer('echo', '--cert', cert, '--key', key);
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    for (const http2 of [false, true]) {
      const ws = new Riptide(url, { http2, rejectUnauthorized: false });
      await once(ws, 'open');
      const reply = once(ws, 'message');
      ws.send(`over ${http2 ? 'h2' : 'h1'}`);
      expect(String((await reply)[0])).toBe(`over ${http2 ? 'h2' : 'h1'}`);
      ws.close();
      await once(ws, 'close');
    }
    await cli.waitFor(/\[1\] connected from 127\.0\.0\.1:\d+\n/);
    await cli.waitFor(/\[2\] connected from 127\.0\.0\.1:\d+ \(HTTP\/2\)\n/);
  });

  it('connect --http2 opens its WebSocket as an HTTP/2 stream', async () => {
    const { cli, url } = await startServer('echo', '--cert', cert, '--key', key);
    // piped input: the client closes as soon as the line has had its reply
    const res = await run(['connect', url, '--http2', '--ca', cert, ...PATIENT], 'hello h2\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('hello h2\n');
    await cli.waitFor(/\[1\] connected from 127\.0\.0\.1:\d+ \(HTTP\/2\)\n/);
  });

  it('broadcast serves its page over HTTP/2 too; a plain request to echo gets 400 (no 426 without Upgrade)', async () => {
    const { url } = await startServer('broadcast', '--cert', cert, '--key', key);
    const origin = url.replace(/^wss/, 'https');
    const session = http2.connect(origin, { ca: readFileSync(cert) });
    session.on('error', () => {}); // the server is killed after the test
    try {
      const page = session.request({ ':path': '/' });
      const [headers] = await once(page, 'response');
      let body = '';
      page.setEncoding('utf8').on('data', (c: string) => (body += c));
      await once(page, 'end');
      expect(headers[':status']).toBe(200);
      expect(body).toContain('<title>riptide broadcast</title>');
    } finally {
      // Wait until the socket is gone: node ends it gracefully and stops listening for its errors,
      // so a reset from the server killed after the test would be an uncaught ECONNRESET.
      session.close();
      await once(session, 'close');
    }
    const echo = await startServer('echo', '--cert', cert, '--key', key);
    const plain = http2.connect(echo.url.replace(/^wss/, 'https'), { ca: readFileSync(cert) });
    plain.on('error', () => {});
    try {
      const req = plain.request({ ':path': '/' });
      const [headers] = await once(req, 'response');
      req.resume();
      expect(headers[':status']).toBe(400);
    } finally {
      plain.close();
      await once(plain, 'close');
    }
  });

  it('refuses a foreign origin over HTTP/2 too', async () => {
    const { cli, url } = await startServer('echo', '--cert', cert, '--key', key);
    const ws = new Riptide(url, { http2: true, rejectUnauthorized: false, origin: 'https://evil.example' });
    const [err] = (await once(ws, 'error')) as [Error];
    expect(err.message).toMatch(/403/);
    await cli.waitFor(
      /refused 127\.0\.0\.1:\d+ \(HTTP\/2\): origin https:\/\/evil\.example, not a local page/,
    );
  });

  it.each([
    [['--cert', 'x.pem'], /--cert needs --key/],
    [['--key', 'x.pem'], /--key needs --cert/],
    [['--cert', '/nonexistent/cert.pem', '--key', '/nonexistent/key.pem'], /cannot read --cert file/],
  ])('usage error (exit 2) for %j', async (args, reason) => {
    const res = await run(['echo', '--port', '0', ...args]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(reason);
    expect(res.stderr).toMatch(USAGE);
  });
});
