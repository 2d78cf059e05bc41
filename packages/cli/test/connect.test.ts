import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, INPUT_BACKLOG } from '../src/commands/connect.js';
import {
  BIN,
  Cli,
  killAll,
  PATIENT,
  run,
  selfSignedCertificate,
  startServer,
  WAIT_FOR_CLOSE,
} from './helpers.js';
import { type Peer, until, wsPeer } from './peers.js';

const peers: Peer[] = [];
afterEach(async () => {
  killAll();
  await Promise.all(peers.splice(0).map((p) => p.close()));
});
async function peer(...args: Parameters<typeof wsPeer>): Promise<Peer> {
  const p = await wsPeer(...args);
  peers.push(p);
  return p;
}

describe('riptide connect: piped mode', () => {
  it('sends each line, prints each echo, then closes with 1000 (against riptide echo)', async () => {
    const { cli: server, url } = await startServer('echo');
    const res = await run(['connect', url, ...PATIENT], 'a\nb\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('a\nb\n');
    expect(res.stderr).toBe(`connected to ${url}/\nclosed 1000\n`);
    await server.waitFor(/\[1\] closed 1000/);
  });

  it('does not print the password of the URL it connects to (text and --json)', async () => {
    const { cli: server, url } = await startServer('echo');
    const withUser = url.replace('ws://', 'ws://bob:s3cret@');
    const res = await run(['connect', withUser, ...PATIENT], 'a\n');
    expect(res.code).toBe(0);
    expect(res.stderr).toBe(`connected to ${url.replace('ws://', 'ws://bob:***@')}/\nclosed 1000\n`);
    const json = await run(['connect', withUser, '--json', ...PATIENT], 'a\n');
    expect(json.code).toBe(0);
    expect(json.stdout).not.toContain('s3cret');
    expect(JSON.parse(json.stdout.split('\n')[0])).toMatchObject({
      event: 'open',
      url: `${url.replace('ws://', 'ws://bob:***@')}/`,
    });
    await server.waitFor(/\[2\] closed 1000/);
  });

  it('--binary sends piped bytes as they are, as binary messages (not lines, not decoded as UTF-8)', async () => {
    const got: [Buffer, boolean][] = [];
    const p = await peer((ws) => {
      ws.on('message', (data, isBinary) => {
        got.push([Buffer.from(data as Buffer), isBinary]);
        ws.send('ok');
      });
    });
    // Invalid UTF-8 and newlines: one write of a pipe, one read, one message.
    const bytes = Buffer.from([0xff, 0xfe, 0x0a, 0x00, 0xc3, 0x28, 0x0d, 0x0a]);
    const res = await run(['connect', p.url, '--binary', ...PATIENT], bytes);
    expect([res.code, res.stdout]).toEqual([0, 'ok\n']);
    expect(got).toEqual([[bytes, true]]);
    // -x messages go binary too (-w 0: close once sent; the close goes after them).
    got.length = 0;
    const x = await run(['connect', p.url, '-b', '-x', 'hi', '-w', '0', ...WAIT_FOR_CLOSE]);
    expect(x.code).toBe(0);
    expect(got).toEqual([[Buffer.from('hi'), true]]);
  });

  it('--binary writes binary messages received to a piped stdout as their bytes (a round trip is exact)', async () => {
    // Regression: they were shown as `binary 300 bytes: <the first 32 in hex> ...`, so
    // `riptide connect -b URL < in.bin > out.bin` through an echo server kept none of the data.
    const p = await peer((ws) => {
      ws.on('message', (data, isBinary) => {
        ws.send(data as Buffer, { binary: isBinary });
        ws.send('text stays a line');
      });
    });
    const bytes = Buffer.alloc(300);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) % 256; // 0x0a, 0xff, 0x1b among them
    const child = spawn(process.execPath, [BIN, 'connect', p.url, '-b', ...PATIENT], { stdio: 'pipe' });
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stdin.end(bytes);
    const [code] = await once(child, 'close');
    expect(code).toBe(0);
    expect(Buffer.concat(out).equals(Buffer.concat([bytes, Buffer.from('text stays a line\n')]))).toBe(true);
  });

  it('--binary with --json still prints binary messages as JSON events, whole hex', async () => {
    const p = await peer((ws) => ws.on('message', (data) => ws.send(data as Buffer, { binary: true })));
    const res = await run(['connect', p.url, '-b', '--json', ...PATIENT], Buffer.from([0, 0xff]));
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('{"event":"message","type":"binary","length":2,"hex":"00ff"}\n');
  });

  it('--binary in a terminal is a usage error (/binary <hex> is there for bytes)', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const io = { stdin, stdout: new PassThrough(), stderr: new PassThrough() };
    await expect(connect(['ws://127.0.0.1:9', '--binary'], io)).rejects.toThrow(
      '--binary sends piped input (or -x); in a terminal, /binary <hex> sends bytes',
    );
  });

  it('--binary input larger than the send backlog arrives whole, in order, every byte', async () => {
    const got: Buffer[] = [];
    const p = await peer((ws) => {
      ws.on('message', (data, isBinary) => {
        got.push(isBinary ? Buffer.from(data as Buffer) : Buffer.from('TEXT'));
        ws.send('ok');
      });
    });
    const input = Buffer.alloc(3 * INPUT_BACKLOG);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7919) % 251;
    const res = await run(['connect', p.url, '--binary', ...PATIENT], input);
    expect(res.code).toBe(0);
    expect(Buffer.concat(got).equals(input)).toBe(true);
    expect(res.stdout).toBe('ok\n'.repeat(got.length));
  });

  it('closes only after every line has had its reply', async () => {
    // Replies come late, after the input has ended: the server holds them until the last line
    // has arrived. The client must not close before they do (--wait is only an upper bound).
    const p = await peer((ws) => {
      const lines: string[] = [];
      ws.on('message', (data) => {
        lines.push(String(data));
        if (lines.length === 3) for (const line of lines) ws.send(`re:${line}`);
      });
    });
    const res = await run(['connect', p.url, ...PATIENT], 'one\ntwo\nthree\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('re:one\nre:two\nre:three\n');
    await until(() => p.closes.length === 1);
    expect(p.closes[0]).toEqual([1000, '']);
  });

  it('gives up waiting for replies after --wait seconds and still closes cleanly', async () => {
    const p = await peer(() => {}); // never answers
    const started = Date.now();
    const res = await run(['connect', p.url, '--wait', '0.5', ...WAIT_FOR_CLOSE], 'anyone?\n');
    const elapsed = Date.now() - started;
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('');
    expect(elapsed).toBeGreaterThanOrEqual(500);
    await until(() => p.closes.length === 1);
    expect(p.closes[0]).toEqual([1000, '']);
  });

  it('sends lines that start with a slash as data (slash commands are interactive only)', async () => {
    const p = await peer();
    const res = await run(['connect', p.url, ...WAIT_FOR_CLOSE], '/close 4000\n');
    expect(res.stdout).toBe('/close 4000\n');
    expect(res.code).toBe(0);
  });

  it('closes at once on empty input', async () => {
    const p = await peer();
    const res = await run(['connect', p.url, ...WAIT_FOR_CLOSE], '');
    expect(res.code).toBe(0);
    await until(() => p.closes.length === 1);
    expect(p.closes[0][0]).toBe(1000);
  });
});

