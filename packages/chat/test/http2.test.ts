/**
 * The chat served with a certificate (--cert/--key): the page, the API and the WebSocket over
 * HTTP/2 (RFC 8441: the WebSocket is a stream of the page's own connection) and over HTTP/1.1 on
 * the same port, with the same gate (path, Origin, session, per-user cap).
 */
import { request as httpRequest } from 'node:http';
import * as http2 from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as connectTls } from 'node:tls';
import { WebSocket as Riptide } from 'riptide';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import { DEFAULT_ATTACHMENT_LIMITS, MAX_UPLOADS_IN_FLIGHT } from '../src/server/http/attachments.js';
import { HSTS, hstsFor } from '../src/server/http/routes.js';
import { requestTimeoutMs, TIMEOUTS } from '../src/server/timeouts.js';
import {
  cleanup,
  onCleanup,
  PASSWORD,
  selfSignedCertificate,
  startTestServer,
  TestClient,
} from './helpers.js';

let tls: { cert: Buffer; key: Buffer };

beforeAll(() => {
  tls = selfSignedCertificate();
});
afterEach(cleanup);

/** An HTTP/2 connection to the chat that trusts the test certificate. */
function session(origin: string): http2.ClientHttp2Session {
  const s = http2.connect(origin, { ca: tls.cert });
  s.on('error', () => {});
  onCleanup(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    s.destroy();
  });
  return s;
}

async function request(
  s: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: unknown,
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; text: string }> {
  const req = s.request(headers, { endStream: body === undefined });
  req.on('error', () => {});
  if (body !== undefined) req.end(JSON.stringify(body));
  const [res] = await new Promise<[http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader]>((resolve) =>
    req.once('response', (h) => resolve([h])),
  );
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req) text += chunk;
  return { status: Number(res[':status']), headers: res, text };
}

/** Register over HTTP/2; the session cookie ("name=value"). */
async function register(s: http2.ClientHttp2Session, origin: string, name: string) {
  const res = await request(
    s,
    { ':method': 'POST', ':path': '/api/register', 'content-type': 'application/json', origin },
    { name, password: PASSWORD },
  );
  expect(res.status).toBe(201);
  const setCookie = res.headers['set-cookie']![0];
  return { cookie: setCookie.split(';')[0], setCookie };
}

/** A welcomed client whose WebSocket is a stream of an HTTP/2 connection, or (http2 false) an upgrade. */
async function join(origin: string, cookie: string, http2 = true): Promise<TestClient> {
  const ws = new Riptide(`${origin.replace('https', 'wss')}/ws`, {
    http2,
    ca: tls.cert,
    headers: { cookie, origin },
  });
  const client = new TestClient(ws as unknown as WebSocket);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const welcome = client.next('welcome');
  client.send({ v: 2, type: 'hello' });
  await welcome;
  return client;
}

