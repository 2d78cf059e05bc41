import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as tlsModule from 'node:tls';
import { describe, expect, it, vi } from 'vitest';
import {
  HandshakeError,
  Http2HandshakeRequest,
  Http2HandshakeResponse,
  WebSocket,
  WebSocketServer,
} from '../../src/index.js';
import { beforeTheDeadline, cleanupsAfterEachTest, once, until } from './helpers.js';
import { closeH2, h2Server, settle, tls, trackSessions } from './http2-helpers.js';

const cleanups = cleanupsAfterEachTest();

async function start(options: Parameters<typeof h2Server>[0] = {}, kind: 'h2c' | 'tls' = 'h2c') {
  const server =
    kind === 'tls' ? http2.createSecureServer({ ...tls, allowHTTP1: true }) : http2.createServer();
  const sessions = trackSessions(server);
  const s = await h2Server(options, kind, server);
  cleanups.push(() => closeH2(s.wss, s.server));
  s.wss.on('connection', (ws, req) => {
    ws.on('message', (data) => ws.send(`${req.httpVersion} ${data}`));
  });
  return { ...s, sessions };
}

/** Open a client, wait for 'open'; closed at the end of the test. */
async function open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, { rejectUnauthorized: false, ...options });
  cleanups.push(() => ws.terminate());
  const error = once<[Error]>(ws, 'error').then(([e]) => {
    throw e;
  });
  await Promise.race([once(ws, 'open'), error]);
  return ws;
}

async function roundTrip(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = await once<[Buffer]>(ws, 'message');
  return String(data);
}

/**
 * A plain HTTP/1.1 (or https) server with a riptide server on its 'upgrade'; `redirects` maps a
 * path to the Location of a 302 answered instead. `paths` lists the requests it received,
 * `headers` their headers.
 */