describe('riptide connect: piped input faster than the socket', () => {
  it('stops reading stdin while the server does not read, then sends every line and closes', async () => {
    // In-process, so that the reader's pause of stdin is an event to wait for. The peer stops
    // reading its socket: the client must stop reading its input rather than hold all of it.
    const received: string[] = [];
    let connected: (ws: { resume(): void }) => void = () => {};
    const connection = new Promise<{ resume(): void }>((resolve) => {
      connected = resolve;
    });
    const p = await peer((ws) => {
      ws.pause();
      ws.on('message', (data) => received.push(String(data)));
      connected(ws);
    });
    const stdin = new PassThrough();
    const stdout = new PassThrough().resume();
    const stderr = new PassThrough();
    const exit = connect([p.url, '--wait', '0'], { stdin, stdout, stderr });
    const server = await connection;
    // 'open' on the client: its status line
    await new Promise((resolve) => stderr.once('data', resolve));
    stderr.resume();
    let paused = false;
    const pause = new Promise<void>((resolve) => stdin.once('pause', resolve)).then(() => {
      paused = true;
    });
    const line = `${'x'.repeat(1023)}\n`;
    const chunk = line.repeat(64);
    let lines = 0;
    // Far more than INPUT_BACKLOG plus what the kernel's socket buffers hold.
    const cap = 64 * INPUT_BACKLOG;
    while (!paused && lines * line.length < cap) {
      lines += 64;
      if (!stdin.write(chunk)) await Promise.race([new Promise((r) => stdin.once('drain', r)), pause]);
    }
    expect(paused).toBe(true);
    expect(lines * line.length).toBeLessThan(cap);
    server.resume();
    stdin.end();
    expect(await exit).toBe(0);
    await until(() => p.closes.length === 1);
    expect(p.closes[0]).toEqual([1000, '']);
    expect(received.length).toBe(lines);
    expect(received.every((m) => m === line.slice(0, -1))).toBe(true);
  });
});

