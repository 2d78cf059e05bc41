/**
 * GET /healthz (and HEAD), for a load balancer or supervisor: 200 {"ok":true} while the node can
 * serve, 503 with a fixed reason while its store is unavailable or once it is stopping (with
 * drainMs, while it still serves everything else). No session, no cookie, no Origin check, never
 * cached. The "redis" reason: test/redis/healthz.test.ts.
 */
import { request as httpRequest } from 'node:http';
import * as http2 from 'node:http2';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { startChatServer } from '../../src/server/chat-server.js';
import { MAX_SESSIONS_PER_USER } from '../../src/server/http/session.js';
import {
  cleanup,
  onCleanup,
  PASSWORD,
  register,
  selfSignedCertificate,
  startTestServer,
  TestClient,
} from '../helpers.js';

afterEach(async () => {
  vi.useRealTimers();
  await cleanup();
});

/**
 * GET or HEAD of /healthz on a connection of its own (no keep-alive agent): what a balancer's next
 * probe gets, which only a listener still open accepts. Rejects with the connect error otherwise.
 */
function probe(origin: string, method: 'GET' | 'HEAD' = 'GET'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin}/healthz`, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /healthz', () => {
  it('200 {"ok":true} without a session, with no cookie set and no-store, and HEAD without a body', async () => {
    const server = await startTestServer();
    // A foreign Origin does not matter: it is not a browser's request.
    const res = await fetch(`${server.origin}/healthz`, { headers: { origin: 'https://elsewhere.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.json()).toEqual({ ok: true });

    const head = await fetch(`${server.origin}/healthz?probe=1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect(await head.text()).toBe('');
  });

  it('is not counted against a per-address limit (the sign-up one, burst 1 here)', async () => {
    const server = await startTestServer({ signUpPerIp: { burst: 1, perSecond: 1e-9 } });
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    // The one sign-up of this address's budget is still there.
    await register(server.origin, 'alice');
  });

  it('503 {"ok":false,"reason":"database"} while the SQLite store is unavailable, 200 once it is back', async () => {
    const server = await startTestServer();
    const back = new Promise<void>((resolve) => server.backend.onServiceChange((up) => up && resolve()));
    const other = new Database(server.dbPath);
    try {
      other.exec('BEGIN IMMEDIATE'); // the file locked by another process past busy_timeout
      await expect(
        server.backend.accounts.createSession(
          { token: 't1', user: 'alice', expiresAt: 9 },
          0,
          MAX_SESSIONS_PER_USER,
        ),
      ).rejects.toMatchObject({ code: 'unavailable' });
      expect(server.backend.available).toBe(false);
      const res = await fetch(`${server.origin}/healthz`);
      expect(res.status).toBe(503);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ ok: false, reason: 'database' });
      const head = await fetch(`${server.origin}/healthz`, { method: 'HEAD' });
      expect(head.status).toBe(503);
      expect(await head.text()).toBe('');
      other.exec('COMMIT');
    } finally {
      other.close();
    }
    await back; // the server's own probe write found the file free
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  });

  it('503 {"ok":false,"reason":"stopping"} once close() began, on a connection still open', async () => {
    // With TLS, an HTTP/2 session outlives the listener's close until the stop ends; a WebSocket
    // whose peer does not read (its socket paused) holds the stop at closing the sockets.
    const tls = selfSignedCertificate();
    const server = await startTestServer({ tls });
    const origin = server.origin;
    const session = http2.connect(origin, { ca: tls.cert });
    session.on('error', () => {});
    onCleanup(async () => {
      session.destroy();
    });
    const request = (headers: http2.OutgoingHttpHeaders, body?: string) =>
      new Promise<{ status: number; text: string; cookie: string }>((resolve, reject) => {
        const req = session.request(headers, { endStream: body === undefined });
        req.on('error', reject);
        if (body !== undefined) req.end(body);
        let status = 0;
        let cookie = '';
        let text = '';
        req.once('response', (h) => {
          status = Number(h[':status']);
          cookie = (h['set-cookie']?.[0] ?? '').split(';')[0];
        });
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => {
          text += chunk;
        });
        req.on('end', () => resolve({ status, text, cookie }));
      });
    const get = async (method: 'GET' | 'HEAD') => {
      const { status, text } = await request({ ':method': method, ':path': '/healthz' });
      return { status, text };
    };
    expect(await get('GET')).toEqual({ status: 200, text: '{"ok":true}' });

    const { cookie } = await request(
      { ':method': 'POST', ':path': '/api/register', 'content-type': 'application/json', origin },
      JSON.stringify({ name: 'alice', password: PASSWORD }),
    );
    const ws = new WebSocket(`${origin.replace('https', 'wss')}/ws`, {
      ca: tls.cert,
      headers: { cookie, origin },
    });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    // Should a check below fail: the stop (at cleanup) must still get its reply.
    onCleanup(async () => {
      socket.resume();
    });

    // The stop's wait for that socket ends on its reply (after resume()) or after 2 s: with this
    // timer fake, only the reply, so the checks below cannot race the stop's end.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stopped = server.close();
    expect(await get('GET')).toEqual({ status: 503, text: '{"ok":false,"reason":"stopping"}' });
    expect(await get('HEAD')).toEqual({ status: 503, text: '' });
    socket.resume();
    expect((await client.closed).code).toBe(1001);
    vi.useRealTimers();
    await stopped;
  });

  it('with drainMs, close() serves on that long (new connections, sign-ups, WebSockets) answering 503 "stopping", then stops as without', async () => {
    // Regression: the listener closed as close() began, so a balancer's next probe was refused (read
    // as down, or retried) instead of seeing the 503 while the node still took new connections.
    const lines: string[] = [];
    const server = await startTestServer({ drainMs: 10_000, log: (line) => lines.push(line) });
    const origin = server.origin;
    const ann = await TestClient.user(origin, 'ann');
    expect(await probe(origin)).toEqual({ status: 200, text: '{"ok":true}' });

    // The drain's end is a timer: with it fake, the checks below cannot race it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let stopped = false;
    const closed = server.close().then(() => {
      stopped = true;
    });
    // A balancer's next probes, each on a new connection: taken, and told the node is stopping.
    expect(await probe(origin)).toEqual({ status: 503, text: '{"ok":false,"reason":"stopping"}' });
    expect(await probe(origin, 'HEAD')).toEqual({ status: 503, text: '' });
    // Everything else is served as before: a sign-up, a new WebSocket, a message on an old one.
    const ben = await TestClient.user(origin, 'ben');
    ann.send({ v: 2, type: 'send', id: 'm1', room: 'general', text: 'still here' });
    expect(await ann.next('ack', (m) => m.id === 'm1')).toMatchObject({ id: 'm1' });
    await ben.next('message', (m) => m.message.id === 'm1');
    await vi.advanceTimersByTimeAsync(9_999);
    expect(await probe(origin)).toEqual({ status: 503, text: '{"ok":false,"reason":"stopping"}' });
    expect(stopped).toBe(false);
    expect(ann.ws.readyState).toBe(WebSocket.OPEN);

    // Then the stop as without a drain: 1001 to every page, the listener closed.
    await vi.advanceTimersByTimeAsync(1);
    expect((await ann.closed).code).toBe(1001);
    expect((await ben.closed).code).toBe(1001);
    vi.useRealTimers();
    await closed;
    expect(lines).toContain('chat: drained for 10000 ms; closing 2 connections');
    await expect(probe(origin)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('drainMs is refused unless a whole number of ms a timer can wait, before anything opens', async () => {
    for (const drainMs of [-1, 1.5, 2 ** 31])
      await expect(startChatServer({ port: 0, dbPath: ':memory:', drainMs })).rejects.toThrow(
        /^startChatServer: drainMs must be/,
      );
  });
});
