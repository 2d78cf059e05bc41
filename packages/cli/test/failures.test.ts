/**
 * Exit status 2 for every kind of bad invocation, 1 for every kind of connection failure, and
 * wss:// with a self-signed certificate made here with openssl: trusted with --ca, accepted
 * with --insecure, refused (exit 1, TLS failure) otherwise.
 */
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import {
  constants,
  createServer as createH2cServer,
  createSecureServer,
  type Http2SecureServer,
  type Http2Server,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { refusedPort } from '../../../test-support/ports.js';
import { BIN, killAll, PATIENT, run, selfSignedCertificate, USAGE } from './helpers.js';
import { type Peer, wsPeer } from './peers.js';

afterEach(() => killAll());

/** Run `connect` against an HTTP server that answers the upgrade with `statusLine` and no body. */
async function connectToRefusal(statusLine: string): Promise<Awaited<ReturnType<typeof run>>> {
  const server = createHttpServer();
  server.on('upgrade', (_req, socket) => {
    socket.end(`${statusLine}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await run(['connect', `ws://127.0.0.1:${port}/`]);
  } finally {
    server.close();
  }
}

describe('exit status 2: usage errors print one line of reason and the usage', () => {
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /^riptide: no command given\nusage: riptide <command>/],
    [
      'an unknown command',
      ['frobnicate'],
      /^riptide: unknown command 'frobnicate'\nusage: riptide <command>/,
    ],
    ['an unknown flag', ['connect', 'ws://x', '--bogus'], /^riptide connect: Unknown option '--bogus'\n/],
    ['a missing URL', ['connect'], /^riptide connect: missing argument <url>\n/],
    ['a flag without its value', ['connect', 'ws://x', '-H'], /^riptide connect: Option '-H, --header/],
    [
      'a message that starts with a dash, not attached to -x',
      ['connect', 'ws://x', '-x', '-hello'],
      /^riptide connect: the value of -x, '-hello', starts with a dash: write it as --execute=-hello\n/,
    ],
    ['a malformed URL', ['connect', 'ws://[::1'], /^riptide connect: malformed URL 'ws:\/\/\[::1'\n/],
    ['a non-WebSocket scheme', ['connect', 'ftp://example.com'], /the scheme must be ws:\/\/ or wss:\/\/\n/],
    ['a URL with a fragment', ['connect', 'ws://example.com/#top'], /a fragment \(#...\) is not allowed\n/],
    ['a malformed header', ['connect', 'ws://x', '-H', 'no colon'], /--header must look like 'Name: value'/],
    [
      'a control character in a header',
      ['connect', 'ws://x', '-H', 'X-A: a\u0001b'],
      /has a control character/,
    ],
    // Regression: the library's "An invalid or duplicated subprotocol was specified" named neither.
    [
      'an invalid subprotocol name',
      ['connect', 'ws://x', '-p', 'chat', '-p', 'a b'],
      /^riptide connect: --protocol 'a b' is not a subprotocol name \(an HTTP token: no spaces, commas or quotes\)\n/,
    ],
    [
      'a subprotocol given twice',
      ['connect', 'ws://x', '-p', 'chat', '-p', 'Chat'],
      /^riptide connect: --protocol 'Chat' is given twice\n/,
    ],
    ['a non-numeric --wait', ['connect', 'ws://x', '--wait', 'soon'], /--wait must be a number of seconds/],
    // Negative values: parseArgs called these "ambiguous" (they start with a dash).
    [
      'a negative --timeout',
      ['connect', 'ws://x', '--timeout', '-1'],
      /^riptide connect: --timeout must be a number of seconds, got '-1'\n/,
    ],
    [
      'a negative -w',
      ['connect', 'ws://x', '-w', '-0.5'],
      /^riptide connect: --wait must be a number of seconds, got '-0.5'\n/,
    ],
    [
      'a negative --port',
      ['listen', '--port', '-1'],
      /^riptide listen: --port must be an integer from 0 to 65535, got '-1'\n/,
    ],
    [
      'a --timeout too long for a timer (no TimeoutOverflowWarning)',
      ['connect', 'ws://x', '--timeout', '99999999999'],
      /^riptide connect: --timeout must be at most 2147483 seconds, got '99999999999'\n/,
    ],
    [
      'a --timeout of 0 (which would wait forever)',
      ['connect', 'ws://x', '--timeout', '0'],
      /--timeout must be more than 0 seconds, got '0'\n/,
    ],
    [
      'a negative --close-timeout',
      ['connect', 'ws://x', '--close-timeout', '-1'],
      /^riptide connect: --close-timeout must be a number of seconds, got '-1'\n/,
    ],
    [
      'a --close-timeout too long for a timer',
      ['connect', 'ws://x', '--close-timeout', '2147484'],
      /^riptide connect: --close-timeout must be at most 2147483 seconds, got '2147484'\n/,
    ],
    // Refused as --timeout 0 is: it read as "no timeout" and dropped every close at once (exit 1).
    [
      'a --close-timeout of 0',
      ['connect', 'ws://x', '--close-timeout', '0'],
      /^riptide connect: --close-timeout must be more than 0 seconds, got '0'\n/,
    ],
    [
      'a --close-timeout of 0.0 for echo',
      ['echo', '--port', '0', '--close-timeout', '0.0'],
      /^riptide echo: --close-timeout must be more than 0 seconds, got '0.0'\n/,
    ],
    [
      'a non-numeric --close-timeout of listen',
      ['listen', '--port', '0', '--close-timeout', 'soon'],
      /^riptide listen: --close-timeout must be a number of seconds, got 'soon'\n/,
    ],
    [
      'a non-numeric --close-timeout of echo',
      ['echo', '--port', '0', '--close-timeout', 'soon'],
      /^riptide echo: --close-timeout must be a number of seconds, got 'soon'\n/,
    ],
    [
      'a negative --close-timeout of broadcast',
      ['broadcast', '--port', '0', '--close-timeout', '-2'],
      /^riptide broadcast: --close-timeout must be a number of seconds, got '-2'\n/,
    ],
    ['an --auth without a colon', ['connect', 'ws://x', '--auth', 'user'], /--auth must be user:pass/],
    ['an unreadable --ca', ['connect', 'wss://x', '--ca', '/nonexistent/ca.pem'], /cannot read --ca file/],
    [
      // Regression: the message named the library's buildUpgradeHeaders, not the flag.
      'a control character in --origin',
      ['connect', 'ws://x', '--origin', 'https://a\u0001.test'],
      /^riptide connect: --origin must be an origin \(scheme:\/\/host\[:port\], e\.g\. https:\/\/example\.com\) or null, got "https:\/\/a\\u0001\.test"\n/,
    ],
    // What no browser sends in Origin (RFC 6454 6.2: scheme "://" host [":" port], or "null").
    ...(
      [
        ['an empty --origin', ''],
        ['a space in --origin', 'https://a b.test'],
        ['a CR LF in --origin', 'https://a.test\r\nX-Injected: 1'],
        ['a path in --origin', 'https://a.test/page'],
        ['a trailing slash in --origin', 'https://a.test/'],
        ['userinfo in --origin', 'https://user@a.test'],
        ['a query in --origin', 'https://a.test?x=1'],
        ['no scheme in --origin', 'a.test'],
        ['no host in --origin', 'https://'],
        ['a port out of range in --origin', 'https://a.test:65536'],
        ['a malformed IPv4 host in --origin', 'http://999.0.0.1'],
        ['an unclosed IPv6 host in --origin', 'http://[::1'],
        ['a quoted null in --origin', '"null"'],
      ] as const
    ).map(([name, value]): [string, string[], RegExp] => [
      name,
      ['connect', 'ws://x', '--origin', value],
      new RegExp(
        `^riptide connect: --origin must be an origin .* or null, got ${JSON.stringify(value).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}\n`,
      ),
    ]),
    // Regression: these went out, and the library failed the connection (exit 1, "connection
    // failed: buildConnectRequest: ...") only once an HTTP/2 server had answered; to a server
    // without HTTP/2 they were sent as given. A stream cannot carry them, whatever the server.
    ...(
      [
        'Connection: close',
        'Upgrade: websocket',
        'Keep-Alive: 5',
        'Transfer-Encoding: chunked',
        'TE: gzip',
      ] as const
    ).map((header): [string, string[], RegExp] => [
      `--http2 with -H '${header}'`,
      ['connect', 'wss://x', '--http2', '-H', header],
      new RegExp(
        `^riptide connect: --header '${header.split(':')[0]}' cannot go with --http2: HTTP/2 forbids connection-specific headers \\(RFC 9113 8\\.2\\.2\\)\n`,
      ),
    ]),
    [
      '--http2 with a header the handshake sets',
      ['connect', 'wss://x', '--http2', '-H', 'sec-websocket-protocol: chat'],
      /^riptide connect: --header 'sec-websocket-protocol' cannot go with --http2: the handshake sets it \(-p offers subprotocols, --deflate compression\)\n/,
    ],
    ['an extra argument', ['connect', 'ws://x', 'ws://y'], /unexpected argument 'ws:\/\/y'/],
    ['a server without --port', ['echo'], /^riptide echo: missing flag --port\n/],
    [
      'a --max-message-size that is no size',
      ['connect', 'ws://x', '--max-message-size', '1.5M'],
      /^riptide connect: --max-message-size must be a number of bytes \(an integer, or with K, M or G: 64K, 1M\), got '1\.5M'\n/,
    ],
    [
      'a negative --max-message-size of a server',
      ['listen', '--port', '0', '--max-message-size', '-1'],
      /^riptide listen: --max-message-size must be a number of bytes .*, got '-1'\n/,
    ],
    // Regression: Node took an empty host as none and listened on every address.
    [
      'an empty --host',
      ['echo', '--port', '0', '--host', ''],
      /^riptide echo: --host must be an address or a name \(0\.0\.0\.0 for all\), got ''\n/,
    ],
    ['a port out of range', ['listen', '--port', '70000'], /--port must be an integer from 0 to 65535/],
    ['a server with a positional', ['broadcast', '--port', '0', 'extra'], /unexpected argument 'extra'/],
  ];
  it.each(cases)('%s', async (_name, args, reason) => {
    const res = await run(args);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(reason);
    if (args.length > 0 && args[0] !== 'frobnicate') expect(res.stderr).toMatch(USAGE);
  });
});

describe('help and version', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const res = await run(['--version']);
    expect(res).toMatchObject({ code: 0, stdout: `riptide ${version}\n` });
  });

  it('`npx riptide` from the repository root runs this CLI (not the library package of the same name)', async () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const out = execFileSync('npx', ['--offline', 'riptide', '--version'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(/^riptide \d+\.\d+\.\d+\n$/);
  });

  it("`riptide help <command>` is that command's help; an unknown one is a usage error", async () => {
    const viaHelp = await run(['help', 'connect']);
    const viaFlag = await run(['connect', '--help']);
    expect(viaHelp).toMatchObject({ code: 0, stderr: '', stdout: viaFlag.stdout });
    expect(viaHelp.stdout).toMatch(/^usage: riptide connect <url>/);
    expect((await run(['help'])).stdout).toMatch(/^usage: riptide <command>/);
    const unknown = await run(['help', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^riptide: unknown command 'frobnicate'\nusage: riptide <command>/);
  });

  it('--help lists every command; <command> --help describes every flag', async () => {
    const main = await run(['--help']);
    expect(main.code).toBe(0);
    // The usage itself on stdout, no reason line: asking for help is no error.
    expect(main.stdout).toMatch(/^usage: riptide <command>/);
    expect(main.stderr).toBe('');
    for (const command of ['connect', 'listen', 'echo', 'broadcast'])
      expect(main.stdout).toContain(`  ${command} `);
    // Regression: synopses longer than the column ran into their descriptions ("--key F]echo").
    const commandLines = main.stdout.split('commands:\n')[1].split('\n\n')[0].split('\n');
    expect(commandLines).toHaveLength(4);
    const briefColumn = commandLines.map(
      (line) => line.search(/\S {2,}\S/) + line.match(/\S {2,}/)![0].length,
    );
    expect(new Set(briefColumn).size).toBe(1);
    // Every line of the main help fits a terminal of 80 columns.
    for (const line of main.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    // Every exit status the README documents is in the help too.
    for (const status of [
      '0 done',
      '1 connection',
      '2 usage',
      '3 connect: the server closed with an error code (1002, 1003, 1007 to 1014)',
      '130 a second Ctrl-C',
      '141 the output went away',
      '129/143 connect ended by a hang-up (SIGHUP) / SIGTERM',
      'servers stop on SIGHUP and SIGTERM as on Ctrl-C',
    ])
      expect(main.stdout).toContain(status);
    const connect = await run(['connect', '--help']);
    expect(connect.code).toBe(0);
    // connect is the command a second Ctrl-C or a closed pipe ends: its help names those too.
    for (const status of [
      '1 if the connection',
      '2 for usage',
      '3 the server closed with a code that reports a failure: 1002, 1003, 1007 to 1014',
      '130 a second Ctrl-C, or a first one before the connection opened',
      '141 the output went away',
      '129 a hang-up (SIGHUP), 143 SIGTERM: the connection is closed with 1001 first',
    ])
      expect(connect.stdout).toContain(status);
    for (const flag of [
      '-H, --header',
      '-p, --protocol',
      '--origin',
      '--auth',
      '--ca',
      '--insecure',
      '--deflate',
      '-x, --execute',
      '--wait',
      '--close-timeout <seconds>',
      '--show-ping',
      '--json',
      '-L, --location',
      '--max-redirects <N>',
      '/ping',
      '/close',
      '/binary',
      '/help',
    ]) {
      expect(connect.stdout).toContain(flag);
    }
    const listen = await run(['listen', '-h']);
    for (const text of [
      '--port',
      '--host',
      '--allow-origin',
      '--close-timeout <seconds>',
      'origins:',
      '/clients',
      '/kick',
    ])
      expect(listen.stdout).toContain(text);
    // What the end of its input does (servers.test.ts and pty.test.ts check both).
    expect(listen.stdout).toContain('Ctrl-D stops the server');
    expect(listen.stdout.replace(/\s+/g, ' ')).toContain(
      'When stdin is a pipe, a file or /dev/null (e.g. under a process manager), the server keeps running after the input ends, until Ctrl-C, SIGTERM or a hang-up (SIGHUP); all three close the clients with 1001 and exit 0',
    );
  });
});

describe('exit status 1: connection failures, one line each', () => {
  it('connection refused (a port nothing listens on)', async () => {
    const { port, release } = await refusedPort();
    try {
      const res = await run(['connect', `ws://127.0.0.1:${port}`]);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`riptide: connection refused: 127.0.0.1:${port}\n`);
    } finally {
      await release();
    }
  });

  it('name not resolved (.invalid never resolves, RFC 6761)', async () => {
    const res = await run(['connect', 'ws://nonexistent.invalid/']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^riptide: name not resolved: nonexistent\.invalid \(E[A-Z_]+\)\n$/);
  });

  it('an HTTP status other than 101, with the status line', async () => {
    const res = await connectToRefusal('HTTP/1.1 403 Forbidden');
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      'riptide: handshake failed: server answered "HTTP/1.1 403 Forbidden" instead of 101 Switching Protocols\n',
    );
  });

  it('a status line carrying terminal escapes is shown escaped, not run', async () => {
    // Regression: the reason phrase went to stderr as sent, so a server could clear the screen
    // and retitle the window of whoever ran connect.
    const res = await connectToRefusal('HTTP/1.1 403 \x1b[2J\x1b]0;pwned\x07No');
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      'riptide: handshake failed: server answered "HTTP/1.1 403 \\e[2J\\e]0;pwned\\x07No" instead of 101 Switching Protocols\n',
    );
  });

  // Regression: "connection failed: Server sent no subprotocol" (the library's words) named
  // neither the -p offered nor the server's answer as the reason.
  it.each([
    [
      'none of the subprotocols offered',
      () => false as const,
      'riptide: handshake failed: the server accepted none of the subprotocols offered (-p chat, -p v2.chat): it answered without one\n',
    ],
    [
      'a subprotocol that was not offered',
      () => 'other',
      'riptide: handshake failed: the server chose a subprotocol that was not offered (-p chat, -p v2.chat)\n',
    ],
  ])('a server that chooses %s', async (_name, handleProtocols, line) => {
    const peer = await wsPeer(undefined, { handleProtocols });
    try {
      const res = await run(['connect', peer.url, '-p', 'chat', '-p', 'v2.chat', '-x', 'hi']);
      expect([res.code, res.stdout, res.stderr]).toEqual([1, '', line]);
    } finally {
      await peer.close();
    }
  });

  it('a plain HTTP server answering 200 is reported with its status line too', async () => {
    const server = createHttpServer((_req, res) => res.end('hello'));
    server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await run(['connect', `ws://127.0.0.1:${port}/`]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('server answered "HTTP/1.1 200 OK"');
    } finally {
      server.close();
    }
  });

  it('wss:// to a port that speaks plain HTTP: says so, with the TLS reason and ws:// to try', async () => {
    // Regression: OpenSSL's whole error string (address, file, line, a newline) was printed; then
    // "TLS failure: wrong version number (EPROTO)", which does not say that the port is plain HTTP.
    const server = createHttpServer((_req, res) => res.end('plain'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (const http2 of [[], ['--http2']]) {
        const res = await run(['connect', `wss://127.0.0.1:${port}/feed`, ...http2]);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(
          new RegExp(
            `^riptide: the server does not speak TLS on 127\\.0\\.0\\.1:${port} \\(wrong version number, (EPROTO|ERR_SSL_[A-Z_]+)\\): try ws://127\\.0\\.0\\.1:${port}/feed\n$`,
          ),
        );
      }
    } finally {
      server.close();
    }
  });

  it('ws:// to a port whose server answers in TLS (an alert record): says so and suggests wss://', async () => {
    // Regression: "connection failed: Parse Error: Expected HTTP/, RTSP/ or ICE/". A TLS server
    // that reads our plain request as a bad record may answer with an alert (RFC 8446 6).
    const alert = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
    const server = createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end(alert));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await run(['connect', `ws://127.0.0.1:${port}/feed`]);
      expect([res.code, res.stdout]).toEqual([1, '']);
      expect(res.stderr).toBe(
        `riptide: 127.0.0.1:${port} answered in TLS: the server expects wss:// on this port (try wss://127.0.0.1:${port}/feed)\n`,
      );
    } finally {
      server.close();
    }
  });

  it('a server that never answers the handshake: --timeout', async () => {
    const server = createTcpServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await run(['connect', `ws://127.0.0.1:${port}/`, '--timeout', '0.5']);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(
        `riptide: handshake timed out: 127.0.0.1:${port} did not complete it within 0.5 s (--timeout raises the limit)\n`,
      );
      // Regression: below half a millisecond it rounded to 0, which the library takes as no timeout.
      const tiny = await run(['connect', `ws://127.0.0.1:${port}/`, '--timeout', '0.0001']);
      expect([tiny.code, tiny.stderr]).toEqual([1, expect.stringMatching(/^riptide: handshake timed out/)]);
    } finally {
      server.close();
    }
  });
});