describe('riptide connect: output', () => {
  it('prints binary messages as length and hex, text with control characters escaped', async () => {
    const p = await peer((ws) => {
      ws.send(Buffer.from([1, 2, 0xff]));
      ws.send('bell\u0007 esc\u001b[31m');
      ws.send(Buffer.alloc(40, 0xab));
      ws.close(1000, 'bye');
    });
    const res = await run(['connect', p.url, ...WAIT_FOR_CLOSE], '');
    expect(res.stdout).toBe(
      'binary 3 bytes: 01 02 ff\n' +
        'bell\\x07 esc\\e[31m\n' +
        `binary 40 bytes: ${Array(32).fill('ab').join(' ')} ...\n`,
    );
    expect(res.stderr).toMatch(/closed 1000 bye\n$/);
    expect(res.code).toBe(0);
  });

  it('--max-message-size: a larger message from the server is refused with 1009, said in terms of the flag', async () => {
    const p = await peer((ws) => {
      ws.send('0123456789'); // at the limit: shown
      ws.send('0123456789a');
    });
    // stdin left open: its end would close the connection (1000) before the messages arrive.
    const res = await new Cli(['connect', p.url, '--max-message-size', '10', ...WAIT_FOR_CLOSE]).exited;
    expect(res.stdout).toBe('0123456789\n');
    expect(res.stderr).toMatch(
      /\nerror: the server sent a message over --max-message-size \(10 bytes\): closing with 1009\nclosed 1009 \(message too big\)\n$/,
    );
    expect(res.code).toBe(1);
    await until(() => p.closes.length > 0);
    expect(p.closes[0][0]).toBe(1009);
  });

  it('--json prints one JSON object per event on stdout', async () => {
    const p = await peer((ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.send(Buffer.from('hi'));
    });
    const res = await run(['connect', p.url, '--json', '-p', 'chat', ...PATIENT], 'x\n');
    expect(res.code).toBe(0);
    const events = res.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toEqual([
      { event: 'open', url: `${p.url}/`, protocol: 'chat', extensions: '' },
      { event: 'message', type: 'binary', length: 2, hex: '6869' },
      { event: 'message', type: 'text', data: 'x' },
      { event: 'close', code: 1000, reason: '' },
    ]);
    expect(res.stderr).toBe('');
  });

  it('--show-ping prints pings from the server', async () => {
    const p = await peer((ws) => {
      ws.ping('hb');
      ws.close(1000); // after the ping on the same connection: it arrives first
    });
    const res = await run(['connect', p.url, '--show-ping', '--json', ...WAIT_FOR_CLOSE], '');
    expect(res.stdout).toContain('{"event":"ping","hex":"6862"}');
    const quiet = await run(['connect', p.url, '--json', ...WAIT_FOR_CLOSE], '');
    expect(quiet.stdout).not.toContain('ping');
  });

  it('reports the close code and reason the server sent, exit 0', async () => {
    const p = await peer((ws) => ws.close(4001, 'go away'));
    const res = await run(['connect', p.url, ...WAIT_FOR_CLOSE], '');
    expect(res.stderr).toContain('closed 4001 go away');
    expect(res.code).toBe(0);
  });

  it('exits 3 when the server closes with a code that reports a failure (1009, 1011...), 0 for a normal one', async () => {
    // Regression: the exit was 0 whatever the server's code, so a script could not tell a server
    // that failed (1011) or refused what it was sent (1009) from a normal end.
    const cases: [code: number | undefined, exit: number, said: string][] = [
      [1009, 3, 'closed 1009 (message too big)'],
      [1011, 3, 'closed 1011 (server error)'],
      [1008, 3, 'closed 1008 (policy violation)'],
      [1013, 3, 'closed 1013 (try again later)'],
      [1000, 0, 'closed 1000'],
      [1001, 0, 'closed 1001 (going away)'],
      [undefined, 0, 'closed 1005 (no code given)'], // a close frame without a code
      [4000, 0, 'closed 4000'],
    ];
    // Each case against its own server, all at once: the verdicts do not depend on each other.
    const outcomes = await Promise.all(
      cases.map(async ([code]) => {
        // The server closes first (at the connection, no input read): its code is the verdict.
        const p = await peer((ws) => ws.close(code));
        // stdin left open: its end would close the connection (1000) before the server's close.
        const [text, json] = await Promise.all([
          new Cli(['connect', p.url, ...WAIT_FOR_CLOSE]).exited,
          new Cli(['connect', p.url, '--json', ...WAIT_FOR_CLOSE]).exited,
        ]);
        return [
          code,
          text.code,
          text.stderr.trimEnd().split('\n').at(-1),
          json.code,
          JSON.parse(json.stdout.trimEnd().split('\n').at(-1) ?? 'null'),
        ];
      }),
    );
    expect(outcomes).toEqual(
      cases.map(([code, exit, said]) => [
        code,
        exit,
        said,
        exit,
        { event: 'close', code: code ?? 1005, reason: '' },
      ]),
    );
  });

  it('exits 1 when the connection drops without a close frame', async () => {
    let server: { terminate(): void } | null = null;
    const p = await peer((ws) => {
      server = ws;
    });
    const cli = new Cli(['connect', p.url, ...WAIT_FOR_CLOSE]);
    await cli.waitFor(/connected to/, 'stderr');
    server!.terminate();
    const res = await cli.exited;
    expect(res.stderr).toMatch(/\nclosed 1006 \(the connection ended without a closing handshake\)\n$/);
    // it was not our close that went unanswered
    expect(res.stderr).not.toMatch(/no answer/);
    expect(res.code).toBe(1);
  });
});

