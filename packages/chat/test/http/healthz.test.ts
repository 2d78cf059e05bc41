/**
 * GET /healthz (and HEAD), for a load balancer or supervisor: 200 {"ok":true} while the node can
 * serve, 503 with a fixed reason while its store is unavailable or once it is stopping. No session,
 * no cookie, no Origin check, never cached.
 */
import * as http2 from 'node:http2';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
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
        server.backend.accounts.createSession({ token: 't1', user: 'alice', expiresAt: 9 }, 0),
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
});