describe('exit status 141: the reader of the output went away', () => {
  it('`riptide connect URL | head -1` ends quietly, as SIGPIPE ends other tools, not with a stack trace', async () => {
    let server: WebSocket | undefined;
    const peer = await wsPeer((ws) => {
      server = ws;
      ws.send('first');
    });
    const child = spawn(process.execPath, [BIN, 'connect', peer.url, ...PATIENT]);
    try {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      // 'close', not 'exit': a stack trace written right before the exit is read by then.
      const exited = once(child, 'close');
      await once(child.stdout, 'data'); // 'first'
      child.stdout.destroy(); // what `head -1` does once it has its line
      server?.send('second'); // its line now has nowhere to go: EPIPE
      const [code] = await exited;
      expect(code).toBe(141);
      expect(stderr).toBe(`connected to ${peer.url}/\n`);
    } finally {
      child.kill();
      await peer.close();
    }
  });
});

describe('exit status 0: the output is complete when the command exits', () => {
  it('a message larger than the pipe reaches a reader that has not read yet whole, not cut at 64 KiB', async () => {
    const big = 'x'.repeat(4 * 1024 * 1024);
    const peer = await wsPeer((ws) => ws.send(big, () => ws.close(1000)));
    const child = spawn(process.execPath, [BIN, 'connect', peer.url, ...PATIENT]);
    try {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = once(child, 'close');
      // stdout is not read until the command has written the message and stopped reading the
      // socket for it (over 1 MiB waits: connect.test.ts): a pipe holds 64 KiB, so the rest waits
      // in the command, which must not exit before it is taken.
      while (!stderr.includes('waits for it')) await once(child.stderr, 'data');
      let stdout = 0;
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.length;
      });
      const [code] = await exited;
      expect([code, stdout]).toEqual([0, big.length + 1]);
      expect(stderr).toContain('closed 1000');
    } finally {
      child.kill();
      await peer.close();
    }
  });
});