async function http1Server(secure: boolean, redirects: Record<string, string> = {}) {
  const server = secure ? https.createServer(tls) : http.createServer();
  const connections: number[] = [];
  const sockets: net.Socket[] = [];
  const paths: string[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  server.on('connection', (socket: net.Socket) => {
    connections.push(1);
    sockets.push(socket);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    paths.push(req.url ?? '');
    headers.push(req.headers);
    const location = redirects[req.url ?? ''];
    if (location === undefined) wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    else socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`);
  });
  wss.on('connection', (ws, req) => ws.on('message', (d) => ws.send(`${req.httpVersion} ${d}`)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `${secure ? 'wss' : 'ws'}://127.0.0.1:${port}`, port, connections, sockets, paths, headers };
}

describe('RFC 8441 client: new WebSocket(url, { http2: true })', () => {
  for (const kind of ['h2c', 'tls'] as const) {
    it(`opens over a stream and shares one session per origin (${kind})`, async () => {
      const { url, sessions } = await start({}, kind);
      const a = await open(`${url}/a`, { http2: true });
      const b = await open(`${url}/b`, { http2: true });
      const c = await open(`${url}/c?x=1`, { http2: true });
      expect(await roundTrip(a, 'a')).toBe('2.0 a');
      expect(await roundTrip(b, 'b')).toBe('2.0 b');
      expect(await roundTrip(c, 'c')).toBe('2.0 c');
      expect(sessions.size).toBe(1);
      expect(a.url).toBe(`${url}/a`);
    });
  }

  // Regression: the stream's CONNECT carried no Authorization, where the HTTP/1.1 handshake (and
  // this option's own fallback) sends the URL's userinfo or the `auth` option as Basic credentials.
  it("sends the URL's userinfo, else the `auth` option, as Basic credentials; an Authorization header wins", async () => {
    const { url, wss } = await start();
    const seen: unknown[] = [];
    wss.on('connection', (_ws, req) => seen.push(req.headers.authorization));
    const basic = (c: string) => `Basic ${Buffer.from(c).toString('base64')}`;
    const withUser = url.replace('ws://', 'ws://us%20er:p%40ss@');
    await open(withUser, { http2: true, auth: 'other:x' });
    await open(url, { http2: true, auth: 'user:pw' });
    await open(withUser, { http2: true, headers: { Authorization: 'Bearer t' } });
    await open(url, { http2: true });
    expect(seen).toEqual([basic('us er:p@ss'), basic('user:pw'), 'Bearer t', undefined]);
  });

  it('ignores keys it does not know: they neither fail nor split the pooled session (docs/node-layer.md)', async () => {
    const { url, sessions } = await start();
    const a = await open(`${url}/a`, { http2: true, reconnect: true } as never);
    const b = await open(`${url}/b`, { http2: true, autoconnect: false } as never);
    expect(await roundTrip(a, 'a')).toBe('2.0 a');
    expect(await roundTrip(b, 'b')).toBe('2.0 b');
    expect(sessions.size).toBe(1);
  });

  it('closes the shared session once its last WebSocket has closed, and opens a new one after', async () => {
    const { url, sessions } = await start();
    const a = await open(url, { http2: true });
    const b = await open(url, { http2: true });
    const [session] = sessions;
    const sessionClosed = once(session, 'close');
    a.close();
    await once(a, 'close');
    expect(sessions.size).toBe(1);
    expect(await roundTrip(b, 'still')).toBe('2.0 still');
    b.close();
    await once(b, 'close');
    await sessionClosed;
    expect(sessions.size).toBe(0);
    const c = await open(url, { http2: true });
    expect(await roundTrip(c, 'again')).toBe('2.0 again');
    expect(sessions.size).toBe(1);
  });

  it('does not share sessions between different connection options', async () => {
    const { url, sessions } = await start({}, 'tls');
    await open(url, { http2: true, rejectUnauthorized: false });
    await open(url, { http2: true, rejectUnauthorized: false, servername: 'localhost' });
    expect(sessions.size).toBe(2);
  });

  it('negotiates subprotocols and permessage-deflate over the stream', async () => {
    const { url } = await start({
      perMessageDeflate: true,
      handleProtocols: (p) => (p.has('b') ? 'b' : false),
    });
    const withProtocols = new WebSocket(url, ['a', 'b'], { http2: true });
    cleanups.push(() => withProtocols.terminate());
    await once(withProtocols, 'open');
    expect(withProtocols.protocol).toBe('b');
    expect(withProtocols.extensions).toMatch(/^permessage-deflate/);
    const big = 'x'.repeat(100_000);
    withProtocols.send(big);
    const [data] = await once<[Buffer]>(withProtocols, 'message');
    expect(String(data)).toBe(`2.0 ${big}`);
  });

  it('masks its frames on the stream (RFC 6455 5.1 still applies)', async () => {
    // A raw node:http2 server as the peer: it reads the client's bytes as they are sent.
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    trackSessions(server);
    const received: Buffer[] = [];
    const got = new Promise<void>((resolve) =>
      server.on('stream', (stream) => {
        stream.respond({ ':status': 200 });
        stream.on('data', (c: Buffer) => {
          received.push(c);
          resolve();
        });
        stream.on('error', () => {});
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const wss = new WebSocketServer({ noServer: true });
    cleanups.push(() => closeH2(wss, server));
    const ws = await open(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { http2: true });
    ws.send('hi');
    await got;
    const bytes = Buffer.concat(received);
    expect(bytes[0]).toBe(0x81);
    expect(bytes[1] & 0x80).toBe(0x80); // MASK bit
    const mask = bytes.subarray(2, 6);
    expect(Buffer.from([bytes[6] ^ mask[0], bytes[7] ^ mask[1]]).toString()).toBe('hi');
  });
});

describe('falling back to HTTP/1.1', () => {
  it('wss: a TLS server without HTTP/2 (ALPN http/1.1): the upgrade goes over that same connection', async () => {
    const { url, connections } = await http1Server(true);
    const ws = await open(url, { http2: true });
    expect(await roundTrip(ws, 'x')).toBe('1.1 x');
    expect(connections.length).toBe(1);
  });

  it('ws: a server without HTTP/2 (prior knowledge fails): a new HTTP/1.1 connection', async () => {
    const { url } = await http1Server(false);
    const ws = await open(url, { http2: true });
    expect(await roundTrip(ws, 'y')).toBe('1.1 y');
  });

  it('an HTTP/2 server that does not send SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 3)', async () => {
    // allowHTTP1 with no extended CONNECT: WebSockets only through its HTTP/1.1 'upgrade'.
    const server = http2.createSecureServer({ ...tls, allowHTTP1: true });
    trackSessions(server);
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) =>
        ws.on('message', (d) => ws.send(`${req.httpVersion} ${d}`)),
      ),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => closeH2(wss, server));
    const ws = await open(`wss://127.0.0.1:${(server.address() as AddressInfo).port}`, { http2: true });
    expect(await roundTrip(ws, 'z')).toBe('1.1 z');
  });

  describe("'http2-fallback': the server spoke HTTP/2 without the extended CONNECT", () => {
    /** An h2-only server without the setting (node answers its HTTP/1.1 requests 403). */
    async function h2Only(kind: 'h2c' | 'tls') {
      const server =
        kind === 'tls'
          ? http2.createSecureServer({ ...tls, unknownProtocolTimeout: 50 })
          : http2.createServer();
      trackSessions(server);
      const connections: number[] = [];
      server.on(kind === 'tls' ? 'secureConnection' : 'connection', () => connections.push(1));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      cleanups.push(() => closeH2(new WebSocketServer({ noServer: true }), server));
      const port = (server.address() as AddressInfo).port;
      return { url: `${kind === 'tls' ? 'wss' : 'ws'}://127.0.0.1:${port}/`, connections };
    }

    for (const kind of ['tls', 'h2c'] as const) {
      it(`is emitted once, with WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT, before the HTTP/1.1 attempt (${kind})`, async () => {
        const { url, connections } = await h2Only(kind);
        const ws = new WebSocket(url, { http2: true, rejectUnauthorized: false });
        const events: string[] = [];
        ws.on('http2-fallback', (reason) => {
          expect(reason).toBeInstanceOf(HandshakeError);
          events.push(`http2-fallback ${reason.code}: ${reason.message} (${connections.length} connection)`);
        });
        ws.on('error', (err: Error & { code?: string }) => events.push(`error ${err.code}: ${err.message}`));
        await once(ws, 'close');
        expect(events[0]).toBe(
          'http2-fallback WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT: The server does not accept WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL) (1 connection)',
        );
        // what the HTTP/1.1 attempt met follows: node's 403 over TLS, HTTP/2 bytes over h2c
        expect(events.slice(1)).toEqual([
          kind === 'tls'
            ? 'error WS_ERR_HANDSHAKE_STATUS: Unexpected server response: 403'
            : expect.stringMatching(/^error HPE_[A-Z_]+: Parse Error/),
        ]);
      });
    }

    it('is not emitted for a server without HTTP/2 (ALPN http/1.1, or no h2c)', async () => {
      for (const secure of [true, false]) {
        const { url } = await http1Server(secure);
        const ws = new WebSocket(url, { http2: true, rejectUnauthorized: false });
        cleanups.push(() => ws.terminate());
        const fallbacks: unknown[] = [];
        ws.on('http2-fallback', (reason) => fallbacks.push(reason));
        await once(ws, 'open');
        expect(fallbacks).toEqual([]);
      }
    });

    it('a listener that closes the WebSocket ends it there: no HTTP/1.1 request, close 1006', async () => {
      const { url, connections } = await h2Only('tls');
      const ws = new WebSocket(url, { http2: true, rejectUnauthorized: false });
      ws.on('http2-fallback', () => ws.close());
      const closed = once<[number]>(ws, 'close');
      const [err] = await once<[Error & { code: string }]>(ws, 'error');
      expect(err.code).toBe('WS_ERR_HANDSHAKE_ABORTED');
      expect((await closed)[0]).toBe(1006);
      expect(connections.length).toBe(1);
    });

    it('listeners that throw, terminate or open another WebSocket end only their own; the others sharing the connection go on', async () => {
      const { url, connections } = await h2Only('tls');
      const options = { http2: true, rejectUnauthorized: false } as const;
      const outcome = (ws: WebSocket) =>
        new Promise<string>((resolve) => {
          let error = '';
          ws.on('error', (err: Error & { code?: string }) => {
            error = `${err.code ?? ''} ${err.message}`;
          });
          ws.on('close', (code) => resolve(`${error} / ${code}`));
        });
      // Made in one tick: the three wait for the same HTTP/2 connection (settle()'s loop).
      const throwing = new WebSocket(url, options);
      const terminating = new WebSocket(url, options);
      const opening = new WebSocket(url, options);
      const boom = Object.assign(new Error('listener failed'), { code: 'TEST_LISTENER' });
      throwing.on('http2-fallback', () => {
        throw boom;
      });
      terminating.on('http2-fallback', () => terminating.terminate());
      let another: Promise<string> | null = null;
      opening.on('http2-fallback', () => {
        const ws = new WebSocket(url, options);
        const fallbacks: string[] = [];
        ws.on('http2-fallback', (reason) => fallbacks.push(reason.code));
        another = outcome(ws).then((o) => `${fallbacks.join()} ${o}`);
      });
      const results = await Promise.all([outcome(throwing), outcome(terminating), outcome(opening)]);
      expect(results).toEqual([
        'TEST_LISTENER listener failed / 1006',
        'WS_ERR_HANDSHAKE_ABORTED WebSocket was closed before the connection was established / 1006',
        'WS_ERR_HANDSHAKE_STATUS Unexpected server response: 403 / 1006',
      ]);
      expect(another).not.toBe(null);
      expect(await another).toBe(
        'WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT WS_ERR_HANDSHAKE_STATUS Unexpected server response: 403 / 1006',
      );
      // The shared HTTP/2 connection, `opening`'s HTTP/1.1 request, the new WebSocket's two.
      expect(connections.length).toBe(4);
    });
  });

  it('an http2Session without the setting fails instead (WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT)', async () => {
    const server = http2.createServer();
    trackSessions(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const wss = new WebSocketServer({ noServer: true });
    cleanups.push(() => closeH2(wss, server));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    cleanups.push(async () => {
      await settle();
      session.destroy();
    });
    const ws = new WebSocket('ws://127.0.0.1/', { http2Session: session });
    const closed = once<[number]>(ws, 'close');
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    expect(err.code).toBe('WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT');
    expect((await closed)[0]).toBe(1006);
  });
});

/**
 * How a handshake ended: its events up to 'close', or the exception that escaped it (a throw
 * from a callback of node's, which nothing catches: without the listener, a crashed process).
 */
function ending(ws: WebSocket): Promise<string[]> {
  const events: string[] = [];
  return new Promise((resolve) => {
    const escaped = (err: Error) => resolve([...events, `uncaught ${err.message}`]);
    process.once('uncaughtException', escaped);
    cleanups.push(() => {
      process.removeListener('uncaughtException', escaped);
    });
    ws.on('open', () => events.push('open'));
    ws.on('error', (err: Error & { code?: string }) =>
      events.push(`error ${err.code === undefined ? '' : `${err.code}: `}${err.message}`),
    );
    ws.on('close', (code: number) => {
      events.push(`close ${code}`);
      resolve(events);
    });
  });
}

/** A createConnection that connects `connecting` times, then throws `message`. */
function failingAfter(connecting: number, message: string) {
  const calls: string[] = [];
  const createConnection = (o: { host: string; port: string | number }) => {
    calls.push(`${o.host}:${o.port}`);
    if (calls.length > connecting) throw new Error(message);
    return net.connect(Number(o.port), o.host);
  };
  return { calls, createConnection: createConnection as never };
}

// ws 8.23.1: a request() or a createConnection that throws where no caller can catch it (there,
// a redirect's 'response' listener) is the connection's error, then 'close' 1006. The fallback to
// HTTP/1.1 makes its request from such a callback too (the session's error, its SETTINGS).
describe('a fallback request that throws: the connection fails, nothing escapes', () => {
  // node:http (20, 22 and 24) catches a createConnection that throws and emits its error on the
  // request: this one holds without fallBack's catch, and guards that path.
  it("a createConnection that throws on the fallback's call: its error, close 1006", async () => {
    const s = await http1Server(false);
    const { calls, createConnection } = failingAfter(1, 'no route for HTTP/1.1');
    const ws = new WebSocket(`${s.url}/a`, { http2: true, createConnection });
    expect(await ending(ws)).toEqual(['error no route for HTTP/1.1', 'close 1006']);
    // The HTTP/2 attempt, then the fallback's call.
    expect(calls).toEqual([`127.0.0.1:${s.port}`, `127.0.0.1:${s.port}`]);
    expect(s.paths).toEqual([]);
  });

  it.each([
    ['ws', false],
    ['wss', true],
  ] as const)(
    '%s: a header value node:http refuses only at request time: ERR_INVALID_CHAR, close 1006, no socket left open',
    async (_scheme, secure) => {
      const s = await http1Server(secure);
      const headers = { 'X-Note': 'a\r\nb' };
      const ws = new WebSocket(s.url, { http2: true, rejectUnauthorized: false, headers });
      expect(await ending(ws)).toEqual([
        'error ERR_INVALID_CHAR: Invalid character in header content ["X-Note"]',
        'close 1006',
      ]);
      // The TLS connection that chose http/1.1 by ALPN was to carry the request: it is closed
      // (the server sees it end), not left open.
      await Promise.all(s.sockets.map((socket) => (socket.destroyed ? undefined : once(socket, 'close'))));
      expect(s.paths).toEqual([]);
      // Without the option the same request throws to the constructor's caller, as in ws.
      expect(() => new WebSocket(s.url, { rejectUnauthorized: false, headers })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_CHAR' }),
      );
    },
  );

  it("an http.Agent for a wss: URL: no HTTP/2 attempt, so ERR_INVALID_PROTOCOL reaches the constructor's caller, as without the option", async () => {
    const s = await http1Server(true);
    const agent = new http.Agent();
    cleanups.push(() => agent.destroy());
    expect(() => new WebSocket(s.url, { http2: true, agent })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_PROTOCOL',
        message: 'Protocol "https:" not supported. Expected "http:"',
      }),
    );
    // A handshake after it is the server's first connection: the refused one made none.
    const ws = await open(s.url, { http2: true });
    expect(await roundTrip(ws, 'x')).toBe('1.1 x');
    expect(s.connections.length).toBe(1);
  });

  describe('followRedirects: the redirect of a fallback request', () => {
    it("a createConnection that throws on the redirect's call: its error, close 1006", async () => {
      const s = await http1Server(false, { '/a': '/b' });
      const { calls, createConnection } = failingAfter(2, 'no route for the redirect');
      const ws = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true, createConnection });
      expect(await ending(ws)).toEqual(['error no route for the redirect', 'close 1006']);
      expect(calls.length).toBe(3);
      expect(s.paths).toEqual(['/a']);
    });

    it('an http.Agent and a wss: Location: ERR_INVALID_PROTOCOL, close 1006', async () => {
      const s = await http1Server(false, { '/a': 'wss://127.0.0.1/b' });
      const agent = new http.Agent();
      cleanups.push(() => agent.destroy());
      const ws = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true, agent });
      expect(await ending(ws)).toEqual([
        'error ERR_INVALID_PROTOCOL: Protocol "https:" not supported. Expected "http:"',
        'close 1006',
      ]);
      expect(s.paths).toEqual(['/a']);
    });

    it('a Location whose userinfo is not valid percent-encoding: WS_ERR_INVALID_URL, close 1006', async () => {
      const s = await http1Server(false, { '/a': 'ws://%ZZ@127.0.0.1/b' });
      const ws = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true });
      expect(await ending(ws)).toEqual([
        "error WS_ERR_INVALID_URL: The URL's userinfo is not valid percent-encoding",
        'close 1006',
      ]);
      expect(s.paths).toEqual(['/a']);
    });

    it('a redirect that can be followed still opens', async () => {
      const s = await http1Server(false, { '/a': '/b' });
      const ws = await open(`${s.url}/a`, { http2: true, followRedirects: true });
      expect(await roundTrip(ws, 'x')).toBe('1.1 x');
      expect(s.paths).toEqual(['/a', '/b']);
    });
  });
});

