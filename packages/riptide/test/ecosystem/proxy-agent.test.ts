/**
 * Behind a corporate proxy, ws users pass an `agent` (ws's README: `new WebSocket(url, { agent:
 * new HttpsProxyAgent(proxyUrl) })`), a SOCKS agent, or their own `createConnection`. riptide's
 * client takes the same options unchanged: every case runs against riptide's WebSocket and ws's,
 * through the same proxy to the same riptide server, and the user-visible events are compared.
 *
 * The proxy is written here (node:http): CONNECT tunnels (what https-proxy-agent asks for, for
 * ws: and wss: alike) and absolute-form requests (what http-proxy-agent sends: it rewrites the
 * request target to `http://host:port/path`, so an upgrade request goes through a forwarding
 * proxy that relays it). It records what it saw: the targets and the Proxy-Authorization header.
 * Every wait is on an event; ports are 0.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ClientOptions, WebSocket as WsWebSocket } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { refusedPort } from '../node/helpers.js';

const fixtures = join(__dirname, '..', 'fixtures');
const cert = readFileSync(join(fixtures, 'test-cert.pem'));
const key = readFileSync(join(fixtures, 'test-key.pem'));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Close a listening server and every socket it accepted. */

/**
 * Connects to host:port for a proxy's client, calls `opened` with the upstream socket (to write
 * what goes first), then splices the two; either side failing or closing tears both down.
 */