describe('riptide connect: flags', () => {
  it('sends -H headers (repeatable), -p subprotocols, --origin and --auth', async () => {
    const p = await peer(undefined, { handleProtocols: (set) => (set.has('b') ? 'b' : false) });
    const res = await run(
      [
        'connect',
        p.url,
        '-H',
        'X-One: 1',
        '--header',
        'X-Two: two words',
        '-p',
        'a',
        '--protocol',
        'b',
        '--origin',
        'https://example.test',
        '--auth',
        'user:secret',
        ...WAIT_FOR_CLOSE,
      ],
      '',
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('(subprotocol b)');
    const { headers } = p.requests[0];
    expect(headers['x-one']).toBe('1');
    expect(headers['x-two']).toBe('two words');
    expect(headers['sec-websocket-protocol']?.split(/, */)).toEqual(['a', 'b']);
    expect(headers.origin).toBe('https://example.test');
    expect(headers.authorization).toBe(`Basic ${Buffer.from('user:secret').toString('base64')}`);
  });

  it('--origin sends any serialized origin or null exactly as given', async () => {
    const p = await peer();
    const origins = [
      'null',
      'http://[::1]:8080',
      'HTTPS://Example.TEST:443',
      'chrome-extension://abcdef',
      'http://127.0.0.1',
    ];
    for (const origin of origins) {
      const res = await run(['connect', p.url, '--origin', origin, ...WAIT_FOR_CLOSE], '');
      expect(res.code).toBe(0);
    }
    expect(p.requests.map((r) => r.headers.origin)).toEqual(origins);
  });

  it('--deflate offers permessage-deflate and uses it; without it nothing is offered', async () => {
    const p = await peer(undefined, { perMessageDeflate: { threshold: 0 } });
    const res = await run(['connect', p.url, '--deflate', '--json', ...PATIENT], 'squeeze me squeeze me\n');
    expect(res.code).toBe(0);
    const [open, message] = res.stdout.split('\n').map((line) => (line ? JSON.parse(line) : null));
    expect(open.extensions).toMatch(/^permessage-deflate/);
    expect(message).toEqual({ event: 'message', type: 'text', data: 'squeeze me squeeze me' });
    expect(p.requests[0].headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    const plain = await run(['connect', p.url, ...PATIENT], 'x\n');
    expect(plain.stdout).toBe('x\n');
    expect(p.requests[1].headers['sec-websocket-extensions']).toBeUndefined();
  });

  it('-x sends each message, waits --wait seconds, then closes with 1000', async () => {
    const p = await peer();
    const res = await run([
      'connect',
      p.url,
      '-x',
      'first',
      '-x',
      'second',
      '--wait',
      '0.3',
      ...WAIT_FOR_CLOSE,
    ]);
    expect(res.stdout).toBe('first\nsecond\n');
    expect(res.code).toBe(0);
    await until(() => p.closes.length === 1);
    expect(p.closes[0]).toEqual([1000, '']);
  });

  it('accepts a URL without a scheme and http:// as ws://', async () => {
    const p = await peer();
    const bare = p.url.replace('ws://', '');
    expect((await run(['connect', bare, '-x', 'a', '-w', '0.1', ...WAIT_FOR_CLOSE])).stdout).toBe('a\n');
    const http = p.url.replace('ws://', 'http://');
    expect((await run(['connect', http, '-x', 'b', '-w', '0.1', ...WAIT_FOR_CLOSE])).stdout).toBe('b\n');
  });
});

/**
 * A server that completes the opening handshake and then ignores everything, so a close frame
 * from the client is never answered: only the second Ctrl-C can end the client.
 */
async function silentServer(): Promise<{ url: string; server: TcpServer; frames: Buffer[] }> {
  const frames: Buffer[] = [];
  const server = createTcpServer((socket) => {
    let head = '';
    socket.on('data', (chunk) => {
      if (!head.includes('\r\n\r\n')) {
        head += chunk.toString('latin1');
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
        if (head.includes('\r\n\r\n') && key) {
          const accept = createHash('sha1')
            .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
            .digest('base64');
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
          );
        }
        return;
      }
      frames.push(chunk);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server, frames };
}

describe('riptide connect: Ctrl-C', () => {
  it('the first Ctrl-C sends close 1000 and exits 0 once the server answers', async () => {
    const p = await peer();
    const cli = new Cli(['connect', p.url, ...WAIT_FOR_CLOSE]);
    await cli.waitFor(/connected to/, 'stderr');
    cli.signal('SIGINT');
    const res = await cli.exited;
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('closing (Ctrl-C again to quit now)');
    expect(res.stderr).toContain('closed 1000');
    await until(() => p.closes.length === 1);
    expect(p.closes[0]).toEqual([1000, '']);
  });

  it('Ctrl-C during the handshake exits 130 without calling it a failed connection', async () => {
    // Regression: the handshake that Ctrl-C cut short was then reported as "riptide: connection
    // failed: WebSocket was closed before the connection was established".
    const requests: string[] = [];
    let arrived: () => void = () => {};
    const request = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const mute = createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (chunk) => {
        requests.push(chunk.toString('latin1'));
        arrived();
      });
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const cli = new Cli(['connect', `ws://127.0.0.1:${(mute.address() as AddressInfo).port}`]);
      await request; // the request is written: the handshake is under way, never answered
      cli.signal('SIGINT');
      const res = await cli.exited;
      expect(res.code).toBe(130);
      expect(res.stderr).toBe('\n');
      expect(requests[0]).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
    } finally {
      mute.close();
    }
  });

  it('a second Ctrl-C exits at once when the server never answers the close', async () => {
    const silent = await silentServer();
    try {
      const cli = new Cli(['connect', silent.url, ...WAIT_FOR_CLOSE]);
      await cli.waitFor(/connected to/, 'stderr');
      cli.signal('SIGINT');
      await cli.waitFor(/closing/, 'stderr');
      await until(() => silent.frames.length > 0);
      // a masked close frame: FIN + opcode 8, mask bit + length 2 (the code 1000)
      expect(silent.frames[0].subarray(0, 2)).toEqual(Buffer.from([0x88, 0x82]));
      cli.signal('SIGINT');
      const res = await cli.exited;
      expect(res.code).toBe(130);
    } finally {
      silent.server.close();
    }
  });
});

describe('riptide connect: SIGTERM and a hang-up (SIGHUP)', () => {
  // Before: SIGTERM and SIGHUP killed connect (143, 129) without a close frame (the server saw 1006).
  for (const [signal, status] of [
    ['SIGHUP', 129],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} closes with 1001 and exits ${status} once the server answers`, async () => {
      const p = await peer();
      const cli = new Cli(['connect', p.url, ...WAIT_FOR_CLOSE]);
      await cli.waitFor(/connected to/, 'stderr');
      cli.signal(signal);
      const res = await cli.exited;
      expect([res.code, res.signal]).toEqual([status, null]);
      expect(res.stderr).toContain('closed 1001');
      await until(() => p.closes.length === 1);
      expect(p.closes[0]).toEqual([1001, '']);
    });
  }

  it('a signal before the connection opened exits at once with its status', async () => {
    let arrived: () => void = () => {};
    const request = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const mute = createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => arrived());
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const cli = new Cli(['connect', `ws://127.0.0.1:${(mute.address() as AddressInfo).port}`]);
      await request;
      cli.signal('SIGHUP');
      const res = await cli.exited;
      expect([res.code, res.signal, res.stderr]).toEqual([129, null, '']);
    } finally {
      mute.close();
    }
  });
});