describe('with an agent: HTTP/1.1 through it', () => {
  /** An agent that counts the connections it makes (a proxy agent makes its own the same way). */
  function countingAgent<A extends typeof http.Agent>(Base: A) {
    const made: string[] = [];
    const agent = new (class extends (Base as typeof http.Agent) {
      override createConnection(...args: Parameters<http.Agent['createConnection']>) {
        made.push(`${(args[0] as { host?: string }).host}:${(args[0] as { port?: number }).port}`);
        return super.createConnection(...args);
      }
    })();
    return { agent, made };
  }

  // Regression: { http2: true, agent } opened its HTTP/2 session with its own socket, around the
  // agent: behind a proxy agent, a connection that bypasses the proxy.
  it.each([
    ['ws', 'h2c'],
    ['wss', 'tls'],
  ] as const)(
    '%s: a server that speaks HTTP/2 is still reached through the agent, over HTTP/1.1',
    async (_s, kind) => {
      const s = await start({}, kind);
      const { agent, made } = countingAgent(kind === 'tls' ? https.Agent : http.Agent);
      let connections = 0;
      s.server.on('connection', () => connections++);
      if (kind === 'h2c') {
        // An h2c server has no HTTP/1.1: the agent's connection fails the handshake, as it would
        // without the option; what matters is that no connection went around the agent.
        const ws = new WebSocket(s.url, { http2: true, agent });
        cleanups.push(() => ws.terminate());
        const first = await Promise.race([
          once(ws, 'open').then(() => 'open'),
          once<[number]>(ws, 'close').then(([code]) => `close ${code}`),
        ]);
        expect(first).toBe('close 1006');
      } else {
        const ws = await open(s.url, { http2: true, agent });
        expect(await roundTrip(ws, 'hi')).toBe('1.1 hi');
        expect(s.sessions.size).toBe(0);
      }
      expect(made).toEqual([`127.0.0.1:${new URL(s.url).port}`]);
      expect(connections).toBe(1);
    },
  );
});

describe('with createConnection: called as over HTTP/1.1', () => {
  // Regression: with { http2: true } the caller's createConnection was handed to http2.connect,
  // which calls it as (authority URL, options): a function written for ws (options.host,
  // options.port) got 'host:port' as the host and failed with ENOTFOUND.
  it('ws: node:http-style options (host, the port as written), and the session runs over its socket', async () => {
    const s = await start();
    const calls: unknown[] = [];
    const ws = await open(s.url, {
      http2: true,
      createConnection: ((o: { host: string; port: string }) => {
        calls.push({ host: o.host, port: o.port });
        return net.connect(Number(o.port), o.host);
      }) as never,
    });
    expect(await roundTrip(ws, 'hi')).toBe('2.0 hi');
    expect(calls).toEqual([{ host: '127.0.0.1', port: new URL(s.url).port }]);
  });

  it('wss: the options offer h2 by ALPN, with the TLS options', async () => {
    const s = await start({}, 'tls');
    const seen: unknown[] = [];
    const ws = await open(s.url, {
      http2: true,
      createConnection: ((o: tlsModule.ConnectionOptions) => {
        seen.push({ ALPNProtocols: o.ALPNProtocols, rejectUnauthorized: o.rejectUnauthorized });
        return tlsModule.connect(o);
      }) as never,
    });
    expect(await roundTrip(ws, 'hi')).toBe('2.0 hi');
    expect(seen).toEqual([{ ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false }]);
  });

  it('wss: a server that picks http/1.1: HTTP/1.1 on a second connection from the same function', async () => {
    const { url } = await http1Server(true);
    const alpn: unknown[] = [];
    const ws = await open(url, {
      http2: true,
      createConnection: ((o: tlsModule.ConnectionOptions) => {
        alpn.push(o.ALPNProtocols);
        return tlsModule.connect(o);
      }) as never,
    });
    expect(await roundTrip(ws, 'x')).toBe('1.1 x');
    expect(alpn).toEqual([['h2', 'http/1.1'], undefined]);
  });

  it('a createConnection that throws: its error, close 1006', async () => {
    const s = await start();
    const ws = new WebSocket(s.url, {
      http2: true,
      createConnection: (() => {
        throw new Error('no route');
      }) as never,
    });
    const closed = once<[number]>(ws, 'close');
    const [error] = await once<[Error]>(ws, 'error');
    expect(error.message).toBe('no route');
    expect((await closed)[0]).toBe(1006);
  });

  it('a socket called back after the WebSocket was closed is destroyed, not left holding a session', async () => {
    const s = await start();
    let callBack: (() => net.Socket) | undefined;
    const ws = new WebSocket(s.url, {
      http2: true,
      createConnection: ((_options: unknown, done: (e: Error | null, socket?: net.Socket) => void) => {
        callBack = () => {
          const socket = net.connect(s.port, '127.0.0.1');
          done(null, socket);
          return socket;
        };
      }) as never,
    });
    ws.close();
    expect((await once<[number]>(ws, 'close'))[0]).toBe(1006);
    const socket = callBack!();
    await once(socket, 'close');
    expect(s.sessions.size).toBe(0);
  });
});

