import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { WebSocket as WsWebSocket } from 'ws';
import { HANDSHAKE_ERRORS } from '../../src/handshake/errors.js';
import { HandshakeError, WebSocket, WebSocketServer } from '../../src/index.js';
import { beforeTheDeadline, cleanupsAfterEachTest, once, riptideServer, shutdown } from './helpers.js';

const cleanups = cleanupsAfterEachTest();

async function start(options = {}) {
  const s = await riptideServer(options);
  cleanups.push(() => shutdown(s.wss));
  return s;
}

/** A TCP server that runs `onRequest` with the raw request head. */
async function rawServer(onHead: (socket: net.Socket, head: string) => void): Promise<number> {
  const server = net.createServer((socket) => {
    let buf = '';
    socket.on('data', function onData(d) {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        socket.removeListener('data', onData);
        onHead(socket, buf.slice(0, end));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.unref();
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

function acceptFor(head: string): string {
  const key = /sec-websocket-key: *(\S+)/i.exec(head)![1];
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

describe('client options', () => {
  it('rejects bad values of known options (unknown keys next to them too), bad URLs, fragments and duplicate subprotocols with UsageError', () => {
    expect(() => new WebSocket('ws://localhost:1', { bogus: true, maxRedirects: 'x' } as never)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'WS_ERR_INVALID_OPTION',
        message: 'The "maxRedirects" option must be an integer >= 0, got x',
      }),
    );
    expect(() => new WebSocket('not a url')).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_URL' }));
    expect(() => new WebSocket('ftp://x')).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_URL' }));
    expect(() => new WebSocket('ws://x/#frag')).toThrow(/fragment/);
    // WHATWG WebSockets: a non-null fragment, an empty one too (url.hash is '' for it).
    for (const url of ['ws://x/#', 'ws://x/?q#', new URL('ws://x/#')]) {
      expect(() => new WebSocket(url)).toThrow(
        expect.objectContaining({ name: 'SyntaxError', code: 'WS_ERR_INVALID_URL' }),
      );
    }
    // A '#' percent-encoded in the path or the query is not a fragment.
    const encoded = new WebSocket('ws://127.0.0.1:1/a%23b?c=%23');
    encoded.on('error', () => {});
    encoded.terminate();
    // The userinfo is percent-decoded into Basic credentials: one that does not decode is a URL
    // error (it was the decoder's URIError, without a code).
    for (const url of ['ws://%ZZ@x/', 'ws://user:%E9@x/', new URL('ws://%@x/')]) {
      expect(() => new WebSocket(url)).toThrow(
        expect.objectContaining({
          name: 'SyntaxError',
          code: 'WS_ERR_INVALID_URL',
          message: "The URL's userinfo is not valid percent-encoding",
        }),
      );
    }
    expect(() => new WebSocket('ws://%ZZ@x/', { http2: true })).toThrow(
      expect.objectContaining({ code: 'WS_ERR_INVALID_URL' }),
    );
    expect(() => new WebSocket('ws://x/', ['a', 'a'])).toThrow(
      expect.objectContaining({ code: 'WS_ERR_INVALID_PROTOCOL' }),
    );
    expect(() => new WebSocket('ws://x/', 'has space')).toThrow(
      expect.objectContaining({ code: 'WS_ERR_INVALID_PROTOCOL' }),
    );
    expect(() => new WebSocket('ws://x/', { protocolVersion: 7 as 8 })).toThrow(
      /Unsupported protocol version: 7 \(supported versions: 8, 13\)/,
    );
  });
});

describe('RFC 6455 4.1 client handshake', () => {
  it('sends headers, origin, Basic auth from the URL; http:// means ws://', async () => {
    const { wss, port } = await start();
    const conn = once<[WebSocket, http.IncomingMessage]>(wss, 'connection');
    const ws = new WebSocket(`http://us%40er:p%3Ass@127.0.0.1:${port}/path?q=1`, {
      headers: { 'X-Custom': 'yes' },
      origin: 'https://app.example',
    });
    await once(ws, 'open');
    const [, req] = await conn;
    expect(req.url).toBe('/path?q=1');
    expect(req.headers['x-custom']).toBe('yes');
    expect(req.headers.origin).toBe('https://app.example');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
    expect(ws.url).toBe(`ws://us%40er:p%3Ass@127.0.0.1:${port}/path?q=1`);
    ws.terminate();
  });

  it('ws+unix: connects over a Unix domain socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-unix-'));
    const path = join(dir, 'ws.sock');
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => ws.send(`path ${req.url}`));
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    const ws = new WebSocket(`ws+unix://${path}:/chat?x=1`);
    const [msg] = await once<[Buffer]>(ws, 'message');
    expect(msg.toString()).toBe('path /chat?x=1');
    ws.terminate();
  });

  it('works through an http.Agent', async () => {
    const { url } = await start();
    const agent = new http.Agent({ keepAlive: false });
    const ws = new WebSocket(url, { agent });
    await once(ws, 'open');
    ws.terminate();
    agent.destroy();
  });

  it("non-101 answer: 'unexpected-response' if listened, else an error WS_ERR_HANDSHAKE_STATUS", async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(403);
      res.end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const [req, res] = await once<[http.ClientRequest, http.IncomingMessage]>(ws, 'unexpected-response');
    expect(res.statusCode).toBe(403);
    expect(typeof req.setHeader).toBe('function');
    ws.terminate();
    await once(ws, 'close');

    const ws2 = new WebSocket(`ws://127.0.0.1:${port}`);
    const [err] = await once<[Error & { code: string }]>(ws2, 'error');
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ code: 'WS_ERR_HANDSHAKE_STATUS', status: 0, name: 'Error' });
    expect(err.message).toBe('Unexpected server response: 403');
    // ws 8's message, word for word (its error has no code).
    const ws3 = new WsWebSocket(`ws://127.0.0.1:${port}`);
    const [wsErr] = await once<[Error]>(ws3, 'error');
    expect(wsErr.message).toBe(err.message);
  });

  it('a wrong Sec-WebSocket-Accept fails the connection (4.1: MUST _Fail_)', async () => {
    const port = await rawServer((socket) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const closed = once<[number]>(ws, 'close');
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    expect(err.code).toBe('WS_ERR_HANDSHAKE_ACCEPT');
    expect((await closed)[0]).toBe(1006);
  });

  it('a subprotocol that was not offered fails the connection', async () => {
    const port = await rawServer((socket, head) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(head)}\r\nSec-WebSocket-Protocol: other\r\n\r\n`,
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, ['chat']);
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    expect(err.code).toBe('WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL');
  });

  it('an extension that was not offered fails the connection', async () => {
    const port = await rawServer((socket, head) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(head)}\r\nSec-WebSocket-Extensions: x-unknown\r\n\r\n`,
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    expect(err.code).toBe('WS_ERR_HANDSHAKE_NO_EXTENSION_REQUESTED');
    expect(err.message).toBe('Server sent a Sec-WebSocket-Extensions header but no extension was requested');
  });

  it.each(CLIENTS)('handshakeTimeout: a server that never answers (%s)', async (name, Client) => {
    const port = await rawServer(() => {});
    const ws = new Client(`ws://127.0.0.1:${port}`, { handshakeTimeout: 100 });
    const closed = new Promise<number>((r) => ws.on('close', r));
    const err = await new Promise<Error & { code?: string }>((r) => ws.on('error', r));
    expect(err.message).toBe('Opening handshake has timed out');
    expect(err.name).toBe('Error');
    expect(await closed).toBe(1006);
    if (name === 'riptide') {
      expect(err).toBeInstanceOf(HandshakeError);
      expect(err).toMatchObject({ code: 'WS_ERR_HANDSHAKE_TIMEOUT', status: 0 });
    }
  });

  it('frames the server sent right after its 101 are not lost', async () => {
    const port = await rawServer((socket, head) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(head)}\r\n\r\n`,
      );
      socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const [msg] = await once<[Buffer]>(ws, 'message');
    expect(msg.toString()).toBe('hi');
    ws.terminate();
  });

  it('RFC 6455 5.1: a masked server frame fails the connection with 1002 (WS_ERR_UNEXPECTED_MASK)', async () => {
    let received: Promise<Buffer> | undefined;
    const port = await rawServer((socket, head) => {
      received = new Promise((resolve) => {
        const chunks: Buffer[] = [];
        socket.on('data', (d) => chunks.push(d));
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.on('end', () => socket.end());
      });
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(head)}\r\n\r\n`,
      );
      socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const closed = once<[number]>(ws, 'close');
    const [err] = await once<[Error & { code: string; closeCode: number }]>(ws, 'error');
    expect(err).toMatchObject({ code: 'WS_ERR_UNEXPECTED_MASK', closeCode: 1002 });
    expect((await closed)[0]).toBe(1006);
    // The client's close frame (masked, code 1002) reached the server.
    const bytes = await received!;
    expect(bytes[0]).toBe(0x88);
    const mask = bytes.subarray(2, 6);
    expect(((bytes[6] ^ mask[0]) << 8) | (bytes[7] ^ mask[1])).toBe(1002);
  });

  it('close timeout on the client side: a server that never answers the close frame', async () => {
    const port = await rawServer((socket, head) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(head)}\r\n\r\n`,
      );
      socket.on('data', () => {});
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { closeTimeout: 150 });
    await once(ws, 'open');
    const closed = once<[number]>(ws, 'close');
    ws.close(1000);
    expect((await closed)[0]).toBe(1006);
  });

  it('followRedirects: follows a 302 to the WebSocket endpoint and emits redirect', async () => {
    const wss = new WebSocketServer({ noServer: true });
    const server = http.createServer((_req, res) => {
      res.writeHead(302, { Location: '/ws' });
      res.end();
    });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/ws') wss.handleUpgrade(req, socket, head, (ws) => ws.send('arrived'));
      else {
        socket.end('HTTP/1.1 302 Found\r\nLocation: /ws\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    const port = (server.address() as net.AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/start`, { followRedirects: true });
    const redirect = once<[string]>(ws, 'redirect');
    const [msg] = await once<[Buffer]>(ws, 'message');
    expect(msg.toString()).toBe('arrived');
    expect((await redirect)[0]).toBe(`ws://127.0.0.1:${port}/ws`);
    expect(ws.url).toBe(`ws://127.0.0.1:${port}/ws`);
    const closed = once(ws, 'close');
    ws.terminate();
    await closed; // the server side goes with the cleanups
  });

  it('ws+unix: a network URL may not redirect to a local socket (riptide refuses what ws follows)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-redirect-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const local = await hopServer(() => null, join(dir, 'local.sock'));
    const net1 = await hopServer(() => `ws+unix:${join(dir, 'local.sock')}:/admin`);
    const ws = new WebSocket(`ws://127.0.0.1:${net1.port}/a`, { followRedirects: true });
    const failed = once<[Error & { code?: string }]>(ws, 'error');
    const closed = once<[number]>(ws, 'close');
    const [err] = await failed;
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ code: 'WS_ERR_REDIRECT_TO_UNIX', status: 0, name: 'Error' });
    expect(err.message).toBe(HANDSHAKE_ERRORS.WS_ERR_REDIRECT_TO_UNIX[1]);
    expect((await closed)[0]).toBe(1006);
    expect(net1.hops.map((h) => h.path)).toEqual(['/a']);
    expect(local.hops).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// followRedirects: what each hop receives. Every case runs against ws 8 too, so the expectation