describe('riptide connect: output slower than the connection', () => {
  it('--json: stops reading from the server while stdout is not read, then prints every event whole, one per line', async () => {
    const count = 64;
    const big = 'm'.repeat(64 * 1024);
    const p = await peer((ws) => {
      for (let i = 0; i < count; i++) {
        ws.send(`${i} ${big}`);
        if (i % 8 === 0) ws.ping(String(i));
      }
      ws.close(1000, 'done');
    });
    // stdout is a pipe nobody reads until connect says it waits for it: without the pause it would
    // read all 4 MiB from the socket into its own memory, and never say so.
    const child = spawn(process.execPath, [BIN, 'connect', p.url, '--json', '--show-ping', ...PATIENT]);
    try {
      let stderr = '';
      child.stderr.setEncoding('utf8');
      while (!stderr.includes('waits')) {
        const [chunk] = await once(child.stderr, 'data');
        stderr += chunk;
      }
      expect(stderr).toBe('output is slower than the connection: reading from the server waits for it\n');
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      const [code] = await once(child, 'close');
      expect(code).toBe(0);
      const events = stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
      const messages = events.filter((e) => e.event === 'message');
      expect(messages.map((m) => Number(m.data.split(' ')[0]))).toEqual([...Array(count).keys()]);
      expect(messages.every((m) => m.data.endsWith(big))).toBe(true);
      expect(events.filter((e) => e.event === 'ping')).toHaveLength(count / 8);
      expect(events[0].event).toBe('open');
      expect(events.at(-1)).toEqual({ event: 'close', code: 1000, reason: 'done' });
    } finally {
      child.kill();
    }
  });
});