describe('http2Session: the caller owns the session', () => {
  it('opens streams on the given session and leaves it open', async () => {
    const { port, origin } = await start();
    const session = http2.connect(origin);
    cleanups.push(async () => {
      await settle();
      session.destroy();
    });
    const ws = await open(`ws://127.0.0.1:${port}/mine`, { http2Session: session });
    expect(await roundTrip(ws, 'm')).toBe('2.0 m');
    ws.close();
    await once(ws, 'close');
    expect(session.closed).toBe(false);
    const again = await open(`ws://127.0.0.1:${port}/mine`, { http2Session: session });
    expect(await roundTrip(again, 'n')).toBe('2.0 n');
  });

  it('validates the options', () => {
    expect(() => new WebSocket('ws://a/', { http2: 'yes' as never })).toThrow(
      'The "http2" option must be a boolean',
    );
    expect(() => new WebSocket('ws://a/', { http2Session: {} as never })).toThrow(
      'The "http2Session" option must be a ClientHttp2Session (from http2.connect)',
    );
  });
});

describe('handshake failures and endings, client side', () => {
  it('a refusal (non-2xx) fails the handshake with WS_ERR_HANDSHAKE_STATUS', async () => {
    const { url } = await start({ verifyClient: () => false });
    const ws = new WebSocket(url, { http2: true });
    // 'close' follows 'error' in the same tick: listen to both first
    const closed = once<[number]>(ws, 'close');
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({
      code: 'WS_ERR_HANDSHAKE_STATUS',
      status: 0,
      name: 'Error',
      message: 'Unexpected server response: 401',
    });
    expect((await closed)[0]).toBe(1006);
  });

  it('close() before the answer cancels the stream; the session stays usable', async () => {
    const { url, wss } = await start({ verifyClient: (_info, cb) => setImmediate(cb, true) });
    const first = await open(url, { http2: true });
    const ws = new WebSocket(url, { http2: true });
    ws.close();
    const [code] = await once<[number]>(ws, 'close');
    expect(code).toBe(1006);
    expect(await roundTrip(first, 'alive')).toBe('2.0 alive');
    expect(wss.clients.size).toBe(1);
  });

  it('handshakeTimeout: a server that never answers', async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    trackSessions(server);
    server.on('stream', (stream) => stream.on('error', () => {}));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const wss = new WebSocketServer({ noServer: true });
    cleanups.push(() => closeH2(wss, server));
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      http2: true,
      handshakeTimeout: 50,
    });
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    // As over HTTP/1.1 (ws 8's message).
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ code: 'WS_ERR_HANDSHAKE_TIMEOUT', status: 0, name: 'Error' });
    expect(err.message).toBe('Opening handshake has timed out');
  });

  /** A TCP server that accepts and never says a word (no TLS handshake, no SETTINGS). */
  async function silentServer() {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.resume(); // read (and drop) what comes, so the client's FIN is seen
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const accepted = once<[net.Socket]>(server, 'connection').then(([s]) => s);
    return { port: (server.address() as AddressInfo).port, accepted };
  }

  for (const scheme of ['ws', 'wss'] as const) {
    it(`handshakeTimeout covers the connection: a server that never sends its SETTINGS (${scheme})`, async () => {
      const { port, accepted } = await silentServer();
      const ws = new WebSocket(`${scheme}://127.0.0.1:${port}`, { http2: true, handshakeTimeout: 50 });
      const closed = once<[number]>(ws, 'close');
      const [err] = await once<[Error & { code: string }]>(ws, 'error');
      expect(err).toBeInstanceOf(HandshakeError);
      expect(err).toMatchObject({
        code: 'WS_ERR_HANDSHAKE_TIMEOUT',
        message: 'Opening handshake has timed out',
      });
      expect((await closed)[0]).toBe(1006);
      // Nobody waits for that connection any more: it is closed, not left in the pool for the
      // next WebSocket to this origin to wait on.
      await once((await accepted) as net.Socket, 'close');
    });
  }

  it('close() while the connection is being made ends that connection', async () => {
    const { port, accepted } = await silentServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { http2: true });
    const socket = await accepted;
    ws.close();
    expect((await once<[number]>(ws, 'close'))[0]).toBe(1006);
    await once(socket, 'close');
  });

  it('handshakeTimeout covers waiting for the SETTINGS of a given http2Session', async () => {
    const { port } = await silentServer();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { http2Session: session, handshakeTimeout: 50 });
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    expect(err).toMatchObject({ code: 'WS_ERR_HANDSHAKE_TIMEOUT' });
    // The session is the caller's: it is left open.
    expect(session.destroyed).toBe(false);
  });

  it('WebSockets that stop waiting for the SETTINGS of a given http2Session leave no listener on it', async () => {
    // Regression: each waiter kept its 'remoteSettings' listener (and, on a session still
    // connecting, its 'connect' one) until SETTINGS came, which a silent server never sends.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => {
      vi.useRealTimers();
    });
    const { port } = await silentServer();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    const listeners = () => [session.listenerCount('remoteSettings'), session.listenerCount('connect')];
    const before = listeners();
    const url = `ws://127.0.0.1:${port}`;
    // Closed while the session is still connecting.
    expect(session.connecting).toBe(true);
    const early = new WebSocket(url, { http2Session: session, handshakeTimeout: 1000 });
    early.on('error', () => {});
    expect(listeners()).not.toEqual(before);
    early.close();
    expect(listeners()).toEqual(before);
    await once(session, 'connect');
    // Connected, SETTINGS never come: some time out, the others are closed.
    const timedOut = Array.from(
      { length: 3 },
      () => new WebSocket(url, { http2Session: session, handshakeTimeout: 1000 }),
    );
    const closed = Array.from({ length: 3 }, () => new WebSocket(url, { http2Session: session }));
    const errors = timedOut.map((ws) => once<[Error & { code: string }]>(ws, 'error'));
    for (const ws of closed) ws.on('error', () => {});
    expect(session.listenerCount('remoteSettings')).toBe(before[0] + 6);
    vi.advanceTimersByTime(1000);
    for (const [err] of await Promise.all(errors)) expect(err.code).toBe('WS_ERR_HANDSHAKE_TIMEOUT');
    for (const ws of closed) ws.close();
    expect(listeners()).toEqual(before);
    expect(session.destroyed).toBe(false);
  });

  it('a stream the server ends without answering fails the handshake with WS_ERR_HANDSHAKE_ABORTED', async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    trackSessions(server);
    // RST_STREAM NO_ERROR: not REFUSED_STREAM, which the client would retry (RFC 9113 8.7).
    server.on('stream', (stream) => stream.close(http2.constants.NGHTTP2_NO_ERROR));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const wss = new WebSocketServer({ noServer: true });
    cleanups.push(() => closeH2(wss, server));
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { http2: true });
    const closed = once<[number]>(ws, 'close');
    const [err] = await once<[Error & { code: string }]>(ws, 'error');
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ code: 'WS_ERR_HANDSHAKE_ABORTED', status: 0, name: 'Error' });
    expect(err.message).toBe('The server closed the stream before answering');
    // The reset's code is in the cause (Node reports CANCEL and NO_ERROR without an error).
    expect((err.cause as Error).message).toBe('RST_STREAM NGHTTP2_NO_ERROR');
    expect((await closed)[0]).toBe(1006);
  });

  it('terminate() resets its stream with CANCEL; the server sees 1006, other WebSockets go on', async () => {
    const { url, wss } = await start();
    const resets: number[] = [];
    const serverClosed = new Promise<number>((resolve) =>
      wss.once('connection', (ws) => {
        ws.once('close', (code) => resolve(code));
        (ws as unknown as { _socket: http2.ServerHttp2Stream })._socket.once(
          'close',
          function (this: http2.ServerHttp2Stream) {
            resets.push(this.rstCode);
          },
        );
      }),
    );
    const a = await open(url, { http2: true });
    const b = await open(url, { http2: true });
    a.terminate();
    expect(await serverClosed).toBe(1006);
    expect(resets).toEqual([http2.constants.NGHTTP2_CANCEL]);
    expect(await roundTrip(b, 'b')).toBe('2.0 b');
  });

  it("the server's session going away closes the client's WebSockets with 1006", async () => {
    const { url, sessions } = await start();
    const a = await open(url, { http2: true });
    const b = await open(url, { http2: true });
    const closed = Promise.all([once<[number]>(a, 'close'), once<[number]>(b, 'close')]);
    for (const s of sessions) s.destroy();
    expect((await closed).map(([c]) => c)).toEqual([1006, 1006]);
  });

  it('after a GOAWAY from the server, new WebSockets use a new session (a refused stream is retried) while the old streams finish', async () => {
    const { url, sessions } = await start();
    const a = await open(url, { http2: true });
    const [old] = sessions;
    const goaway = once(old, 'close');
    old.close(); // GOAWAY NO_ERROR: the open stream may finish
    const b = await open(url, { http2: true });
    expect(sessions.size).toBe(2);
    expect(await roundTrip(a, 'old stream')).toBe('2.0 old stream');
    expect(await roundTrip(b, 'new session')).toBe('2.0 new session');
    a.close();
    await goaway;
  });
});