describe('wss:// with a self-signed certificate', () => {
  let dir: string;
  let peer: Peer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'riptide-cli-tls-'));
    selfSignedCertificate(dir);
    const https = createHttpsServer({
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
    });
    peer = await wsPeer(undefined, {}, https);
    expect(peer.url).toMatch(/^wss:\/\//);
  });
  afterAll(async () => {
    await peer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails with exit 1 and the TLS reason when the certificate is not trusted', async () => {
    const res = await run(['connect', peer.url, '-x', 'hi', '-w', '0.1']);
    expect(res.code).toBe(1);
    // Node 24 appends a hint of its own to the reason ("; if the root CA is installed locally,
    // try running Node.js with --use-system-ca"), which the command passes on unchanged.
    expect(res.stderr).toMatch(
      /^riptide: TLS failure: self[- ]signed certificate(; [^\n]+)? \(DEPTH_ZERO_SELF_SIGNED_CERT\): --ca FILE trusts the certificate or its CA, -k skips the check\n$/,
    );
  });

  it('connects with --ca naming the certificate', async () => {
    const res = await run(['connect', peer.url, '--ca', join(dir, 'cert.pem'), ...PATIENT], 'secure\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('secure\n');
  });

  // Regression: Node's TLS skips whatever is not a PEM certificate, so a wrong --ca file was taken
  // silently and the connection then failed as if the server were at fault.
  it.each([
    ['a private key', 'key.pem', null],
    ['plain text', 'notes.txt', 'not a certificate\n'],
    ['an empty file', 'empty.pem', ''],
    ['DER', 'cert.der', 'DER'],
  ])('refuses a --ca file that holds no PEM certificate (%s) with exit 2', async (_name, file, content) => {
    const path = join(dir, file);
    if (content === 'DER') writeFileSync(path, new X509Certificate(readFileSync(join(dir, 'cert.pem'))).raw);
    else if (content !== null) writeFileSync(path, content);
    const res = await run(['connect', peer.url, '--ca', path, '-x', 'hi']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(USAGE);
    expect(res.stderr.split('\n')[0]).toBe(
      `riptide connect: --ca file '${path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  });

  it('refuses a --ca file whose certificate block does not parse, naming the block', async () => {
    const good = readFileSync(join(dir, 'cert.pem'), 'latin1');
    const path = join(dir, 'broken.pem');
    writeFileSync(path, `${good}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    const res = await run(['connect', peer.url, '--ca', path, '-x', 'hi']);
    expect(res.code).toBe(2);
    expect(res.stderr.split('\n')[0]).toBe(
      `riptide connect: --ca file '${path}': certificate 2 cannot be parsed`,
    );
  });

  it('takes a --ca bundle with comments between the certificates', async () => {
    const cert = readFileSync(join(dir, 'cert.pem'), 'latin1');
    const path = join(dir, 'bundle.pem');
    writeFileSync(path, `# the test's own CA\n${cert}\n# again\n${cert}`);
    const res = await run(['connect', peer.url, '--ca', path, ...PATIENT], 'bundled\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('bundled\n');
  });

  it('connects with --insecure', async () => {
    const res = await run(['connect', peer.url, '--insecure', ...PATIENT], 'anyway\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('anyway\n');
  });
});

describe('--http2: a server that refuses the WebSocket stream', () => {
  let dir: string;
  let server: Http2SecureServer;
  let url: string;
  /** the :status the server answers each extended CONNECT with (and a Location for a 3xx) */
  let status = 403;
  /** an RST_STREAM code to reset each stream with instead of answering, or null */
  let reset: number | null = null;
  /** the Location of a 3xx */
  let location = 'wss://elsewhere.test/';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'riptide-cli-h2-'));
    selfSignedCertificate(dir);
    server = createSecureServer({
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
      // RFC 8441 3: the server offers WebSockets over HTTP/2, then refuses this one.
      settings: { enableConnectProtocol: true },
    });
    server.on('stream', (stream) => {
      stream.on('error', () => {}); // the reset of the stream, below
      if (reset !== null) {
        stream.close(reset);
        return;
      }
      stream.respond({ ':status': status, ...(status < 400 && { location }) });
      stream.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  // Regression: the line said "server answered 403 instead of 101 Switching Protocols": an
  // HTTP/2 WebSocket succeeds with a 2xx, there is no 101 (RFC 8441 5).
  it('exit 1 with the HTTP/2 status and what was expected instead', async () => {
    status = 403;
    const res = await run(['connect', url, '--http2', '-k', '-x', 'hi']);
    expect([res.code, res.stdout]).toEqual([1, '']);
    expect(res.stderr).toBe(
      'riptide: handshake failed: server answered "HTTP/2 403" instead of 200 to the HTTP/2 WebSocket request\n',
    );
  });

  // Regression: "connection failed: Stream closed with error code NGHTTP2_INTERNAL_ERROR".
  it.each([
    ['INTERNAL_ERROR', 'the server failed internally'],
    ['HTTP_1_1_REQUIRED', 'the server requires HTTP/1.1 for this request (try without --http2)'],
    ['ENHANCE_YOUR_CALM', 'the server is limiting this client (too many requests or streams)'],
    // These two close the stream without a Node error: the library's cause names the code.
    ['CANCEL', 'the server cancelled the stream'],
    ['NO_ERROR', 'the server ended the stream without an error'],
  ])('a stream reset with %s before the answer: exit 1, in words with the code', async (name, words) => {
    reset = constants[`NGHTTP2_${name}` as keyof typeof constants] as number;
    try {
      const res = await run(['connect', url, '--http2', '-k', '-x', 'hi']);
      expect([res.code, res.stdout]).toEqual([1, '']);
      expect(res.stderr).toBe(
        `riptide: the server reset the HTTP/2 stream before answering: ${words} (RST_STREAM NGHTTP2_${name})\n`,
      );
    } finally {
      reset = null;
    }
  });

  // Regression: -L did not apply to --http2 ("a redirect, which a WebSocket over HTTP/2 does not
  // follow"): the library now follows redirects of HTTP/2 streams as of HTTP/1.1 requests.
  it('a redirect names its Location and -L; with -L it is followed (here to an HTTP/1.1 server)', async () => {
    status = 302;
    const peer = await wsPeer();
    try {
      location = 'wss://elsewhere.test/';
      const refused = await run(['connect', url, '--http2', '-k', '-x', 'hi']);
      expect([refused.code, refused.stdout]).toEqual([1, '']);
      expect(refused.stderr).toBe(
        'riptide: handshake failed: server answered "HTTP/2 302" instead of 200 to the HTTP/2 WebSocket request: a redirect to wss://elsewhere.test/; use -L to follow it\n',
      );
      location = `${peer.url}/next`;
      const followed = await run(['connect', url, '--http2', '-k', '-L', ...PATIENT], 'hi\n');
      expect([followed.code, followed.stdout]).toEqual([0, 'hi\n']);
      expect(followed.stderr).toContain(`connected to ${peer.url}/next (redirected from ${url})`);
      expect(peer.requests.map((r) => r.url)).toEqual(['/next']);
    } finally {
      location = 'wss://elsewhere.test/';
      await peer.close();
    }
  });
});

describe('--http2: an HTTP/2 server without WebSockets over it (no RFC 8441)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'riptide-cli-h2only-'));
    selfSignedCertificate(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Run connect --http2 against `server` (no SETTINGS_ENABLE_CONNECT_PROTOCOL) on a free port. */
  async function against(server: Http2Server | Http2SecureServer, scheme: 'ws' | 'wss') {
    server.on('session', (session) => session.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      // -k for the self-signed wss:// server only (with ws:// it is a note on stderr).
      const insecure = scheme === 'wss' ? ['-k'] : [];
      return await run(['connect', `${scheme}://127.0.0.1:${port}/`, '--http2', ...insecure, '-x', 'hi']);
    } finally {
      server.close();
    }
  }

  // Regression: only the HTTP/1.1 attempt's answer was shown ("server answered "HTTP/1.0 403
  // Forbidden" instead of 101"), node's answer to a request without ALPN h2, which reads as the
  // server refusing the WebSocket.
  it('h2 only over TLS: says so, then what the HTTP/1.1 attempt got (node answers it 403)', async () => {
    const server = createSecureServer({
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
      unknownProtocolTimeout: 50,
    });
    const res = await against(server, 'wss');
    expect([res.code, res.stdout]).toEqual([1, '']);
    expect(res.stderr).toBe(
      'riptide: the server speaks HTTP/2 without WebSockets over it (no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441); the HTTP/1.1 attempt: handshake failed: server answered "HTTP/1.0 403 Forbidden" instead of 101 Switching Protocols\n',
    );
  });

  it("h2c (ws://): says so, then the HTTP/1.1 attempt's failure", async () => {
    const res = await against(createH2cServer(), 'ws');
    expect([res.code, res.stdout]).toEqual([1, '']);
    expect(res.stderr).toMatch(
      /^riptide: the server speaks HTTP\/2 without WebSockets over it \(no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441\); the HTTP\/1\.1 attempt: 127\.0\.0\.1:\d+ did not answer in HTTP\/1\.1 \(Parse Error: [^\n]+, HPE_[A-Z_]+\)\n$/,
    );
  });
});