/**
 * An HTTP server that answers every upgrade request with a redirect: `routes` maps a request
 * path to its Location (a function of the server's own URL, for loops and same-host hops).
 */
interface Redirector {
  url: string;
  /** the headers of each request, in order */
  requests: { path: string; headers: Record<string, unknown> }[];
  close(): void;
}
async function redirector(
  routes: (self: string, path: string) => string,
  server: HttpServer = createHttpServer(),
): Promise<Redirector> {
  const r: Redirector = { url: '', requests: [], close: () => server.close() };
  server.on('upgrade', (req, socket) => {
    const path = req.url ?? '/';
    r.requests.push({ path, headers: req.headers });
    socket.end(`HTTP/1.1 302 Found\r\nLocation: ${routes(r.url, path)}\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  r.url = `${'setSecureContext' in server ? 'wss' : 'ws'}://127.0.0.1:${port}`;
  redirectors.push(r);
  return r;
}
const redirectors: Redirector[] = [];
afterEach(() => {
  for (const r of redirectors.splice(0)) r.close();
});

describe('riptide connect: redirects (-L, --max-redirects)', () => {
  it('without -L a redirect fails with its Location and says how to follow it', async () => {
    const p = await peer();
    const hop = await redirector(() => `${p.url}/next`);
    const res = await run(['connect', hop.url, '-x', 'hi']);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `riptide: handshake failed: server answered "HTTP/1.1 302 Found" instead of 101 Switching Protocols: a redirect to ${p.url}/next; use -L to follow it\n`,
    );
    expect(p.requests).toHaveLength(0);
  });

  it('-L follows one redirect and says where it is connected', async () => {
    const p = await peer();
    const hop = await redirector(() => `${p.url}/next`);
    const res = await run(['connect', hop.url, '-L', ...PATIENT], 'hi\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('hi\n');
    expect(res.stderr).toBe(`connected to ${p.url}/next (redirected from ${hop.url}/)\nclosed 1000\n`);
    expect(p.requests.map((r) => r.url)).toEqual(['/next']);
  });

  it('-L follows several redirects; --json names the first URL', async () => {
    const p = await peer();
    const third = await redirector(() => `${p.url}/end`);
    const second = await redirector(() => `${third.url}/3`);
    const first = await redirector(() => `${second.url}/2`);
    const res = await run(['connect', first.url, '--location', '--json', ...PATIENT], 'hi\n');
    expect(res.code).toBe(0);
    const open = JSON.parse(res.stdout.split('\n')[0]);
    expect(open).toMatchObject({ event: 'open', url: `${p.url}/end`, redirectedFrom: `${first.url}/` });
    expect([first, second, third].map((r) => r.requests.length)).toEqual([1, 1, 1]);
  });

  it('stops after 10 redirects by default, after --max-redirects N when given', async () => {
    const loop = await redirector((self, path) => `${self}${path}x`);
    const res = await run(['connect', loop.url, '-L', '-x', 'hi']);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      'riptide: too many redirects: the server still redirected after 10 (--max-redirects raises the limit)\n',
    );
    // the first request and 10 redirects followed; the 11th answer is one too many
    expect(loop.requests).toHaveLength(11);

    const loop2 = await redirector((self, path) => `${self}${path}x`);
    const two = await run(['connect', loop2.url, '-L', '--max-redirects', '2', '-x', 'hi']);
    expect(two.code).toBe(1);
    expect(two.stderr).toContain('too many redirects: the server still redirected after 2 ');
    expect(loop2.requests).toHaveLength(3);
  });

  it('--max-redirects without -L, or not a count, is a usage error', async () => {
    const without = await run(['connect', 'ws://127.0.0.1:9', '--max-redirects', '3']);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/^riptide connect: --max-redirects applies only with -L\/--location\n/);
    const bad = await run(['connect', 'ws://127.0.0.1:9', '-L', '--max-redirects', '-1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^riptide connect: --max-redirects must be an integer from 0 to 9999, got '-1'\n/,
    );
  });

  it('sends Authorization and Cookie to the same host only (--auth, -H)', async () => {
    const p = await peer();
    // /start -> /again on the same host and port -> the peer, another port: another host
    const hop = await redirector((self, path) => (path === '/start' ? `${self}/again` : `${p.url}/end`));
    const res = await run(
      [
        'connect',
        `${hop.url}/start`,
        '-L',
        '--auth',
        'user:pw',
        '-H',
        'Cookie: c=1',
        '-H',
        'X-Trace: t',
        ...PATIENT,
      ],
      'hi\n',
    );
    expect(res.code).toBe(0);
    const basic = `Basic ${Buffer.from('user:pw').toString('base64')}`;
    expect(hop.requests.map((r) => [r.path, r.headers.authorization, r.headers.cookie])).toEqual([
      ['/start', basic, 'c=1'],
      ['/again', basic, 'c=1'],
    ]);
    expect(p.requests).toHaveLength(1);
    expect(p.requests[0].headers.authorization).toBeUndefined();
    expect(p.requests[0].headers.cookie).toBeUndefined();
    // other headers are no credentials: they go to every host, as with ws and curl
    expect(p.requests[0].headers['x-trace']).toBe('t');
  });

  it('says once on stderr that --ca and -k apply only to wss:// when the URL is ws:// (not in --json data)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-cli-tlsflags-'));
    try {
      const { cert } = selfSignedCertificate(dir);
      const { cli: server, url } = await startServer('echo');
      const res = await run(['connect', url, '--ca', cert, '-k', ...PATIENT], 'a\n');
      expect([res.code, res.stdout]).toEqual([0, 'a\n']);
      expect(res.stderr).toBe(
        'note: --ca and -k/--insecure apply only to wss:// (or after a redirect to it), not to this ws:// URL\n' +
          `connected to ${url}/\nclosed 1000\n`,
      );
      // --json: stdout stays the connection's events; the note is on stderr all the same.
      const json = await run(['connect', url, '--insecure', '--json', ...PATIENT], 'a\n');
      expect(json.code).toBe(0);
      expect(json.stderr).toBe(
        'note: -k/--insecure applies only to wss:// (or after a redirect to it), not to this ws:// URL\n',
      );
      expect(
        json.stdout
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line).event),
      ).toEqual(['open', 'message', 'close']);
      await server.waitFor(/\[2\] closed 1000/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows a redirect from wss:// to ws:// with a warning, without the credentials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-cli-redirect-'));
    try {
      const { cert, key } = selfSignedCertificate(dir);
      const p = await peer();
      const tls = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) });
      const hop = await redirector(() => `${p.url}/plain`, tls);
      const res = await run(
        ['connect', hop.url, '-L', '--ca', cert, '-H', 'Authorization: Bearer secret', ...PATIENT],
        'hi\n',
      );
      expect(res.code).toBe(0);
      expect(res.stderr).toBe(
        `connected to ${p.url}/plain (redirected from ${hop.url}/)\n` +
          'warning: redirected from wss:// to ws://: this connection is not encrypted (Authorization and Cookie were not sent)\n' +
          'closed 1000\n',
      );
      expect(hop.requests[0].headers.authorization).toBe('Bearer secret');
      expect(p.requests[0].headers.authorization).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('riptide connect --ping-interval', () => {
  it('sends a ping every interval while connected; --show-ping prints their pongs', async () => {
    // The server counts the pings and closes after the second: the test waits on that, not a clock.
    const pings: number[] = [];
    const p = await peer((ws) => {
      ws.on('ping', (data) => {
        pings.push(data.length);
        // ws answers a ping before it emits the event: both pongs go out before the close.
        if (pings.length === 2) ws.close(1000, 'two pings');
      });
    });
    const res = await run([
      'connect',
      p.url,
      '--ping-interval',
      '0.05',
      '--show-ping',
      '-x',
      'hi',
      '-w',
      '60',
    ]);
    expect(res.code).toBe(0);
    // Empty pings; a third may reach the server after its close went out on a loaded machine (it
    // gets no pong then: ws answers none once closing).
    expect(pings.slice(0, 2)).toEqual([0, 0]);
    expect(res.stderr).toBe(`connected to ${p.url}/\npong\npong\nclosed 1000 two pings\n`);
  });

  it.each([
    ['0', "--ping-interval must be more than 0 seconds, got '0'"],
    ['soon', "--ping-interval must be a number of seconds, got 'soon'"],
  ])('refuses --ping-interval %s with exit 2', async (value, line) => {
    const res = await run(['connect', 'ws://127.0.0.1:1/', '--ping-interval', value]);
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toBe(`riptide connect: ${line}`);
  });
});

describe('riptide connect --ping-timeout', () => {
  const dead = (seconds: string) =>
    `no pong within ${seconds} s of a ping (--ping-timeout): dropping the connection as dead`;

  it('alone, pings; a server that answers none is dropped as dead: one line, closed 1006, exit 1', async () => {
    // ws with autoPong off reads the pings and answers none (a peer gone, as a timeout sees it).
    const pings: number[] = [];
    const p = await peer((ws) => ws.on('ping', (data) => pings.push(data.length)), { autoPong: false });
    const res = await run(['connect', p.url, '--ping-timeout', '0.05', '-x', 'hi', '-w', '600']);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `connected to ${p.url}/
${dead('0.05')}
closed 1006 (the connection ended without a closing handshake)
`,
    );
    // Dropped, not closed: the server saw no close frame.
    await until(() => p.closes.length === 1);
    expect(p.closes[0][0]).toBe(1006);
    expect(pings[0]).toBe(0);
  });

  it('longer than --ping-interval: the deadline runs from the first ping unanswered, later pings do not move it', async () => {
    // Were each ping to restart the wait, a timeout longer than the interval would never end.
    const pings: number[] = [];
    const p = await peer((ws) => ws.on('ping', (data) => pings.push(data.length)), { autoPong: false });
    const res = await run([
      'connect',
      p.url,
      '--ping-interval',
      '0.02',
      '--ping-timeout',
      '0.2',
      '--json',
      '-x',
      'hi',
      '-w',
      '600',
    ]);
    expect(res.code).toBe(1);
    const events = res.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(['open', 'error', 'close']);
    expect(events[1].message).toBe(dead('0.2'));
    expect(events[2].code).toBe(1006);
    await until(() => p.closes.length === 1);
    // The pings sent before the deadline, due earlier than it, all went out.
    expect(pings.length).toBeGreaterThanOrEqual(2);
  });

  it('a pong ends the wait: pings answered keep the connection past the timeout', async () => {
    // In-process with a fake clock, so that each step (a ping out, its pong back) is an event
    // to wait for and the time passed is the clock's, not the machine's.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      let pings = 0;
      const p = await peer((ws) =>
        ws.on('ping', () => {
          pings++;
        }),
      );
      const stdin = new PassThrough();
      const stdout = new PassThrough().resume();
      const stderr = new PassThrough();
      let err = '';
      const seen: (() => void)[] = [];
      stderr.setEncoding('utf8').on('data', (s: string) => {
        err += s;
        for (const w of seen.splice(0)) w();
      });
      const waitFor = async (check: () => boolean) => {
        while (!check()) await new Promise<void>((resolve) => seen.push(resolve));
      };
      const exit = connect([p.url, '--ping-interval', '0.02', '--ping-timeout', '0.05', '--show-ping'], {
        stdin,
        stdout,
        stderr,
      });
      await waitFor(() => err.startsWith('connected'));
      // Six pings, 120 ms of the clock: the first ping's deadline (70 ms) is long past.
      for (let i = 1; i <= 6; i++) {
        vi.advanceTimersByTime(20);
        await waitFor(() => err.split('pong\n').length - 1 === i || err.includes('no pong'));
        expect(err).not.toContain('no pong');
      }
      expect(pings).toBe(6);
      stdin.end();
      expect(await exit).toBe(0);
      expect(err).toBe(`connected to ${p.url}/\n${'pong\n'.repeat(6)}closed 1000\n`);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    ['0', "--ping-timeout must be more than 0 seconds, got '0'"],
    ['never', "--ping-timeout must be a number of seconds, got 'never'"],
  ])('refuses --ping-timeout %s with exit 2', async (value, line) => {
    const res = await run(['connect', 'ws://127.0.0.1:1/', '--ping-timeout', value]);
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toBe(`riptide connect: ${line}`);
  });
});