describe('backpressure follows the stream window, client side', () => {
  it("send() turns false while the server does not read, 'drain' once it does", async () => {
    const { wss, url } = await start();
    const serverSide = once<[WebSocket]>(wss, 'connection');
    const ws = await open(url, { http2: true, perMessageDeflate: false });
    const [peer] = await serverSide;
    // A second WebSocket on the same session: its round trips prove the connection flows.
    const other = await open(url, { http2: true });
    peer.removeAllListeners('message');
    peer.pause(); // stops reading the stream: no WINDOW_UPDATE for it
    const chunk = Buffer.alloc(8 * 1024);
    for (let i = 0; i < 32; i++) ws.send(chunk);
    for (let i = 0; i < 3; i++) expect(await roundTrip(other, `rt${i}`)).toBe(`2.0 rt${i}`);
    expect(ws.bufferedAmount).toBeGreaterThan(128 * 1024);
    expect(ws.send(chunk)).toBe(false);
    const drained = once(ws, 'drain');
    const all = new Promise<void>((resolve) => {
      let count = 0;
      peer.on('message', () => {
        if (++count === 33) resolve();
      });
    });
    peer.resume();
    await drained;
    await all;
    expect(ws.bufferedAmount).toBe(0);
  });
});

/**
 * How routedH2 answers a request: a status (a Location for a 3xx, a body; `open`: the body never
 * ends), with `goaway` a GOAWAY after it whose last stream is this one (the streams the client
 * opens after it are refused), or `refuse`: RST_STREAM REFUSED_STREAM and no answer.
 */
type Answer =
  | { status: number; location?: string; body?: string; open?: boolean; goaway?: boolean }
  | { refuse: true };

/**
 * An HTTP/2 server (RFC 8441) whose answer to each extended CONNECT `route` decides by its path:
 * a status (a Location for a 3xx, a body), or null for a riptide WebSocket (it echoes with the
 * HTTP version). `hops` records each request's path, regular headers and session (numbered from 1
 * in the order they came); `sessions` its open sessions.
 */
async function routedH2(route: (path: string) => Answer | null, kind: 'h2c' | 'tls' = 'h2c') {
  const settings = { enableConnectProtocol: true };
  const server =
    kind === 'tls'
      ? http2.createSecureServer({ ...tls, allowHTTP1: true, settings })
      : http2.createServer({ settings });
  const sessions = trackSessions(server);
  const wss = new WebSocketServer({ noServer: true });
  const hops: { path: string; headers: Record<string, unknown>; session: number | undefined }[] = [];
  const sessionNumbers = new Map<unknown, number>();
  server.on('session', (session) => sessionNumbers.set(session, sessionNumbers.size + 1));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = String(headers[':path']);
    const fields = Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(':')));
    hops.push({ path, headers: fields, session: sessionNumbers.get(stream.session) });
    const answer = route(path);
    if (answer === null) {
      wss.handleStream(stream, headers, (ws, req) =>
        ws.on('message', (d) => ws.send(`${req.httpVersion} ${d}`)),
      );
      return;
    }
    if ('refuse' in answer) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    stream.respond({
      ':status': answer.status,
      ...(answer.location !== undefined && { location: answer.location }),
    });
    // `open`: the body never ends (a server that stops there).
    if (answer.open) stream.write(answer.body ?? '');
    else stream.end(answer.body ?? '');
    if (answer.goaway) stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => closeH2(wss, server));
  const port = (server.address() as AddressInfo).port;
  return { url: `${kind === 'tls' ? 'wss' : 'ws'}://127.0.0.1:${port}`, port, hops, sessions };
}

/** Resolves on the WebSocket's 'close' with its events: 'redirect', 'open', 'error', 'close'. */
function events(ws: WebSocket): Promise<string[]> {
  const seen: string[] = [];
  ws.on('redirect', (url: string) => seen.push(`redirect ${url}`));
  ws.on('open', () => seen.push('open'));
  ws.on('error', (err: Error & { code?: string }) => seen.push(`error ${err.code ?? ''}: ${err.message}`));
  return new Promise((resolve) =>
    ws.on('close', (code: number) => {
      seen.push(`close ${code}`);
      resolve(seen);
    }),
  );
}