// is ws's observed behaviour and not our reading of it.

interface Hop {
  path: string;
  headers: Record<string, string>;
}

function parseHead(head: string): Hop {
  const [requestLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { path: requestLine.split(' ')[1], headers };
}

/**
 * Serve raw request heads from `socket`: records each one and answers with `answer(hop)`, which
 * returns a Location to redirect to, or null to accept the WebSocket (101).
 */
function serveHeads(socket: Duplex, hops: Hop[], answer: (hop: Hop) => string | null): void {
  let buf = '';
  socket.on('error', () => {});
  socket.on('data', function onData(d: Buffer) {
    buf += d.toString('latin1');
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.removeListener('data', onData);
    const head = buf.slice(0, end);
    const hop = parseHead(head);
    hops.push(hop);
    const location = answer(hop);
    if (location === null) {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(head)}\r\n\r\n`,
      );
    } else {
      socket.end(
        `HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    }
  });
}

/** A readable+writable view of `socket` that first delivers `first` (bytes already read). */
function replay(first: Buffer, socket: net.Socket): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _encoding, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  duplex.push(first);
  socket.on('data', (d) => {
    if (!duplex.push(d)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', () => duplex.destroy());
  return duplex;
}

/**
 * One port that speaks TLS (wss:) and clear text (ws:): the first byte tells them apart (0x16 is
 * a TLS handshake record). Lets a test redirect wss://localhost:P to ws://localhost:P, the same
 * host for ws's rules.
 */
async function hopServer(
  answer: (hop: Hop) => string | null,
  listenOn?: string,
): Promise<{ port: number; hops: Hop[] }> {
  const hops: Hop[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (first) => {
      socket.pause();
      const stream = replay(first, socket);
      if (first[0] === 0x16) {
        const secure = new tls.TLSSocket(stream, { isServer: true, key: TEST_KEY, cert: TEST_CERT });
        serveHeads(secure, hops, answer);
      } else {
        serveHeads(stream, hops, answer);
      }
    });
  });
  await new Promise<void>((r) => (listenOn ? server.listen(listenOn, r) : server.listen(0, '127.0.0.1', r)));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const address = server.address();
  return { port: typeof address === 'string' ? 0 : (address as net.AddressInfo).port, hops };
}