function tunnel(client: Duplex, port: number, host: string, opened: (upstream: net.Socket) => void): void {
  const upstream = net.connect(port, host, () => {
    opened(upstream);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
  client.on('close', () => upstream.destroy());
}

function track(server: net.Server): void {
  const sockets = new Set<Duplex>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

interface Target {
  url: string;
  port: number;
  /** The handshake requests' headers, in order. */
  requests: http.IncomingHttpHeaders[];
}

/** A riptide echo server (TLS with the test certificate when `secure`). */
async function target(secure = false): Promise<Target> {
  const server = secure ? https.createServer({ cert, key }) : http.createServer();
  track(server);
  const wss = new WebSocketServer({ server });
  const requests: http.IncomingHttpHeaders[] = [];
  wss.on('connection', (ws, req) => {
    requests.push(req.headers);
    ws.on('message', (data) => ws.send(`echo: ${data}`));
  });
  const port = await listen(server);
  return { url: `${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/feed`, port, requests };
}

interface Proxy {
  /** http://127.0.0.1:port, with `user:pass@` when asked. */
  url: string;
  /** Each request the proxy got: CONNECT host:port, or the absolute-form target. */
  seen: { method: string; target: string; proxyAuthorization: string | undefined }[];
}

/** A forward proxy: CONNECT tunnels and absolute-form upgrade requests; `refuse` answers both. */
async function proxy(options: { refuse?: 403 | 407; auth?: string } = {}): Promise<Proxy> {
  const server = http.createServer((_req, res) => {
    res.writeHead(405).end();
  });
  track(server);
  const seen: Proxy['seen'] = [];
  const refusal = (status: number) =>
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
    (status === 407 ? 'Proxy-Authenticate: Basic realm="proxy"\r\n' : '') +
    'Content-Length: 0\r\nConnection: close\r\n\r\n';
  server.on('connect', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    seen.push({
      method: 'CONNECT',
      target: req.url!,
      proxyAuthorization: req.headers['proxy-authorization'],
    });
    if (options.refuse !== undefined) {
      client.end(refusal(options.refuse));
      return;
    }
    const [host, port] = [
      req.url!.slice(0, req.url!.lastIndexOf(':')),
      req.url!.slice(req.url!.lastIndexOf(':') + 1),
    ];
    tunnel(client, Number(port), host, (upstream) => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
    });
  });
  // An absolute-form GET with Upgrade: relay it to the origin in origin-form, without the
  // hop-by-hop Proxy-* fields, then splice the two sockets.
  server.on('upgrade', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    seen.push({
      method: req.method!,
      target: req.url!,
      proxyAuthorization: req.headers['proxy-authorization'],
    });
    if (options.refuse !== undefined) {
      client.end(refusal(options.refuse));
      return;
    }
    const to = new URL(req.url!);
    tunnel(client, Number(to.port || 80), to.hostname, (upstream) => {
      let head1 = `${req.method} ${to.pathname}${to.search} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (/^proxy-/i.test(req.rawHeaders[i]!)) continue;
        head1 += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      }
      upstream.write(`${head1}\r\n`);
      upstream.write(head);
    });
  });
  const port = await listen(server);
  return { url: `http://${options.auth ? `${options.auth}@` : ''}127.0.0.1:${port}`, seen };
}

interface Socks {
  url: string;
  /** Each CONNECT request: host:port, and the RFC 1929 username:password when one was sent. */
  seen: { target: string; credentials: string | undefined }[];
}

/**
 * A SOCKS5 proxy (RFC 1928): no authentication, or username/password (RFC 1929) when `auth` is
 * given; CONNECT only, to IPv4 addresses and domain names. Input is gathered until each message
 * is complete, so how TCP splits it does not matter.
 */
async function socks(auth?: string): Promise<Socks> {
  const server = net.createServer();
  track(server);
  const seen: Socks['seen'] = [];
  server.on('connection', (client) => {
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' = 'greeting';
    let credentials: string | undefined;
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (stage === 'greeting') {
          if (buffered.length < 2 || buffered.length < 2 + buffered[1]!) return;
          const methods = [...buffered.subarray(2, 2 + buffered[1]!)];
          buffered = buffered.subarray(2 + buffered[1]!);
          const method = auth !== undefined ? 0x02 : 0x00;
          if (!methods.includes(method)) {
            client.end(Buffer.from([0x05, 0xff]));
            return;
          }
          client.write(Buffer.from([0x05, method]));
          stage = auth !== undefined ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buffered.length < 2) return;
          const ulen = buffered[1]!;
          if (buffered.length < 3 + ulen || buffered.length < 3 + ulen + buffered[2 + ulen]!) return;
          const plen = buffered[2 + ulen]!;
          credentials = `${buffered.subarray(2, 2 + ulen)}:${buffered.subarray(3 + ulen, 3 + ulen + plen)}`;
          buffered = buffered.subarray(3 + ulen + plen);
          const ok = credentials === auth;
          client.write(Buffer.from([0x01, ok ? 0x00 : 0x01]));
          if (!ok) {
            client.end();
            return;
          }
          stage = 'request';
        } else {
          if (buffered.length < 5) return;
          const atyp = buffered[3]!;
          const addrLength = atyp === 0x01 ? 4 : atyp === 0x03 ? 1 + buffered[4]! : 16;
          if (buffered.length < 4 + addrLength + 2) return;
          const host =
            atyp === 0x01
              ? [...buffered.subarray(4, 8)].join('.')
              : `${buffered.subarray(5, 4 + addrLength)}`;
          const port = buffered.readUInt16BE(4 + addrLength);
          const rest = buffered.subarray(4 + addrLength + 2);
          seen.push({ target: `${host}:${port}`, credentials });
          client.off('data', onData);
          tunnel(client, port, host, (upstream) => {
            client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
            upstream.write(rest);
          });
          return;
        }
      }
    };
    client.on('data', onData);
  });
  const port = await listen(server);
  return { url: `socks5://${auth !== undefined ? `${auth}@` : ''}127.0.0.1:${port}`, seen };
}

/**
 * A client constructor, seen through ws's types (both take the same options and emit the same
 * events; test/node/ws-types.test.ts checks riptide against @types/ws).
 */
type Open = (url: string, options: ClientOptions) => WsWebSocket;
const clients: [string, Open][] = [
  ['riptide', (url, options) => new WebSocket(url, options as never) as unknown as WsWebSocket],
  ['ws', (url, options) => new WsWebSocket(url, options)],
];

/** What a user sees of a connection: its events in order, up to 'close' or 'unexpected-response'. */
function outcome(w: WsWebSocket, send?: string): Promise<string[]> {
  const events: string[] = [];
  return new Promise((resolve) => {
    w.on('upgrade', () => events.push('upgrade'));
    w.on('open', () => {
      events.push('open');
      if (send !== undefined) w.send(send);
      else w.close(1000);
    });
    w.on('message', (data) => {
      events.push(`message ${data}`);
      w.close(1000);
    });
    w.on('error', (err) => events.push(`error ${err.message}`));
    w.on('close', (code) => {
      events.push(`close ${code}`);
      resolve(events);
    });
  });
}

describe.each(clients)('%s client through a proxy', (_name, open) => {
  it('ws: through HttpsProxyAgent is a CONNECT tunnel to the target', async () => {
    const t = await target();
    const p = await proxy();
    const ws = open(t.url, { agent: new HttpsProxyAgent(p.url) });
    expect(await outcome(ws, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
    expect(p.seen).toEqual([
      { method: 'CONNECT', target: `127.0.0.1:${t.port}`, proxyAuthorization: undefined },
    ]);
    expect(t.requests).toHaveLength(1);
  });

  it('wss: through HttpsProxyAgent: TLS with the target inside the tunnel', async () => {
    const t = await target(true);
    const p = await proxy();
    const ws = open(t.url, { agent: new HttpsProxyAgent(p.url), ca: cert });
    expect(await outcome(ws, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
    expect(p.seen).toEqual([
      { method: 'CONNECT', target: `127.0.0.1:${t.port}`, proxyAuthorization: undefined },
    ]);
  });

  it('wss: through HttpsProxyAgent checks the certificate (no ca: an error, close 1006)', async () => {
    const t = await target(true);
    const p = await proxy();
    const ws = open(t.url, { agent: new HttpsProxyAgent(p.url) });
    // Node 24 appends a hint about --use-system-ca to the message: compare its start only.
    const [error, ...rest] = await outcome(ws);
    expect(error).toMatch(/^error self-signed certificate(;|$)/);
    expect(rest).toEqual(['close 1006']);
  });

  it('ws: through HttpProxyAgent: an absolute-form upgrade request the proxy relays', async () => {
    const t = await target();
    const p = await proxy();
    const ws = open(t.url, { agent: new HttpProxyAgent(p.url) });
    expect(await outcome(ws, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
    expect(p.seen).toEqual([
      { method: 'GET', target: `http://127.0.0.1:${t.port}/feed`, proxyAuthorization: undefined },
    ]);
  });

  it("the proxy URL's credentials reach the proxy as Proxy-Authorization, not the target", async () => {
    const t = await target();
    const p = await proxy({ auth: 'alice:s%20cret' });
    const ws = open(t.url, { agent: new HttpsProxyAgent(p.url) });
    expect(await outcome(ws)).toEqual(['upgrade', 'open', 'close 1000']);
    const basic = `Basic ${Buffer.from('alice:s cret').toString('base64')}`;
    expect(p.seen[0]!.proxyAuthorization).toBe(basic);
    expect(t.requests[0]!['proxy-authorization']).toBeUndefined();
    expect(t.requests[0]!.authorization).toBeUndefined();

    // http-proxy-agent puts the field on the request itself; the proxy drops it.
    const p2 = await proxy({ auth: 'alice:s%20cret' });
    const ws2 = open(t.url, { agent: new HttpProxyAgent(p2.url) });
    expect(await outcome(ws2)).toEqual(['upgrade', 'open', 'close 1000']);
    expect(p2.seen[0]!.proxyAuthorization).toBe(basic);
    expect(t.requests[1]!['proxy-authorization']).toBeUndefined();
    expect(t.requests[1]!.authorization).toBeUndefined();
  });

  it.each([407, 403] as const)(
    'the proxy refusing with %i: an unexpected server response, close 1006',
    async (status) => {
      const t = await target();
      const p = await proxy({ refuse: status });
      const ws = open(t.url, { agent: new HttpsProxyAgent(p.url) });
      expect(await outcome(ws)).toEqual([`error Unexpected server response: ${status}`, 'close 1006']);
      expect(t.requests).toEqual([]);
    },
  );

  it.each([407, 403] as const)(
    "the proxy refusing with %i: 'unexpected-response' gets the proxy's answer",
    async (status) => {
      const t = await target();
      const p = await proxy({ refuse: status });
      const ws = open(t.url, { agent: new HttpsProxyAgent(p.url) });
      const events: string[] = [];
      ws.on('error', (err) => events.push(`error ${err.message}`));
      const res = await new Promise<http.IncomingMessage>((resolve) =>
        ws.on('unexpected-response', (_req, r) => resolve(r)),
      );
      expect(res.statusCode).toBe(status);
      if (status === 407) expect(res.headers['proxy-authenticate']).toBe('Basic realm="proxy"');
      // The listener owns the response; the WebSocket stays CONNECTING until it is ended.
      expect(ws.readyState).toBe(WebSocket.CONNECTING);
      const closed = new Promise<number>((resolve) => ws.on('close', resolve));
      ws.terminate();
      events.push(`close ${await closed}`);
      expect(events).toEqual([
        'error WebSocket was closed before the connection was established',
        'close 1006',
      ]);
    },
  );

  it('the proxy refusing an absolute-form request (HttpProxyAgent, 407): the same outcome', async () => {
    const t = await target();
    const p = await proxy({ refuse: 407 });
    const ws = open(t.url, { agent: new HttpProxyAgent(p.url) });
    expect(await outcome(ws)).toEqual(['error Unexpected server response: 407', 'close 1006']);
  });

  it('followRedirects keeps the agent: the redirected request goes through the proxy too', async () => {
    const t = await target();
    const redirector = http.createServer();
    track(redirector);
    redirector.on('upgrade', (_req, socket: Duplex) => {
      socket.end(
        `HTTP/1.1 302 Found\r\nLocation: ${t.url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    });
    const rport = await listen(redirector);
    const p = await proxy();
    const ws = open(`ws://127.0.0.1:${rport}/old`, {
      agent: new HttpsProxyAgent(p.url),
      followRedirects: true,
    });
    const redirects: string[] = [];
    ws.on('redirect', (url: string) => redirects.push(url));
    expect(await outcome(ws, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
    expect(redirects).toEqual([t.url]);
    expect(p.seen.map((s) => s.target)).toEqual([`127.0.0.1:${rport}`, `127.0.0.1:${t.port}`]);
  });

  it('createConnection: the custom connection function opens the socket', async () => {
    const t = await target();
    const calls: { host: unknown; port: unknown }[] = [];
    const ws = open(t.url, {
      createConnection: ((opts: net.NetConnectOpts & { host?: string; port?: number | string }) => {
        calls.push({ host: opts.host, port: opts.port });
        return net.connect(t.port, '127.0.0.1');
      }) as never,
    });
    expect(await outcome(ws, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
    expect(calls).toEqual([{ host: '127.0.0.1', port: String(t.port) }]);
  });

  it('createConnection for wss: a TLS socket made by the caller', async () => {
    const t = await target(true);
    let called = 0;
    const ws = open(t.url, {
      createConnection: (() => {
        called++;
        return tls.connect({ port: t.port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
      }) as never,
    });
    expect(await outcome(ws)).toEqual(['upgrade', 'open', 'close 1000']);
    expect(called).toBe(1);
  });
  it('ws: and wss: through SocksProxyAgent', async () => {
    const t = await target();
    const ts = await target(true);
    const s = await socks('bob:pw');
    const ws = open(t.url, { agent: new SocksProxyAgent(s.url) });
    expect(await outcome(ws, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
    const wss = open(ts.url, { agent: new SocksProxyAgent(s.url), ca: cert });
    expect(await outcome(wss, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
    expect(s.seen).toEqual([
      { target: `127.0.0.1:${t.port}`, credentials: 'bob:pw' },
      { target: `127.0.0.1:${ts.port}`, credentials: 'bob:pw' },
    ]);
    expect(t.requests[0]!.authorization).toBeUndefined();
  });

  it('SocksProxyAgent with refused credentials: the error, close 1006', async () => {
    const t = await target();
    const s = await socks('bob:pw');
    const ws = open(t.url, { agent: new SocksProxyAgent(s.url.replace('bob:pw', 'bob:nope')) });
    expect(await outcome(ws)).toEqual(['error Socks5 Authentication failed', 'close 1006']);
    expect(t.requests).toEqual([]);
  });

  it('the proxy hanging up before its answer: the error, close 1006', async () => {
    const t = await target();
    const server = http.createServer();
    track(server);
    server.on('connect', (_req, client: Duplex) => client.destroy());
    const port = await listen(server);
    const ws = open(t.url, { agent: new HttpsProxyAgent(`http://127.0.0.1:${port}`) });
    expect(await outcome(ws)).toEqual([
      'error Proxy connection ended before receiving CONNECT response',
      'close 1006',
    ]);
  });

  it('the proxy unreachable: the connect error, close 1006', async () => {
    const { port, release } = await refusedPort();
    cleanups.push(release);
    const ws = open('ws://127.0.0.1:1/', { agent: new HttpsProxyAgent(`http://127.0.0.1:${port}`) });
    expect(await outcome(ws)).toEqual([`error connect ECONNREFUSED 127.0.0.1:${port}`, 'close 1006']);
  });

  it('createConnection that answers through its callback', async () => {
    const t = await target();
    const ws = open(t.url, {
      createConnection: ((_opts: unknown, done: (err: Error | null, s?: Duplex) => void) => {
        const socket = net.connect(t.port, '127.0.0.1', () => done(null, socket));
        return undefined;
      }) as never,
    });
    expect(await outcome(ws, 'hi')).toEqual(['upgrade', 'open', 'message echo: hi', 'close 1000']);
  });

  it("createConnection that throws: 'error' then close 1006, not a throw from the constructor", async () => {
    const ws = open('ws://127.0.0.1:1/', {
      createConnection: (() => {
        throw new Error('no route');
      }) as never,
    });
    expect(await outcome(ws)).toEqual(['error no route', 'close 1006']);
  });
});

/**
 * ws's `handshakeTimeout` is the request's socket idle timeout, and a proxy agent hands the
 * request its socket only once the proxy answered: ws waits on a proxy that never does, until
 * the proxy hangs up. riptide's is a deadline from the request (docs/node-layer.md, deliberate
 * differences), so it covers the proxy's part of the handshake too.
 *
 * Regression: this ran on a 20 ms real deadline, which on a loaded machine could pass before the
 * proxy even saw the CONNECT. Now the proxy holding the CONNECT is the barrier, and the deadline
 * is a fake timer that only runs out when the test advances it, after that barrier.
 */
describe.each(clients)(
  '%s client, handshakeTimeout through a proxy that never answers the CONNECT',
  (name, open) => {
    it(
      name === 'riptide'
        ? 'times out: the timeout error, close 1006'
        : 'keeps waiting until the proxy hangs up',
      async () => {
        const t = await target();
        const server = http.createServer();
        track(server);
        const held = new Promise<{ target: string; client: Duplex }>((resolve) =>
          server.on('connect', (req: http.IncomingMessage, client: Duplex) =>
            resolve({ target: req.url!, client }),
          ),
        );
        const port = await listen(server);
        // Only the timers the clients arm themselves: node's sockets keep their own (real) timers.
        vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
        cleanups.push(() => {
          vi.useRealTimers();
        });
        const ws = open(t.url, {
          agent: new HttpsProxyAgent(`http://127.0.0.1:${port}`),
          handshakeTimeout: 1_000,
        });
        const events: string[] = [];
        const ended = outcome(ws).then((all) => events.push(...all));
        const { target: connected, client } = await held;
        expect(connected).toBe(`127.0.0.1:${t.port}`);
        vi.advanceTimersByTime(1_000);
        if (name === 'riptide') {
          await ended;
          expect(events).toEqual(['error Opening handshake has timed out', 'close 1006']);
          return;
        }
        // ws: its request has no socket yet, so no idle timeout is armed; nothing has happened.
        expect((ws as unknown as { _req: http.ClientRequest })._req.socket).toBeNull();
        expect([ws.readyState, events]).toEqual([WsWebSocket.CONNECTING, []]);
        client.destroy();
        await ended;
        expect(events).toEqual([
          'error Proxy connection ended before receiving CONNECT response',
          'close 1006',
        ]);
      },
    );
  },
);