describe('followRedirects over HTTP/2 (RFC 8441 streams answered with a 3xx)', () => {
  for (const kind of ['h2c', 'tls'] as const) {
    it(`follows a 302 on the same session, 'redirect' first, and opens over HTTP/2 (${kind})`, async () => {
      const s = await routedH2((path) => (path === '/a' ? { status: 302, location: '/b?x=1' } : null), kind);
      const ws = new WebSocket(`${s.url}/a`, {
        http2: true,
        followRedirects: true,
        rejectUnauthorized: false,
      });
      cleanups.push(() => ws.terminate());
      const redirects: unknown[] = [];
      let kept: http.ClientRequest | null = null;
      ws.on('redirect', (url: string, req: http.ClientRequest) => {
        kept = req;
        redirects.push(url, req.method, req.path, req.headersSent);
      });
      await once(ws, 'open');
      expect(redirects).toEqual([`${s.url}/b?x=1`, 'CONNECT', '/b?x=1', false]);
      expect(ws.url).toBe(`${s.url}/b?x=1`);
      // The request kept by the listener lets go of the stream once the WebSocket runs on it, as
      // a ClientRequest lets go of its socket after the upgrade: destroying it ends nothing.
      (kept as http.ClientRequest | null)?.destroy();
      const reply = await Promise.race([
        roundTrip(ws, 'x'),
        once<[number]>(ws, 'close').then(([code]) => `close ${code}`),
      ]);
      expect(reply).toBe('2.0 x');
      expect(s.hops.map((h) => h.path)).toEqual(['/a', '/b?x=1']);
      expect(s.sessions.size).toBe(1);
    });
  }

  it('more redirects than maxRedirects: WS_ERR_MAX_REDIRECTS, close 1006, and the session is closed', async () => {
    let n = 0;
    const s = await routedH2(() => ({ status: 307, location: `/hop${++n}` }));
    const ws = new WebSocket(`${s.url}/start`, { http2: true, followRedirects: true, maxRedirects: 2 });
    expect(await events(ws)).toEqual([
      `redirect ${s.url}/hop1`,
      `redirect ${s.url}/hop2`,
      'error WS_ERR_MAX_REDIRECTS: Maximum redirects exceeded',
      'close 1006',
    ]);
    expect(s.hops.map((h) => h.path)).toEqual(['/start', '/hop1', '/hop2']);
    // No pooled session is left open: its last stream closed, so the client closed it.
    const [session] = s.sessions;
    if (session !== undefined) await once(session, 'close');
    expect(s.sessions.size).toBe(0);
  });

  it('to another origin: a new session there, the first one closed; Authorization and Cookie stay behind', async () => {
    const b = await routedH2(() => null, 'tls');
    // The same host and port keep the credentials, another port is another host (ws, curl).
    const a = await routedH2((path) =>
      path === '/a' ? { status: 302, location: '/same' } : { status: 301, location: `${b.url}/b` },
    );
    const ws = await open(`${a.url.replace('ws://', 'ws://user:pw@')}/a`, {
      http2: true,
      followRedirects: true,
      headers: { Cookie: 'sid=1', 'X-Other': 'kept' },
    });
    expect(await roundTrip(ws, 'there')).toBe('2.0 there');
    expect(ws.url).toBe(`${b.url}/b`);
    const basic = `Basic ${Buffer.from('user:pw').toString('base64')}`;
    expect(
      a.hops.map((h) => [h.path, h.headers.authorization, h.headers.cookie, h.headers['x-other']]),
    ).toEqual([
      ['/a', basic, 'sid=1', 'kept'],
      ['/same', basic, 'sid=1', 'kept'],
    ]);
    expect(
      b.hops.map((h) => [h.path, h.headers.authorization, h.headers.cookie, h.headers['x-other']]),
    ).toEqual([['/b', undefined, undefined, 'kept']]);
    // The first origin's session had no stream left: closed, not kept in the pool.
    for (const session of a.sessions) await once(session, 'close');
    expect([a.sessions.size, b.sessions.size]).toEqual([0, 1]);
  });

  it('each hop starts as the first: HTTP/2 to an HTTP/1.1-only server falls back, and back to HTTP/2', async () => {
    const h2 = await routedH2(() => null);
    const h1 = await http1Server(false, { '/b': `${h2.url}/c` });
    const s = await routedH2((path) => (path === '/a' ? { status: 302, location: `${h1.url}/b` } : null));
    const ws = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true });
    cleanups.push(() => ws.terminate());
    // Each hop's request is of its transport: instanceof tells them apart (the package exports
    // the HTTP/2 classes).
    const requests: [string, boolean, boolean][] = [];
    ws.on('redirect', (url, req) => {
      requests.push([
        new URL(url).pathname,
        req instanceof Http2HandshakeRequest,
        req instanceof http.ClientRequest,
      ]);
    });
    await once(ws, 'open');
    expect(requests).toEqual([
      ['/b', false, true],
      ['/c', true, false],
    ]);
    expect(await roundTrip(ws, 'x')).toBe('2.0 x');
    expect(s.hops.map((h) => h.path)).toEqual(['/a']);
    expect(h1.paths).toEqual(['/b']);
    expect(h2.hops.map((h) => h.path)).toEqual(['/c']);
    // To an HTTP/1.1 server that accepts: the WebSocket opens over HTTP/1.1.
    const h1ok = await http1Server(false);
    const t = await routedH2(() => ({ status: 303, location: `${h1ok.url}/d` }));
    const ws2 = await open(`${t.url}/a`, { http2: true, followRedirects: true });
    expect(await roundTrip(ws2, 'y')).toBe('1.1 y');
  });

  it("'redirect' gets the request before it is sent: removeHeader() works, nothing else is stripped", async () => {
    const b = await routedH2(() => null);
    const a = await routedH2(() => ({ status: 302, location: `${b.url}/b` }));
    const ws = new WebSocket(`${a.url}/a`, {
      http2: true,
      followRedirects: true,
      headers: { Authorization: 'Bearer t', Cookie: 'sid=1' },
    });
    cleanups.push(() => ws.terminate());
    ws.on('redirect', (_url: string, req: http.ClientRequest) => {
      expect(req.getHeader('cookie')).toBe('sid=1');
      req.removeHeader('cookie');
      req.setHeader('X-Added', 'yes');
    });
    await once(ws, 'open');
    expect(b.hops[0].headers).toMatchObject({ authorization: 'Bearer t', 'x-added': 'yes' });
    expect(b.hops[0].headers.cookie).toBeUndefined();
  });

  for (const refusal of ['RST_STREAM REFUSED_STREAM', 'GOAWAY'] as const) {
    it(`a hop's stream refused (${refusal}) is sent again on a new session as 'redirect' left it, without a second 'redirect'`, async () => {
      let refused = 0;
      const s = await routedH2((path) => {
        if (path === '/a') return { status: 302, location: '/b', goaway: refusal === 'GOAWAY' };
        if (refusal !== 'GOAWAY' && refused++ === 0) return { refuse: true };
        return null;
      });
      const ws = new WebSocket(`${s.url}/a`, {
        http2: true,
        followRedirects: true,
        headers: { Cookie: 'sid=1' },
      });
      cleanups.push(() => ws.terminate());
      const redirects: string[] = [];
      let closes = 0;
      ws.on('redirect', (url: string, req: http.ClientRequest) => {
        redirects.push(url);
        req.removeHeader('cookie');
        req.setHeader('X-Hop', String(redirects.length));
        req.on('close', () => closes++);
      });
      await once(ws, 'open');
      expect(await roundTrip(ws, 'x')).toBe('2.0 x');
      expect(redirects).toEqual([`${s.url}/b`]);
      // The request is not over while it is retried: no 'close' for the refused stream.
      expect(closes).toBe(0);
      // The stream refused by RST_STREAM reached the server; one beyond a GOAWAY's last stream
      // did not (RFC 9113 6.8).
      const b = [['/b', undefined, '1']];
      expect(s.hops.map((h) => [h.path, h.headers.cookie, h.headers['x-hop']])).toEqual([
        ['/a', 'sid=1', undefined],
        ...(refusal === 'GOAWAY' ? b : [...b, ...b]),
      ]);
      // The retry went to a new session (the refusing one left the pool).
      expect(s.hops.map((h) => h.session)).toEqual(refusal === 'GOAWAY' ? [1, 2] : [1, 1, 2]);
    });
  }

  // docs/http2.md: a retry that finds HTTP/1.1 sends a ClientRequest of its own, built afresh
  // from the user's headers, so 'redirect' comes again with it: the listener decides for the
  // request that is actually sent (nothing is stripped for it otherwise), as it did for the first.
  it("a hop's stream refused and the retry meets HTTP/1.1: 'redirect' again, with the ClientRequest sent instead", async () => {
    const h2 = await routedH2((path) => (path === '/a' ? { status: 302, location: '/b' } : { refuse: true }));
    const h1 = await http1Server(false);
    // One origin: its first connection reaches the HTTP/2 server, every later one the HTTP/1.1
    // server (where the retry's HTTP/2 with prior knowledge fails, and the client falls back).
    let accepted = 0;
    const piped: net.Socket[] = [];
    const front = net.createServer((socket) => {
      const upstream = net.connect(accepted++ === 0 ? h2.port : h1.port, '127.0.0.1');
      for (const end of [socket, upstream]) {
        end.on('error', () => {});
        piped.push(end);
      }
      socket.pipe(upstream).pipe(socket);
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    cleanups.push(async () => {
      for (const end of piped) end.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    });
    const url = `ws://127.0.0.1:${(front.address() as AddressInfo).port}`;
    const ws = new WebSocket(`${url}/a`, {
      http2: true,
      followRedirects: true,
      headers: { Cookie: 'sid=1' },
    });
    cleanups.push(() => ws.terminate());
    const redirects: unknown[][] = [];
    const closes: number[] = [];
    ws.on('redirect', (to, req) => {
      const hop = redirects.length;
      redirects.push([to, req instanceof Http2HandshakeRequest, req instanceof http.ClientRequest]);
      redirects[hop].push(req.getHeader('cookie'));
      closes.push(0);
      req.on('close', () => closes[hop]++);
      req.removeHeader('cookie');
      req.setHeader('X-Hop', String(hop + 1));
    });
    await once(ws, 'open');
    expect(await roundTrip(ws, 'x')).toBe('1.1 x');
    // The second request starts from the user's headers again (the Cookie is back) and goes out
    // as the listener left it.
    expect(redirects).toEqual([
      [`${url}/b`, true, false, 'sid=1'],
      [`${url}/b`, false, true, 'sid=1'],
    ]);
    expect(h2.hops.map((h) => [h.path, h.session, h.headers.cookie, h.headers['x-hop']])).toEqual([
      ['/a', 1, 'sid=1', undefined],
      ['/b', 1, undefined, '1'],
    ]);
    expect(h1.paths).toEqual(['/b']);
    expect([h1.headers[0].cookie, h1.headers[0]['x-hop']]).toEqual([undefined, '2']);
    // Each request is done once: the refused one when the retry went to HTTP/1.1.
    expect(closes).toEqual([1, 1]);
    // The HTTP/2 attempt on the second connection, then the HTTP/1.1 request on a third.
    expect([accepted, h1.connections.length]).toEqual([3, 2]);
  });

  it("a hop refused every time: 'redirect' once, the request's 'close' once, then node's stream error", async () => {
    const s = await routedH2((path) => (path === '/a' ? { status: 302, location: '/b' } : { refuse: true }));
    const ws = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true });
    let closes = 0;
    ws.on('redirect', (_url, req) => req.on('close', () => closes++));
    expect(await events(ws)).toEqual([
      `redirect ${s.url}/b`,
      'error ERR_HTTP2_STREAM_ERROR: Stream closed with error code NGHTTP2_REFUSED_STREAM',
      'close 1006',
    ]);
    expect(closes).toBe(1);
    // Sent three times (two retries, RFC 9113 8.7), each on a session of its own.
    expect(s.hops.map((h) => [h.path, h.session])).toEqual([
      ['/a', 1],
      ['/b', 1],
      ['/b', 2],
      ['/b', 3],
    ]);
  });

  it("a request 'redirect' kept and destroyed while its refused stream waits for the retry is not sent again", async () => {
    const s = await routedH2((path) => (path === '/a' ? { status: 302, location: '/b' } : { refuse: true }));
    const ws = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true });
    let closes = 0;
    ws.on('redirect', (_url, req) => {
      req.on('close', () => closes++);
      // Sent once the listener returns: when that stream is refused, cancel the request.
      const h2 = req as Http2HandshakeRequest;
      queueMicrotask(() => h2.stream?.once('close', () => h2.destroy(new Error('not again'))));
    });
    expect(await events(ws)).toEqual([`redirect ${s.url}/b`, 'error : not again', 'close 1006']);
    expect(closes).toBe(1);
    expect(s.hops.map((h) => [h.path, h.session])).toEqual([
      ['/a', 1],
      ['/b', 1],
    ]);
  });

  it("'redirect' can cancel the request (never sent: its error fails the WebSocket) or throw", async () => {
    const s = await routedH2((path) => (path === '/a' ? { status: 302, location: '/b' } : null));
    // Each request, never sent, is done: its 'close' comes once (a ClientRequest destroyed before
    // it has a socket emits one too).
    const closes = [0, 0, 0];
    const cancelled = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true });
    cancelled.on('redirect', (_url: string, req: http.ClientRequest) => {
      req.on('close', () => closes[0]++);
      req.destroy(new Error('not there'));
    });
    const throwing = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true });
    throwing.on('redirect', (_url: string, req: http.ClientRequest) => {
      req.on('close', () => closes[1]++);
      throw new Error('listener failed');
    });
    const closing = new WebSocket(`${s.url}/a`, { http2: true, followRedirects: true });
    closing.on('redirect', (_url: string, req: http.ClientRequest) => {
      req.on('close', () => closes[2]++);
      closing.close();
    });
    const results = await Promise.all([events(cancelled), events(throwing), events(closing)]);
    // (The throwing listener stops the emit before events()'s own 'redirect' listener.)
    expect(results.map((r) => r.filter((e) => !e.startsWith('redirect')))).toEqual([
      ['error : not there', 'close 1006'],
      ['error : listener failed', 'close 1006'],
      [
        'error WS_ERR_HANDSHAKE_ABORTED: WebSocket was closed before the connection was established',
        'close 1006',
      ],
    ]);
    expect(s.hops.map((h) => h.path)).toEqual(['/a', '/a', '/a']);
    expect(closes).toEqual([1, 1, 1]);
    for (const session of s.sessions) await once(session, 'close');
  });

  it('a Location to ws+unix: is refused (WS_ERR_REDIRECT_TO_UNIX); an empty one is not followed', async () => {
    const s = await routedH2((path) =>
      path === '/unix' ? { status: 302, location: 'ws+unix:/tmp/x.sock' } : { status: 302, location: '' },
    );
    const unix = new WebSocket(`${s.url}/unix`, { http2: true, followRedirects: true });
    expect(await events(unix)).toEqual([
      'error WS_ERR_REDIRECT_TO_UNIX: Redirect from a network URL to a ws+unix: socket refused',
      'close 1006',
    ]);
    const empty = new WebSocket(`${s.url}/empty`, { http2: true, followRedirects: true });
    expect(await events(empty)).toEqual([
      'error WS_ERR_HANDSHAKE_STATUS: Unexpected server response: 302',
      'close 1006',
    ]);
    expect(s.hops.map((h) => h.path)).toEqual(['/unix', '/empty']);
  });

  it("http2Session: a redirect on the session's origin uses it; to another origin it is refused", async () => {
    const other = await routedH2(() => null);
    const s = await routedH2((path) =>
      path === '/a'
        ? { status: 302, location: '/b' }
        : path === '/far'
          ? { status: 302, location: `${other.url}/x` }
          : null,
    );
    const session = http2.connect(`http://127.0.0.1:${s.port}`);
    cleanups.push(async () => {
      await settle();
      session.destroy();
    });
    const ws = await open(`${s.url}/a`, { http2Session: session, followRedirects: true });
    expect(await roundTrip(ws, 'x')).toBe('2.0 x');
    const far = new WebSocket(`${s.url}/far`, { http2Session: session, followRedirects: true });
    expect(await events(far)).toEqual([
      "error WS_ERR_REDIRECT_OTHER_SESSION: Redirect to another origin than the http2Session's refused",
      'close 1006',
    ]);
    expect(other.hops).toEqual([]);
    expect(s.sessions.size).toBe(1);
  });
});