describe('the chat over HTTP/2 and HTTP/1.1 on one TLS port', () => {
  it('serves the page and the API over HTTP/2, with a Secure cookie', async () => {
    const server = await startTestServer({ tls });
    expect(server.origin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const s = session(server.origin);
    const page = await request(s, { ':path': '/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const { setCookie } = await register(s, server.origin, 'alice');
    expect(setCookie).toMatch(/; Secure$/);
    expect(setCookie).toMatch(/^__Host-riptide_chat_session=[A-Za-z0-9_-]{43}; Path=\/;/);
    expect(setCookie).not.toMatch(/Domain=/i);
  });

  it('a session cookie tossed by a sibling host (plain name, longer Path, sent first) is not read', async () => {
    const server = await startTestServer({ tls });
    const s = session(server.origin);
    const alice = (await register(s, server.origin, 'alice')).cookie;
    const mallory = (await register(s, server.origin, 'mallory')).cookie.replace(/^__Host-/, '');
    const tossed = `${mallory}; ${alice}`;
    const who = await request(s, { ':path': '/api/session', cookie: tossed });
    expect(JSON.parse(who.text)).toEqual({ signedIn: true, user: 'alice' });
    // The WebSocket, over HTTP/2 and HTTP/1.1, is alice's too: what she writes is not mallory's to read.
    for (const overHttp2 of [true, false]) {
      const client = await join(server.origin, tossed, overHttp2);
      const ack = client.next('ack');
      client.send({ v: 2, type: 'send', id: `t${overHttp2}`, room: 'general', text: 'hi' });
      await ack;
      const [last] = await server.backend.rooms.messagesBefore('general', Number.MAX_SAFE_INTEGER, 1);
      expect(last.user).toBe('alice');
    }
    // Alone, the plain name is no session at all over TLS.
    const nobody = await request(s, { ':path': '/api/session', cookie: mallory });
    expect({ status: nobody.status, body: JSON.parse(nobody.text) }).toEqual({
      status: 200,
      body: { signedIn: false },
    });
  });

  it('a WebSocket over HTTP/2 and one over HTTP/1.1 chat in the same room; the server saw the stream', async () => {
    const server = await startTestServer({ tls });
    const streams: string[] = [];
    server.http.on('stream', (_stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      if (headers[':method'] === 'CONNECT') streams.push(`${headers[':protocol']} ${headers[':path']}`);
    });
    const s = session(server.origin);
    const alice = await join(server.origin, (await register(s, server.origin, 'alice')).cookie);
    expect(streams).toEqual(['websocket /ws']);

    const bob = await join(server.origin, (await register(s, server.origin, 'bob')).cookie, false);
    expect(streams).toEqual(['websocket /ws']); // bob came by an HTTP/1.1 upgrade

    const atBob = bob.next('message', (m) => m.message.text === 'over a stream');
    alice.send({ v: 2, type: 'send', id: 'a1', room: 'general', text: 'over a stream' });
    expect((await atBob).message.user).toBe('alice');
    const atAlice = alice.next('message', (m) => m.message.text === 'over tcp');
    bob.send({ v: 2, type: 'send', id: 'b1', room: 'general', text: 'over tcp' });
    expect((await atAlice).message.user).toBe('bob');
  });

  it('refuses WebSocket streams as it refuses upgrades: no session 401, another origin 403, another path 404', async () => {
    const server = await startTestServer({ tls });
    const s = session(server.origin);
    const { cookie } = await register(s, server.origin, 'carol');
    /** The status of an extended CONNECT; the stream is then cancelled. */
    const connect = async (path: string, headers: Record<string, string>) => {
      const req = s.request(
        {
          ':method': 'CONNECT',
          ':protocol': 'websocket',
          ':scheme': 'https',
          ':path': path,
          ':authority': server.origin.slice('https://'.length),
          'sec-websocket-version': '13',
          ...headers,
        },
        { endStream: false },
      );
      req.on('error', () => {});
      const status = await new Promise<number>((resolve) =>
        req.once('response', (h) => resolve(Number(h[':status']))),
      );
      req.close(http2.constants.NGHTTP2_CANCEL);
      return { status };
    };
    expect((await connect('/ws', { origin: server.origin })).status).toBe(401);
    expect((await connect('/ws', { origin: 'https://evil.example', cookie })).status).toBe(403);
    expect((await connect('/elsewhere', { origin: server.origin, cookie })).status).toBe(404);
    // a CONNECT that is not a WebSocket: what node answers without a handler
    const tunnel = await request(s, { ':method': 'CONNECT', ':authority': 'example.com:443' });
    expect(tunnel.status).toBe(405);
    // and the same session still opens a WebSocket
    expect((await connect('/ws', { origin: server.origin, cookie })).status).toBe(200);
  });
});

describe('uploads over HTTP/2', () => {
  it('an upload whose stream is reset mid-body stores nothing, and gives its place in flight back', async () => {
    // node ends a request whose stream was reset with 'aborted', then 'end': the bytes so far were
    // stored as a file, a truncated one nobody asked for, and each counted among the user's unsent
    // uploads for an hour (here 2 at most: two resets, and no upload was taken until they expired).
    const server = await startTestServer({
      tls,
      limits: { messageRate: { burst: 100, perSecond: 1 } },
      attachments: { maxUnusedPerUser: 2 },
    });
    const s = session(server.origin);
    const { cookie } = await register(s, server.origin, 'alice');
    const headers = {
      ':method': 'POST',
      ':path': '/api/attachments?room=general&name=held',
      'content-type': 'application/octet-stream',
      'content-length': '20',
      origin: server.origin,
      cookie,
    };
    const held: http2.ClientHttp2Stream[] = [];
    for (let i = 0; i < MAX_UPLOADS_IN_FLIGHT; i++) {
      const req = s.request({ ...headers, expect: '100-continue' });
      req.on('error', () => {});
      // Invited: past every check, counted in flight.
      await new Promise((resolve) => req.once('continue', resolve));
      req.write(Buffer.alloc(10, 0x61));
      held.push(req);
    }
    const one = () => request(s, headers, 'x'.repeat(18)); // 20 bytes as JSON
    const refused = await one();
    expect([refused.status, JSON.parse(refused.text).error]).toEqual([429, 'too_many_uploads']);
    for (const req of held) req.close(http2.constants.NGHTTP2_CANCEL);
    // Polled while the server has not yet seen every reset (such a refusal is answered at once and
    // takes no token), bounded by the test's timeout; then the two unsent uploads allowed.
    const inFlight = (a: { status: number; text: string }) => a.status === 429 && a.text.includes('at once');
    let again = await one();
    while (inFlight(again)) again = await one();
    expect(again.status).toBe(201);
    expect((await one()).status).toBe(201);
    const third = await one();
    expect([third.status, JSON.parse(third.text).message]).toEqual([
      429,
      'at most 2 uploads may wait to be sent',
    ]);
  });
});

describe('connections that begin nothing', () => {
  it('closes an HTTP/2 connection without a stream, a TLS one that says nothing, an HTTP/2 request left open; never a WebSocket', async () => {
    // node's HTTP/2 server has no deadline, and node:http's starts with a head's first byte: each of
    // these held a file descriptor for ever, for anyone, signed in or not.
    const server = await startTestServer({ tls });
    const { cookie } = await register(session(server.origin), server.origin, 'alice');
    const seen = { sessions: 0, h1: 0, requests: 0 };
    let changed = () => {};
    const saw = (what: keyof typeof seen) => () => {
      seen[what]++;
      changed();
    };
    const until = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        changed = () => check() && resolve();
        changed();
      });
    server.http.on('session', saw('sessions'));
    server.http.on('secureConnection', (socket: { alpnProtocol?: unknown }) => {
      if (socket.alpnProtocol !== 'h2') saw('h1')();
    });
    server.http.on('request', saw('requests'));
    const closed = (emitter: { once(event: 'close', f: () => void): unknown }) =>
      new Promise<void>((resolve) => emitter.once('close', resolve));
    // Only the timers: the sockets are real. Every deadline below is set after this.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const idle = session(server.origin);
      const busy = session(server.origin);
      const stuck = busy.request({
        ':method': 'POST',
        ':path': '/api/login',
        'content-type': 'application/json',
        origin: server.origin,
      });
      stuck.on('error', () => {});
      stuck.write('{"name":');
      const silent = connectTls(Number(new URL(server.origin).port), '127.0.0.1', {
        ca: tls.cert,
        ALPNProtocols: ['http/1.1'],
      });
      silent.on('error', () => {});
      const ws = await join(server.origin, cookie);
      await until(() => seen.sessions >= 3 && seen.h1 >= 1 && seen.requests >= 1);
      const gone = { idle: closed(idle), busy: closed(busy), silent: closed(silent), stuck: closed(stuck) };
      vi.advanceTimersByTime(TIMEOUTS.headersMs + TIMEOUTS.checkIntervalMs);
      await Promise.all([gone.idle, gone.silent]);
      expect([busy.closed, stuck.closed]).toEqual([false, false]);
      // The request's own deadline, as HTTP/1.1's requestTimeout; then its connection is idle.
      vi.advanceTimersByTime(requestTimeoutMs(DEFAULT_ATTACHMENT_LIMITS.maxBytes));
      await gone.stuck;
      await new Promise((resolve) => setImmediate(resolve));
      vi.advanceTimersByTime(TIMEOUTS.headersMs + TIMEOUTS.checkIntervalMs);
      await gone.busy;
      // The WebSocket's stream is no request: its connection stays, and it still chats.
      await ws.barrier();
      expect(ws.ws.readyState).toBe(1);
      ws.ws.terminate();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Strict-Transport-Security', () => {
  it('is sent over TLS, on HTTP/2 and HTTP/1.1, to a host name, for the page, the API and errors', async () => {
    const server = await startTestServer({ tls });
    const s = session(server.origin);
    for (const path of ['/', '/api/session', '/no-such-page', '/healthz']) {
      const res = await request(s, { ':path': path, ':authority': 'chat.example:8443' });
      expect(res.headers['strict-transport-security'], path).toBe(HSTS);
    }
    // Over HTTP/1.1 (the page's own address is 127.0.0.1 here: the Host header names the site).
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpsRequest(
        `${server.origin}/`,
        { ca: tls.cert, servername: 'localhost', headers: { host: 'chat.example' } },
        (res) => {
          res.resume();
          resolve(res.headers);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(headers['strict-transport-security']).toBe(HSTS);
    // An address or a loopback name: not sent (browsers ignore it for an IP; on localhost it would
    // send every other local development server to https for a year).
    for (const authority of [
      '127.0.0.1:8443',
      'localhost:8443',
      'LOCALHOST.',
      'app.localhost',
      '[::1]:8443',
    ]) {
      const res = await request(s, { ':path': '/', ':authority': authority });
      expect(res.headers['strict-transport-security'], authority).toBeUndefined();
    }
  });

  it('is not sent without TLS (a proxy in front sets its own)', async () => {
    const server = await startTestServer();
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpRequest(`${server.origin}/`, { headers: { host: 'chat.example' } }, (res) => {
        res.resume();
        resolve(res.headers);
      });
      req.on('error', reject);
      req.end();
    });
    expect(headers['content-security-policy']).toBeDefined();
    expect(headers['strict-transport-security']).toBeUndefined();
  });

  it('names hosts, not addresses or loopback names', () => {
    expect(hstsFor('chat.example.com')).toBe(true);
    expect(hstsFor('Chat.Example.com:443')).toBe(true);
    expect(hstsFor('chat.example.')).toBe(true);
    for (const host of [
      undefined,
      '',
      '10.0.0.1',
      '10.0.0.1:80',
      '[2001:db8::1]:443',
      'localhost',
      'a.localhost:3000',
    ])
      expect(hstsFor(host), String(host)).toBe(false);
  });
});