const TEST_KEY = readFileSync(join(__dirname, '..', 'fixtures', 'test-key.pem'));
const TEST_CERT = readFileSync(join(__dirname, '..', 'fixtures', 'test-cert.pem'));

type AnyClient = {
  on(event: string, listener: (...args: never[]) => void): unknown;
  terminate(): void;
};
type ClientClass = new (url: string, options: Record<string, unknown>) => AnyClient;
const CLIENTS: [string, ClientClass][] = [
  ['riptide', WebSocket as unknown as ClientClass],
  ['ws 8', WsWebSocket as unknown as ClientClass],
];

/** Connect with `Client`; resolves once it opened or failed. */
function attempt(
  Client: ClientClass,
  url: string,
  options: Record<string, unknown>,
  setup?: (ws: AnyClient) => void,
): Promise<'open' | 'failed'> {
  return new Promise((resolve) => {
    const ws = new Client(url, { followRedirects: true, rejectUnauthorized: false, ...options });
    setup?.(ws);
    ws.on('error', () => {});
    ws.on('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.on('close', () => resolve('failed'));
  });
}

describe('followRedirects: maxRedirects', () => {
  it.each(CLIENTS)('more redirects than maxRedirects fail with ws 8 message (%s)', async (name, Client) => {
    let n = 0;
    const server = await hopServer(() => `/hop${++n}`);
    const ws = new Client(`ws://127.0.0.1:${server.port}/start`, { followRedirects: true, maxRedirects: 2 });
    const failed = new Promise<Error & { code?: string; status?: number }>((r) => ws.on('error', r));
    const closed = new Promise<number>((r) => ws.on('close', r));
    const err = await failed;
    expect(err.message).toBe('Maximum redirects exceeded');
    expect(err.name).toBe('Error');
    expect(await closed).toBe(1006);
    // The first request and the two redirects allowed; the third redirect is not followed.
    expect(server.hops.map((h) => h.path)).toEqual(['/start', '/hop1', '/hop2']);
    if (name === 'riptide') {
      expect(err).toBeInstanceOf(HandshakeError);
      expect(err).toMatchObject({ code: 'WS_ERR_MAX_REDIRECTS', status: 0 });
      expect(err.message).toBe(HANDSHAKE_ERRORS.WS_ERR_MAX_REDIRECTS[1]);
    }
  });
});

describe.each(CLIENTS)(
  'wss: the TLS connection and its failures, as ws 8 reports them (%s)',
  (_name, Client) => {
    /** An https server with a WebSocketServer on it; records the SNI name of each WebSocket. */
    async function secureServer(options: https.ServerOptions = {}) {
      const server = https.createServer({ key: TEST_KEY, cert: TEST_CERT, ...options });
      const wss = new WebSocketServer({ server });
      const names: unknown[] = [];
      wss.on('connection', (_ws, req) => names.push((req.socket as tls.TLSSocket).servername));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      cleanups.push(() => shutdown(wss));
      return { port: (server.address() as net.AddressInfo).port, names };
    }

    /** 'open' (and the transport's class), or the first 'error' as `code: message`. */
    function outcome(url: string, options: Record<string, unknown>): Promise<string> {
      return new Promise((resolve) => {
        const ws = new Client(url, options) as AnyClient & { _socket: unknown };
        ws.on('open', () => {
          resolve(`open ${(ws._socket as object).constructor.name}`);
          ws.terminate();
        });
        ws.on('error', (err: Error & { code?: string }) => resolve(`${err.code}: ${err.message}`));
      });
    }

    it('verifies the certificate against the host name, sends it as SNI (not an IP address)', async () => {
      const { port, names } = await secureServer();
      expect(await outcome(`wss://localhost:${port}/`, {})).toMatch(
        // Node 24 adds a hint after the reason ("; if the root CA is installed locally, try ...").
        /^DEPTH_ZERO_SELF_SIGNED_CERT: self.signed certificate(;|$)/,
      );
      expect(await outcome(`wss://localhost:${port}/`, { ca: TEST_CERT })).toBe('open TLSSocket');
      expect(await outcome(`wss://127.0.0.1:${port}/`, { ca: TEST_CERT })).toBe('open TLSSocket');
      expect(await outcome(`wss://localhost:${port}/`, { rejectUnauthorized: false })).toBe('open TLSSocket');
      // `servername` names the host to check as well as to send.
      expect(await outcome(`wss://localhost:${port}/`, { ca: TEST_CERT, servername: 'example.com' })).toBe(
        "ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: " +
          "Host: example.com. is not in the cert's altnames: DNS:localhost, IP Address:127.0.0.1",
      );
      const checked: string[] = [];
      expect(
        await outcome(`wss://localhost:${port}/`, {
          ca: TEST_CERT,
          checkServerIdentity: (host: string) => {
            checked.push(host);
            return new Error('not this one');
          },
        }),
      ).toBe('undefined: not this one');
      expect(checked).toEqual(['localhost']);
      // RFC 6066 3: no IP address in SNI; an empty servername sends none either.
      expect(await outcome(`wss://localhost:${port}/`, { ca: TEST_CERT, servername: '' })).toBe(
        'open TLSSocket',
      );
      // The WebSockets opened: localhost, 127.0.0.1, localhost (rejectUnauthorized: false), ''.
      expect(names).toEqual(['localhost', false, 'localhost', false]);
    });

    it('client certificates: refused without one when the server requires it, accepted with it', async () => {
      const { port } = await secureServer({ requestCert: true, rejectUnauthorized: true, ca: TEST_CERT });
      expect(await outcome(`wss://localhost:${port}/`, { ca: TEST_CERT })).toMatch(
        /^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: /,
      );
      expect(
        await outcome(`wss://localhost:${port}/`, { ca: TEST_CERT, cert: TEST_CERT, key: TEST_KEY }),
      ).toBe('open TLSSocket');
    });

    it("ws: to a TLS port and wss: to a clear-text one fail with node's errors", async () => {
      const { port: securePort } = await secureServer();
      expect(await outcome(`ws://localhost:${securePort}/`, {})).toMatch(/^ECONNRESET: /);
      const { port } = await start();
      expect(await outcome(`wss://localhost:${port}/`, { ca: TEST_CERT })).toMatch(
        /^EPROTO: .*wrong version number/,
      );
    });
  },
);

describe.each(CLIENTS)("handshakeTimeout and an 'unexpected-response' listener (%s)", (name, Client) => {
  // Regression: riptide stopped the deadline at the response head, so a response handed to the
  // listener and left unread kept the connection open and CONNECTING for good; ws 8's timeout
  // fails it ('error', then 'close' 1006).
  it('a response whose body is not read to its end within the deadline fails the connection', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(403, { 'Content-Length': '10' });
      res.write('abc'); // and the rest never comes
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const port = (server.address() as net.AddressInfo).port;
    const run = (handshakeTimeout: number) => {
      const events: string[] = [];
      return new Promise<string[]>((resolve) => {
        const ws = new Client(`ws://127.0.0.1:${port}/`, { handshakeTimeout });
        ws.on('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
          events.push(`unexpected-response ${res.statusCode}`);
          res.on('data', (d: Buffer) => events.push(`data ${d}`));
        });
        ws.on('error', (err: Error & { code?: string }) =>
          events.push(`error ${err.message}${name === 'riptide' ? ` ${err.code}` : ''}`),
        );
        ws.on('close', (code: number) => {
          events.push(`close ${code}`);
          resolve(events);
        });
      });
    };
    const events = await beforeTheDeadline(run, (seen) => seen[0] !== 'unexpected-response 403');
    const code = name === 'riptide' ? ' WS_ERR_HANDSHAKE_TIMEOUT' : '';
    expect(events).toEqual([
      'unexpected-response 403',
      'data abc',
      `error Opening handshake has timed out${code}`,
      'close 1006',
    ]);
  });

  it('one read to its end keeps the WebSocket for the listener (no timeout after it)', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(403, { 'Content-Length': '2' });
      res.end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const attempt = (handshakeTimeout: number) => {
      const events: string[] = [];
      const ws = new Client(`ws://127.0.0.1:${port}/`, { handshakeTimeout });
      ws.on('error', (err: Error) => events.push(`error ${err.message}`));
      // Settles when the listener has read the body to its end and the request closed, or (on a
      // machine too busy to get the answer in before the deadline) when the deadline came first.
      return new Promise<{ ws: typeof ws; events: string[]; handshakeTimeout: number }>((resolve) => {
        ws.on('unexpected-response', (req: http.ClientRequest, res: http.IncomingMessage) => {
          res.resume();
          req.on('close', () => resolve({ ws, events, handshakeTimeout }));
        });
        ws.on('close', () => resolve({ ws, events, handshakeTimeout }));
      });
    };
    const { ws, events, handshakeTimeout } = await beforeTheDeadline(attempt, (a) => a.events.length > 0);
    // Past the deadline (a timer of the same length set after the request closed fires after it
    // would have): still CONNECTING, nothing reported; the WebSocket is the listener's to end.
    await new Promise((r) => setTimeout(r, handshakeTimeout));
    expect(events).toEqual([]);
    expect((ws as unknown as { readyState: number }).readyState).toBe(0);
    const closed = new Promise<number>((r) => ws.on('close', r));
    ws.terminate();
    expect(await closed).toBe(1006);
  });
});

