/**
 * {port} mode reads the request head itself (upgrade-listener.ts): plain requests, malformed and
 * oversized heads, heads split across packets, and frames sent in the same packet as the head.
 */

import { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildRejectResponse } from '../../src/handshake/server.js';
import { WebSocketServer } from '../../src/index.js';
import { appendToHead, type PartialHead } from '../../src/node/upgrade-listener.js';

let wss: WebSocketServer | null = null;
afterEach(async () => {
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = null;
});

function listen(options: Record<string, unknown> = {}): Promise<number> {
  return new Promise((resolve) => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options }, () => {
      resolve((wss!.address() as { port: number }).port);
    });
  });
}

function exchange(
  port: number,
  chunks: Array<string | Buffer>,
  until: (s: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (until(got)) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.on('connect', async () => {
      for (const c of chunks) {
        socket.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
}

const UPGRADE =
  'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('RFC 6455 4.2.1 the {port} listener', () => {
  it('answers a plain HTTP request with 426 and closes', async () => {
    const port = await listen();
    const reply = await exchange(port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], () => false);
    expect(reply).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
    expect(reply).toMatch(/\r\nSec-WebSocket-Version: 13\r\n/i);
  });

  it('answers a malformed head with 400', async () => {
    const port = await listen();
    const reply = await exchange(port, ['GET / HTTP/1.1\nHost: x\n\r\n\r\n'], () => false);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('answers an oversized head with 431 before reading on', async () => {
    const port = await listen();
    const big = `GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}`;
    const reply = await exchange(port, [big], () => false);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('accepts a head split byte by byte and a frame in the same packet as the end of the head', async () => {
    const port = await listen();
    const received: Array<{ data: string; req: IncomingMessage }> = [];
    wss!.on('connection', (ws, req) => {
      ws.on('message', (d) => {
        received.push({ data: d.toString(), req });
        ws.send('echo:' + d.toString());
      });
    });
    const head = Buffer.from(UPGRADE);
    const frame = Buffer.from('818537fa213d7f9f4d5158', 'hex'); // masked "Hello"
    const chunks: Buffer[] = [];
    for (let i = 0; i < head.length - 1; i++) chunks.push(head.subarray(i, i + 1));
    chunks.push(Buffer.concat([head.subarray(head.length - 1), frame]));
    const reply = await exchange(port, chunks, (s) => s.includes('echo:Hello'));
    expect(reply).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(reply).toContain('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(received).toHaveLength(1);
    const { req } = received[0];
    expect(req).toBeInstanceOf(IncomingMessage);
    expect(req.url).toBe('/chat');
    expect(req.method).toBe('GET');
    expect(req.headers.host).toBe('x');
    expect(req.socket.remoteAddress).toBe('127.0.0.1');
  });

  it('runs an async verifyClient before attaching, without losing early frames', async () => {
    const port = await listen({
      verifyClient: (_info: unknown, cb: (ok: boolean) => void) => setTimeout(() => cb(true), 30),
    });
    wss!.on('connection', (ws) => ws.on('message', (d) => ws.send('echo:' + d.toString())));
    const frame = Buffer.from('818537fa213d7f9f4d5158', 'hex');
    const reply = await exchange(port, [Buffer.concat([Buffer.from(UPGRADE), frame])], (s) =>
      s.includes('echo:Hello'),
    );
    expect(reply).toContain('echo:Hello');
  });
  it('pauses a socket whose verifyClient is still pending: a frame arriving meanwhile is kept', async () => {
    const frame = Buffer.from('818537fa213d7f9f4d5158', 'hex');
    let client: Socket | null = null;
    const port = await listen({
      // Verification waits for the frame: written in its own packet once the head was read,
      // and then two turns of the event loop (a poll phase) before the answer.
      verifyClient: (_info: unknown, cb: (ok: boolean) => void) =>
        client!.write(frame, () => setImmediate(() => setImmediate(() => cb(true)))),
    });
    wss!.on('connection', (ws) => ws.on('message', (d) => ws.send('echo:' + d.toString())));
    const reply = new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      client = socket;
      let got = '';
      socket.on('data', (d) => {
        got += d.toString('latin1');
        if (got.includes('echo:Hello')) {
          socket.destroy();
          resolve(got);
        }
      });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.write(UPGRADE);
    });
    expect(await reply).toContain('echo:Hello');
  });

  it('leaves nothing of the head parser on an upgraded socket (idle memory, bench scenario 5)', async () => {
    const port = await listen();
    const accepted = new Promise<Socket>((resolve) =>
      wss!.on('connection', (_ws, req) => resolve(req.socket as Socket)),
    );
    const client = connect(port, '127.0.0.1', () => client.write(UPGRADE));
    client.on('error', () => {});
    const socket = await accepted;
    const symbols = Object.getOwnPropertySymbols(socket).map((k) => k.description);
    expect(symbols).not.toContain('riptide.headBuffer');
    expect(symbols).not.toContain('riptide.upgradeHandler');
    // setTimeout(0) on a socket without a timeout would add this property for nothing.
    expect(Object.hasOwn(socket, 'timeout')).toBe(false);
    // One 'end' listener (ours, calling Node's own first), not an array of two.
    expect(socket.listenerCount('end')).toBe(1);
    client.destroy();
  });

  it("a peer's FIN without a close frame still ends the connection with 1006", async () => {
    const port = await listen();
    const closed = new Promise<[number, string]>((resolve) =>
      wss!.on('connection', (ws) => ws.on('close', (code, reason) => resolve([code, reason.toString()]))),
    );
    const client = connect(port, '127.0.0.1', () => client.write(UPGRADE));
    client.on('error', () => {});
    client.once('data', () => client.end());
    expect(await closed).toEqual([1006, '']);
    client.destroy();
  });
});

// Regression (library QA): a head whose lines end in a bare LF never holds "\r\n\r\n", and its
// client waited for the handshake deadline; node:http (so ws on {port}) answers 400 at once.
describe('RFC 9112 2.2 a head that can never end is answered 400 at once, not at the deadline', () => {
  it.each([
    ['bare LF line endings', 'GET / HTTP/1.1\nHost: a\nUpgrade: websocket\n\n', 'bare LF line ending'],
    ['bare CR line endings', 'GET / HTTP/1.1\rHost: a\r\r', 'bare CR'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: a\u0000', 'control character'],
  ])('%s', async (_what, text, detail) => {
    const port = await listen();
    const clientErrors: unknown[] = [];
    wss!.on('wsClientError', (err) => clientErrors.push(err));
    // The barrier: the server's own socket, once the listener has read every byte sent (this
    // 'data' listener runs right after the listener's). By then it has answered, or it never will.
    const handled = new Promise<boolean>((resolve) =>
      wss!._server!.once('connection', (serverSide: Socket) => {
        let read = 0;
        serverSide.on('data', (d: Buffer) => {
          read += d.length;
          if (read === text.length) resolve(serverSide.writableEnded);
        });
      }),
    );
    // No timer can fire from here on: the answer cannot come from the handshake deadline.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(text, 'latin1')));
    // Also after a failure (a server that never answers): an open socket would hold wss.close().
    try {
      expect(await handled).toBe(true);
      const reply = await new Promise<string>((resolve, reject) => {
        let got = '';
        socket.on('data', (d) => (got += d.toString('latin1')));
        socket.on('close', () => resolve(got));
        socket.on('error', reject);
      });
      expect(reply).toBe(buildRejectResponse(400, `Malformed HTTP head (${detail})`).toString('latin1'));
      expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n/);
      // Like every other head the listener refuses (a malformed or oversized one): no event.
      expect(clientErrors).toEqual([]);
    } finally {
      vi.useRealTimers();
      socket.destroy();
    }
  });
});

describe('a head split across reads', () => {
  it('is buffered in storage that doubles: a 16 KiB head in one-byte reads is copied O(n), not O(n^2)', () => {
    const bytes = Buffer.from('GET /'.padEnd(16_384, 'x'));
    const head: PartialHead = { data: bytes.subarray(0, 1), length: 1 };
    let grown = 0;
    let view: Buffer = head.data;
    for (let i = 1; i < bytes.length; i++) {
      const before = head.data;
      view = appendToHead(head, bytes.subarray(i, i + 1));
      if (head.data !== before) grown++;
    }
    // A copy of everything buffered on every read would be 16,383 new buffers.
    expect(grown).toBe(14);
    expect(view.equals(bytes)).toBe(true);
    expect(head.length).toBe(bytes.length);
  });

  it('grows to fit a read larger than twice what it holds', () => {
    const head = { data: Buffer.from('ab'), length: 2 };
    const view = appendToHead(head, Buffer.alloc(100, 'c'));
    expect(view.toString()).toBe('ab' + 'c'.repeat(100));
    expect(head.data.length).toBeGreaterThanOrEqual(102);
    // The first read's buffer is never written into.
    const first = Buffer.from('ab');
    const h2 = { data: first, length: 2 };
    appendToHead(h2, Buffer.from('d'));
    expect(first.toString()).toBe('ab');
  });
});