describe("'unexpected-response' over HTTP/2: a non-2xx answer to the extended CONNECT", () => {
  it('the listener gets (req, res) shaped as http.ClientRequest and http.IncomingMessage, with the body', async () => {
    const s = await routedH2(() => ({ status: 403, body: 'not you' }));
    const ws = new WebSocket(`${s.url}/a?b=1`, { http2: true, headers: { 'X-Who': 'me' } });
    const seen: unknown[] = [];
    const [req, res] = await once<[http.ClientRequest, http.IncomingMessage]>(ws, 'unexpected-response');
    expect([req instanceof Http2HandshakeRequest, res instanceof Http2HandshakeResponse]).toEqual([
      true,
      true,
    ]);
    seen.push(req.method, req.path, req.protocol, req.host, req.getHeader('x-who'), req.headersSent);
    seen.push(
      res.statusCode,
      res.statusMessage,
      res.httpVersion,
      res.headers[':status'],
      res.rawHeaders.length > 0,
    );
    expect(seen).toEqual([
      'CONNECT',
      '/a?b=1',
      'http:',
      '127.0.0.1',
      'me',
      true,
      403,
      '',
      '2.0',
      undefined,
      true,
    ]);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('not you');
    // The WebSocket stays CONNECTING, the listener's to end; its end closes the pooled session.
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    const closed = once<[number]>(ws, 'close');
    ws.terminate();
    expect((await closed)[0]).toBe(1006);
    for (const session of s.sessions) await once(session, 'close');
  });

  it("instanceof holds for another copy's objects (the ESM and CommonJS builds): Symbol.for brands", () => {
    // What the other copy's classes carry on their prototypes; nothing else passes.
    const copy = (name: string) => {
      const Other = class {};
      Object.defineProperty(Other.prototype, Symbol.for(`riptide.${name}`), { value: true });
      return new Other();
    };
    expect([
      copy('Http2HandshakeRequest') instanceof Http2HandshakeRequest,
      copy('Http2HandshakeResponse') instanceof Http2HandshakeResponse,
      copy('Http2HandshakeResponse') instanceof Http2HandshakeRequest,
      {} instanceof Http2HandshakeResponse,
      (null as unknown as object) instanceof Http2HandshakeRequest,
    ]).toEqual([true, true, false, false, false]);
  });

  it('a 3xx without followRedirects goes to the listener, Location in its headers; without one it fails as before', async () => {
    const s = await routedH2(() => ({ status: 308, location: '/elsewhere' }));
    const ws = new WebSocket(`${s.url}/a`, { http2: true });
    const [, res] = await once<[unknown, http.IncomingMessage]>(ws, 'unexpected-response');
    expect([res.statusCode, res.headers.location]).toEqual([308, '/elsewhere']);
    ws.terminate();
    const unheard = new WebSocket(`${s.url}/b`, { http2: true });
    expect(await events(unheard)).toEqual([
      'error WS_ERR_HANDSHAKE_STATUS: Unexpected server response: 308',
      'close 1006',
    ]);
    expect(s.hops.map((h) => h.path)).toEqual(['/a', '/b']);
  });

  it('handshakeTimeout: a body not read to its end fails the WebSocket, and the stream is cancelled', async () => {
    const s = await routedH2(() => ({ status: 403, body: 'abc', open: true }));
    const seen = await beforeTheDeadline(
      async (handshakeTimeout) => {
        const ws = new WebSocket(`${s.url}/a`, { http2: true, handshakeTimeout });
        const seen: string[] = [];
        ws.on('unexpected-response', (_req: unknown, res: http.IncomingMessage) => {
          seen.push(`unexpected-response ${res.statusCode}`);
          res.on('data', (d: Buffer) => seen.push(`data ${d}`));
        });
        seen.push(...(await events(ws)));
        return seen;
      },
      // A machine under load may not bring the answer in before the deadline: again, with longer.
      (seen) => seen[0] !== 'unexpected-response 403',
    );
    expect(seen).toEqual([
      'unexpected-response 403',
      'data abc',
      'error WS_ERR_HANDSHAKE_TIMEOUT: Opening handshake has timed out',
      'close 1006',
    ]);
    for (const session of s.sessions) await once(session, 'close');
  });

  it('a body read to its end keeps the WebSocket for the listener: no timeout after it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => {
      vi.useRealTimers();
    });
    const s = await routedH2(() => ({ status: 401, body: 'who?' }));
    const ws = new WebSocket(`${s.url}/a`, { http2: true, handshakeTimeout: 1000 });
    const errors: string[] = [];
    ws.on('error', (err: Error) => errors.push(err.message));
    const requestClosed = new Promise<void>((resolve) =>
      ws.on('unexpected-response', (req: http.ClientRequest, res: http.IncomingMessage) => {
        res.resume();
        req.on('close', () => resolve());
      }),
    );
    await requestClosed;
    vi.advanceTimersByTime(2000);
    expect(errors).toEqual([]);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    ws.terminate();
  });
});