describe.each(CLIENTS)("close() after an 'unexpected-response' read to its end (%s)", (_name, Client) => {
  // Regression: with a keep-alive answer and no agent, the request lets go of its connection when
  // the body ends, and riptide's req.destroy() then left the socket open until the server closed
  // it: the server saw no end, its close() waited. ws 8 destroys the request's socket.
  it.each(['close', 'terminate'] as const)(
    '%s() ends the handshake connection',
    async (method) => {
      const server = http.createServer();
      let upgraded: net.Socket | undefined;
      const serverSide = new Promise<net.Socket>((resolve) => {
        server.on('upgrade', (_req, socket: net.Socket) => {
          upgraded = socket;
          socket.on('error', () => {});
          socket.write('HTTP/1.1 502 Bad Gateway\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nfoo');
          resolve(socket);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(
        () =>
          new Promise<void>((r) => {
            upgraded?.destroy(); // an upgraded socket is not the HTTP server's to close
            server.close(() => r());
          }),
      );
      const port = (server.address() as net.AddressInfo).port;
      const ws = new Client(`ws://127.0.0.1:${port}/`, {}) as AnyClient & { close(): void };
      const events: string[] = [];
      ws.on('error', (err: Error) => events.push(`error ${err.message}`));
      const closed = new Promise<void>((r) =>
        ws.on('close', (code: number) => r(void events.push(`close ${code}`))),
      );
      ws.on('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d;
        });
        res.on('end', () => {
          events.push(`body ${body}`);
          ws[method]();
        });
      });
      const socket = await serverSide;
      // The server's end of the connection is ended by the client (it let go of it).
      await once(socket, 'end');
      await closed;
      expect(events).toEqual([
        'body foo',
        'error WebSocket was closed before the connection was established',
        'close 1006',
      ]);
    },
    10_000,
  ); // a failure's deadline: without the fix the server's end never comes
});

describe.each(CLIENTS)('ws+unix: where the socket path ends (%s)', (_name, Client) => {
  // Regression: riptide took the socket path from the URL's path alone and dropped a query that
  // came without a colon, so it connected to another socket than ws 8 for the same URL.
  it('at the first colon of the path and query together; without one a query is part of it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-unix-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => ws.send(`path ${req.url}`));
    // A file name may hold a '?' (the URL parser reads it as the query's start).
    await new Promise<void>((r) => server.listen(join(dir, 'a.sock?v=1'), r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    const seen: string[] = [];
    for (const url of [`ws+unix:${dir}/a.sock?v=1`, `ws+unix:${dir}/a.sock?v=1:/chat?x=2`]) {
      seen.push(
        await new Promise<string>((resolve) => {
          const ws = new Client(url, {});
          ws.on('error', (err: Error) => resolve(`error ${err.message}`));
          ws.on('message', (data: Buffer) => {
            resolve(data.toString());
            ws.terminate();
          });
        }),
      );
    }
    expect(seen).toEqual(['path /', 'path /chat?x=2']);
  });
});

describe.each(CLIENTS)('followRedirects: a 3xx with an empty Location (%s)', (_name, Client) => {
  // Regression: riptide followed it, to the same URL, until maxRedirects (11 requests and
  // WS_ERR_MAX_REDIRECTS); ws 8 follows only a non-empty Location, so the answer is the user's.
  it.each(['', '   '])("is not followed: 'unexpected-response' gets it (Location %j)", async (value) => {
    const paths: string[] = [];
    const port = await rawServer((socket, head) => {
      paths.push(head.split(' ')[1]);
      socket.end(
        `HTTP/1.1 302 Found\r\nLocation: ${value}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    });
    const events: string[] = [];
    await new Promise<void>((resolve) => {
      const ws = new Client(`ws://127.0.0.1:${port}/a`, { followRedirects: true });
      ws.on('redirect', (url: string) => events.push(`redirect ${url}`));
      ws.on('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
        events.push(`unexpected-response ${res.statusCode} ${JSON.stringify(res.headers.location)}`);
        ws.terminate();
      });
      ws.on('error', () => {});
      ws.on('close', () => resolve());
    });
    expect(events).toEqual(['unexpected-response 302 ""']);
    expect(paths).toEqual(['/a']);
  });
});

describe('followRedirects: failures of the next hop', () => {
  it("a Location whose userinfo is not valid percent-encoding: WS_ERR_INVALID_URL, then 'close' 1006", async () => {
    const server = await hopServer((hop) =>
      hop.path === '/a' ? `ws://%ZZ@127.0.0.1:${server.port}/b` : null,
    );
    const events: string[] = [];
    const result = await attempt(
      WebSocket as unknown as ClientClass,
      `ws://127.0.0.1:${server.port}/a`,
      {},
      (ws) => {
        ws.on('error', (err: Error & { code?: string }) =>
          events.push(`error ${err.name} ${err.code}: ${err.message}`),
        );
        ws.on('close', (code: number) => events.push(`close ${code}`));
      },
    );
    expect(result).toBe('failed');
    expect(events).toEqual([
      "error SyntaxError WS_ERR_INVALID_URL: The URL's userinfo is not valid percent-encoding",
      'close 1006',
    ]);
    expect(server.hops.map((h) => h.path)).toEqual(['/a']);
  });

  // Regression: the listener ran before the request had its 'error' listener, so the abort of the
  // exception it threw left the request's ECONNRESET uncaught.
  it("a 'redirect' listener that throws: its exception is the 'error', then 'close' 1006", async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? '/b' : null));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/a`, { followRedirects: true });
    const events: string[] = [];
    let escaped = () => {};
    const uncaught = (err: Error) => {
      events.push(`uncaught ${err.message}`);
      escaped();
    };
    process.on('uncaughtException', uncaught);
    cleanups.push(() => {
      process.removeListener('uncaughtException', uncaught);
    });
    let redirected: http.ClientRequest | null = null;
    ws.on('redirect', (_url: string, req: http.ClientRequest) => {
      redirected = req;
      throw new Error('listener failed');
    });
    ws.on('error', (err: Error) => events.push(`error ${err.message}`));
    await new Promise<void>((resolve) => {
      escaped = resolve;
      ws.on('close', (code: number) => resolve(void events.push(`close ${code}`)));
    });
    // The destroyed request's 'close' comes after its 'error' (node:http), heard or not.
    const req = redirected as http.ClientRequest | null;
    expect(req).not.toBeNull();
    // An 'error' nobody hears throws out of node's close handler: then 'close' never comes.
    if (!req!.closed && events.every((e) => !e.startsWith('uncaught')))
      await new Promise<void>((resolve) => {
        escaped = resolve;
        req!.once('close', resolve);
      });
    expect(events).toEqual(['error listener failed', 'close 1006']);
  });

  // Regression: the listener's close() failed the handshake, then its exception (caught, since it
  // comes from the previous response's listener) failed it again: a second 'error' after 'close'.
  it("a 'redirect' listener that closes the WebSocket and then throws: one 'error', then 'close', nothing after", async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? '/b' : null));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/a`, { followRedirects: true });
    const events: string[] = [];
    ws.on('redirect', () => {
      ws.close();
      throw new Error('listener failed');
    });
    ws.on('error', (err: Error & { code?: string }) => events.push(`error ${err.code}`));
    const closed = new Promise<void>((resolve) =>
      ws.on('close', (code: number) => {
        events.push(`close ${code}`);
        // Both failures were queued with process.nextTick: a second 'error' would run before this.
        setImmediate(resolve);
      }),
    );
    await closed;
    expect(events).toEqual(['error WS_ERR_HANDSHAKE_ABORTED', 'close 1006']);
  });
});

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe.each(CLIENTS)('followRedirects: what the next hop receives (%s)', (_name, Client) => {
  it('leaving TLS for clear text on the same host drops Authorization and Cookie', async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? `ws://localhost:${server.port}/b` : null));
    const result = await attempt(Client, `wss://localhost:${server.port}/a`, {
      headers: { Authorization: 'Bearer secret', Cookie: 'sid=secret' },
    });
    expect(result).toBe('open');
    expect(server.hops.map((h) => h.path)).toEqual(['/a', '/b']);
    expect(server.hops[0].headers).toMatchObject({ authorization: 'Bearer secret', cookie: 'sid=secret' });
    expect(server.hops[1].headers.authorization).toBeUndefined();
    expect(server.hops[1].headers.cookie).toBeUndefined();
  });

  it("leaving TLS for clear text on the same host drops the `auth` option's credentials", async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? `ws://localhost:${server.port}/b` : null));
    await attempt(Client, `wss://localhost:${server.port}/a`, { auth: 'user:secret' });
    expect(server.hops[0].headers.authorization).toBe(basic('user:secret'));
    expect(server.hops[1].headers.authorization).toBeUndefined();
  });

  it("another host does not get the `auth` option's credentials, Authorization or Cookie", async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? `ws://localhost:${server.port}/b` : null));
    await attempt(Client, `ws://127.0.0.1:${server.port}/a`, { auth: 'user:secret' });
    expect(server.hops[0].headers.authorization).toBe(basic('user:secret'));
    expect(server.hops[1].headers.authorization).toBeUndefined();

    server.hops.length = 0;
    await attempt(Client, `ws://127.0.0.1:${server.port}/a`, { headers: { Cookie: 'sid=secret' } });
    expect(server.hops[0].headers.cookie).toBe('sid=secret');
    expect(server.hops[1].headers.cookie).toBeUndefined();
  });

  it('keys the client does not know reach every hop, as the first request got them', async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? '/b' : null));
    const seen: unknown[] = [];
    await attempt(Client, `ws://127.0.0.1:${server.port}/a`, {
      reconnect: 'kept',
      createConnection: (options: net.NetConnectOpts & { reconnect?: unknown }) => {
        seen.push(options.reconnect);
        return net.connect(options);
      },
    });
    expect(server.hops.map((h) => h.path)).toEqual(['/a', '/b']);
    expect(seen).toEqual(['kept', 'kept']);
  });

  it('the same host and scheme keeps them', async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? '/b' : null));
    await attempt(Client, `ws://127.0.0.1:${server.port}/a`, {
      auth: 'user:secret',
      headers: { Cookie: 'sid=1' },
    });
    expect(server.hops[1].headers).toMatchObject({ authorization: basic('user:secret'), cookie: 'sid=1' });
  });

  it('ws+unix: another socket path is another host (its headers are dropped), the same one is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-redirect-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = join(dir, 'first.sock');
    const second = join(dir, 'second.sock');
    const a = await hopServer(
      (hop) => (hop.path === '/a' ? `ws+unix:${second}:/b` : `ws+unix:${first}:/a2`),
      first,
    );
    const b = await hopServer(() => null, second);
    await attempt(Client, `ws+unix:${first}:/a`, {
      headers: { Authorization: 'Bearer secret', Cookie: 'sid=secret' },
    });
    expect(a.hops[0].headers).toMatchObject({ authorization: 'Bearer secret', cookie: 'sid=secret' });
    expect(b.hops[0].headers.authorization).toBeUndefined();
    expect(b.hops[0].headers.cookie).toBeUndefined();

    const c = await hopServer(
      (hop) => (hop.path === '/a' ? `ws+unix:${join(dir, 'third.sock')}:/b` : null),
      join(dir, 'third.sock'),
    );
    await attempt(Client, `ws+unix:${join(dir, 'third.sock')}:/a`, { headers: { Cookie: 'sid=secret' } });
    expect(c.hops.map((h) => [h.path, h.headers.cookie])).toEqual([
      ['/a', 'sid=secret'],
      ['/b', 'sid=secret'],
    ]);
  });

  it("'redirect' gets the next request before it is sent: removeHeader() works and nothing else is stripped", async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? `ws://localhost:${server.port}/b` : null));
    const seen: string[] = [];
    const result = await attempt(
      Client,
      `ws://127.0.0.1:${server.port}/a`,
      { headers: { Authorization: 'Bearer secret', Cookie: 'sid=secret' } },
      (ws) =>
        ws.on('redirect', (url: string, req: http.ClientRequest) => {
          seen.push(url, String(req.headersSent));
          req.removeHeader('cookie');
        }),
    );
    expect(result).toBe('open');
    expect(seen).toEqual([`ws://localhost:${server.port}/b`, 'false']);
    // Another host, yet Authorization went on: the listener decides, and it only removed Cookie.
    expect(server.hops[1].headers.authorization).toBe('Bearer secret');
    expect(server.hops[1].headers.cookie).toBeUndefined();
  });

  it("'redirect' can cancel the next request: it is never sent, its error fails the connection", async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? '/b' : null));
    const errors: string[] = [];
    const result = await attempt(Client, `ws://127.0.0.1:${server.port}/a`, {}, (ws) => {
      ws.on('redirect', (_url: string, req: http.ClientRequest) => req.destroy(new Error('not there')));
      ws.on('error', (err: Error) => errors.push(err.message));
    });
    expect(result).toBe('failed');
    expect(errors).toEqual(['not there']);
    // A request round trip on a fresh connection proves the aborted one never arrived.
    await attempt(Client, `ws://127.0.0.1:${server.port}/c`, {});
    expect(server.hops.map((h) => h.path)).toEqual(['/a', '/c']);
  });

  // ws 8.23.1: a request() that throws on a redirect is the connection's error, not an uncaught
  // exception from the previous response's listener. node:http refuses an http.Agent for wss:.
  it("a redirected request node:http refuses (an http.Agent for a wss: Location) fails with 'error' then 'close'", async () => {
    const server = await hopServer((hop) => (hop.path === '/a' ? `wss://localhost:${server.port}/b` : null));
    const agent = new http.Agent();
    cleanups.push(() => agent.destroy());
    const events: string[] = [];
    const result = await attempt(Client, `ws://127.0.0.1:${server.port}/a`, { agent }, (ws) => {
      ws.on('redirect', (url: string) => events.push(`redirect ${url}`));
      ws.on('error', (err: Error & { code?: string }) => events.push(`error ${err.code}: ${err.message}`));
      ws.on('close', (code: number) => events.push(`close ${code}`));
    });
    expect(result).toBe('failed');
    expect(events).toEqual([
      'error ERR_INVALID_PROTOCOL: Protocol "https:" not supported. Expected "http:"',
      'close 1006',
    ]);
    expect(server.hops.map((h) => h.path)).toEqual(['/a']);
    // The first request's refusal still reaches the constructor's caller.
    expect(() => new Client(`wss://127.0.0.1:${server.port}/a`, { agent })).toThrow(
      'Protocol "https:" not supported. Expected "http:"',
    );
  });

  it("after a redirect the first URL's credentials win over the Location's", async () => {
    const server = await hopServer((hop) =>
      hop.path === '/a' ? `ws://second:pw2@127.0.0.1:${server.port}/b` : null,
    );
    await attempt(Client, `ws://first:pw1@127.0.0.1:${server.port}/a`, {});
    expect(server.hops.map((h) => h.headers.authorization)).toEqual([basic('first:pw1'), basic('first:pw1')]);
  });
});

describe.each(CLIENTS)('the handshake connection (%s)', (_name, Client) => {
  it("opens its own connection: after a refused handshake no socket waits in Node's keep-alive pool", async () => {
    const serverSockets: net.Socket[] = [];
    const server = http.createServer((_req, res) => {
      res.writeHead(403, { 'Content-Length': '2' });
      res.end('no');
    });
    server.on('connection', (socket) => serverSockets.push(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const ws = new Client(`ws://127.0.0.1:${port}/`, {});
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    ws.on('error', () => {});
    ws.on('unexpected-response', (req: http.ClientRequest, res: http.IncomingMessage) => {
      expect((req as http.ClientRequest & { agent?: unknown }).agent).toBeUndefined();
      res.resume();
      res.on('end', () => ws.terminate());
    });
    await closed;
    const pooled = Object.keys(http.globalAgent.freeSockets).filter((name) => name.includes(`:${port}:`));
    expect(pooled).toEqual([]);
    // The server sees its end of the connection close (not after a keep-alive timeout).
    await Promise.all(serverSockets.map((s) => (s.destroyed ? undefined : once(s, 'close'))));
  });

  it('keys it does not know reach the request as given, under the fields the handshake sets, like ws', async () => {
    const { url, port } = await start();
    const seen: Record<string, unknown>[] = [];
    // Not called: the host is an IP address. Compared by identity below.
    const lookup = () => {};
    const ws = new Client(url, {
      reconnect: true,
      autoconnect: false,
      family: 4,
      lookup,
      headers: { 'X-Test': 'yes' },
      createConnection: (options: net.NetConnectOpts & Record<string, unknown>) => {
        seen.push({ ...options });
        return net.connect(options);
      },
    });
    await new Promise<void>((resolve) =>
      ws.on('open', () => {
        ws.terminate();
        resolve();
      }),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      reconnect: true,
      autoconnect: false,
      family: 4,
      lookup,
      method: 'GET',
      host: '127.0.0.1',
      port: String(port),
    });
    expect(seen[0].headers).toMatchObject({ 'X-Test': 'yes', Upgrade: 'websocket' });
  });

  // Regression: the key, kept by resolveOptions (JSON.parse makes one), went into the request's
  // options, where node's Object.assign made it their prototype: its `hostname` won over the URL's
  // host (ws sets `hostname: undefined` itself), with the handshake's Authorization.
  it('a "__proto__" key (JSON.parse makes one) cannot aim the request at another host', async () => {
    const heads: string[] = [];
    const port = await rawServer((socket, head) => {
      heads.push(head);
      socket.destroy();
    });
    const hosts: unknown[] = [];
    const options = JSON.parse('{"__proto__": {"hostname": "elsewhere.invalid"}, "reconnect": true}');
    // Connects to the test server whatever it is asked, and records the host node asked for.
    options.createConnection = (o: net.NetConnectOpts & { host?: string }) => {
      hosts.push(o.host);
      return net.connect(port, '127.0.0.1');
    };
    expect(await attempt(Client, `ws://user:pw@127.0.0.1:${port}/`, options)).toBe('failed');
    expect(hosts).toEqual(['127.0.0.1']);
    expect(heads).toHaveLength(1);
    expect(heads[0]).toMatch(new RegExp(`\\r\\nhost: 127\\.0\\.0\\.1:${port}\\r\\n`, 'i'));
  });

  it('a lookup function given is what resolves the host name, like ws', async () => {
    const { port } = await start();
    const asked: string[] = [];
    const lookup = (hostname: string, options: { all?: boolean }, cb: (...a: unknown[]) => void) => {
      asked.push(hostname);
      if (options.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    };
    // .invalid never resolves (RFC 6761 6.4): only the lookup given can make this connect.
    const ws = new Client(`ws://riptide.invalid:${port}/`, { lookup, reconnect: true });
    await new Promise<void>((resolve) =>
      ws.on('open', () => {
        ws.terminate();
        resolve();
      }),
    );
    expect(asked).toEqual(['riptide.invalid']);
  });

  it("createConnection gets the URL's port as written (a string), like ws", async () => {
    const { url, port } = await start();
    const ports: unknown[] = [];
    const ws = new Client(url, {
      createConnection: (options: net.NetConnectOpts & { port: unknown }) => {
        ports.push(options.port);
        return net.connect(options);
      },
    });
    await new Promise<void>((resolve) =>
      ws.on('open', () => {
        ws.terminate();
        resolve();
      }),
    );
    expect(ports).toEqual([String(port)]);
  });
});