// ws 8 emits 'upgrade' with the 101 as it arrives, before checking it and before 'open'; code
// written for ws reads Set-Cookie there. Over HTTP/2 (RFC 8441 5) the 2xx takes the 101's place.
// Each case runs over both transports against one server (TLS, HTTP/2 with allowHTTP1): what
// holds over HTTP/1.1 is what the HTTP/2 client is held to.
describe("'upgrade' over HTTP/2: the 2xx answer, where HTTP/1.1 has the 101", () => {
  const transports = [
    { name: 'HTTP/1.1', http2: false, status: 101, version: '1.1' },
    { name: 'HTTP/2', http2: true, status: 200, version: '2.0' },
  ] as const;

  /** start() over TLS, its answers carrying two Set-Cookie lines (the 'headers' event's). */
  async function cookieServer() {
    const s = await start({}, 'tls');
    s.wss.on('headers', (lines) => lines.push('Set-Cookie: a=1', 'Set-Cookie: b=2'));
    return s;
  }

  /** The messages of the uncaught exceptions until the test's end (a throwing listener's). */
  function recordUncaught(): string[] {
    const uncaught: string[] = [];
    const record = (err: Error) => uncaught.push(err.message);
    process.on('uncaughtException', record);
    cleanups.push(() => {
      process.removeListener('uncaughtException', record);
    });
    return uncaught;
  }

  for (const t of transports) {
    it(`comes with the answer's status and headers, Set-Cookie too, just before 'open' (${t.name})`, async () => {
      const { url } = await cookieServer();
      const ws = new WebSocket(url, { rejectUnauthorized: false, http2: t.http2 });
      cleanups.push(() => ws.terminate());
      const seen: unknown[] = [];
      ws.on('upgrade', (res) => {
        seen.push('upgrade', res.statusCode, res.httpVersion, res.headers['set-cookie'], ws.readyState);
        seen.push(res instanceof Http2HandshakeResponse);
      });
      ws.on('open', () => seen.push('open'));
      await once(ws, 'open');
      expect(seen).toEqual([
        'upgrade',
        t.status,
        t.version,
        ['a=1', 'b=2'],
        WebSocket.CONNECTING,
        t.http2,
        'open',
      ]);
      expect(await roundTrip(ws, 'x')).toBe(`${t.version} x`);
    });

    it(`a listener that throws: the throw goes on uncaught, no 'open', CONNECTING until terminate() (${t.name})`, async () => {
      const { url, wss } = await cookieServer();
      const uncaught = recordUncaught();
      const accepted = once<[WebSocket]>(wss, 'connection');
      const ws = new WebSocket(url, { rejectUnauthorized: false, http2: t.http2 });
      cleanups.push(() => ws.terminate());
      const seen = events(ws);
      ws.on('upgrade', () => {
        throw new Error('listener failed');
      });
      await until(() => uncaught.length > 0);
      // 'open' would have come in the same call as the 'upgrade' it follows.
      expect([uncaught, ws.readyState]).toEqual([['listener failed'], WebSocket.CONNECTING]);
      // The connection (over HTTP/2 the session, whose other streams go on) is unharmed.
      if (t.http2) expect(await roundTrip(await open(url, { http2: true }), 'other')).toBe('2.0 other');
      const [server] = await accepted;
      const serverClosed = once<[number]>(server, 'close');
      ws.terminate();
      expect(await seen).toEqual([
        'error WS_ERR_HANDSHAKE_ABORTED: WebSocket was closed before the connection was established',
        'close 1006',
      ]);
      // The server's end goes too (over HTTP/2, the stream is cancelled).
      expect((await serverClosed)[0]).toBe(1006);
    });

    it(`a listener that closes the WebSocket ends it there: no 'open', the server's end closes (${t.name})`, async () => {
      const { url, wss } = await cookieServer();
      const accepted = once<[WebSocket]>(wss, 'connection');
      const ws = new WebSocket(url, { rejectUnauthorized: false, http2: t.http2 });
      ws.on('upgrade', () => ws.close());
      expect(await events(ws)).toEqual([
        'error WS_ERR_HANDSHAKE_ABORTED: WebSocket was closed before the connection was established',
        'close 1006',
      ]);
      const [server] = await accepted;
      if (server.readyState !== WebSocket.CLOSED) await once(server, 'close');
    });
  }

  it('a listener that throws, then the server ends the stream: the error says it had answered (HTTP/2)', async () => {
    const { url, wss } = await cookieServer();
    const uncaught = recordUncaught();
    const accepted = once<[WebSocket]>(wss, 'connection');
    const ws = new WebSocket(url, { rejectUnauthorized: false, http2: true });
    cleanups.push(() => ws.terminate());
    const seen = events(ws);
    ws.on('upgrade', () => {
      throw new Error('listener failed');
    });
    await until(() => uncaught.length > 0);
    const [server] = await accepted;
    server.terminate();
    expect(await seen).toEqual([
      'error WS_ERR_HANDSHAKE_ABORTED: The server closed the stream after its answer, before the WebSocket opened',
      'close 1006',
    ]);
  });

  it("the response's body is empty and ended, and its destroy() leaves the WebSocket's stream alone", async () => {
    const { url } = await cookieServer();
    const ws = new WebSocket(url, { rejectUnauthorized: false, http2: true });
    cleanups.push(() => ws.terminate());
    const [res] = await once<[Http2HandshakeResponse]>(ws, 'upgrade');
    expect([res.statusCode, res.statusMessage, res.rawHeaders.includes('set-cookie')]).toEqual([
      200,
      '',
      true,
    ]);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(chunks).toEqual([]);
    res.destroy();
    if (ws.readyState === WebSocket.CONNECTING) await once(ws, 'open');
    const reply = await Promise.race([
      roundTrip(ws, 'still'),
      once<[number]>(ws, 'close').then(([code]) => `close ${code}`),
    ]);
    expect(reply).toBe('2.0 still');
  });

  it('comes before the answer is checked: a 200 with a subprotocol never offered fails after it', async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    trackSessions(server);
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200, 'sec-websocket-protocol': 'other' });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => closeH2(new WebSocketServer({ noServer: true }), server));
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, ['chat'], {
      http2: true,
    });
    const seen: string[] = [];
    ws.on('upgrade', (res) => seen.push(`upgrade ${res.statusCode}`));
    ws.on('open', () => seen.push('open'));
    ws.on('error', (err: Error & { code?: string }) => seen.push(`error ${err.code}: ${err.message}`));
    const [code] = await once<[number]>(ws, 'close');
    expect([...seen, code]).toEqual([
      'upgrade 200',
      'error WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL: Server sent an invalid subprotocol',
      1006,
    ]);
  });
});
