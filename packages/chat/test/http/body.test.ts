/**
 * A body over its limit, as a raw client sends it (node:net: what is on the wire, and whether the
 * connection ends with a FIN or a reset). `Expect: 100-continue` with a Content-Length already
 * over the limit is answered 413 without 100 Continue; a client that sends its body anyway (after
 * the 413, or without waiting for anything) still reads the whole 413: the server half-closes
 * after it and reads and drops the rest, up to a bound, instead of closing under the client's
 * writes (whose next bytes the kernel would answer with a reset).
 */
import { connect as connectHttp2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LINGER } from '../../src/server/http/body.js';
import { cleanup, register, selfSignedCertificate, startTestServer } from '../helpers.js';

afterEach(cleanup);

interface Raw {
  socket: Socket;
  /** Everything read so far. */
  text: () => string;
  /** Resolves once what was read contains `marker`. */
  readUntil: (marker: string) => Promise<string>;
  /** Writes `bytes` bytes of body, 64 KiB at a time as the socket takes them; resolves with how many went out. */
  pour: (bytes: number) => Promise<number>;
  /** Settles at close: the socket's error code (ECONNRESET, EPIPE), or null for a clean end. */
  closed: Promise<string | null>;
}

function raw(port: number, head: string): Promise<Raw> {
  return new Promise((resolve) => {
    // Half-open allowed: a client may go on sending its body after the server's FIN.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let read = '';
    let pouring = false;
    let fin = false;
    let error: string | null = null;
    const waiting: { marker: string; resolve: (s: string) => void }[] = [];
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      read += chunk;
      for (const w of waiting.splice(0)) {
        if (read.includes(w.marker)) w.resolve(read);
        else waiting.push(w);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    // The server's FIN after its answer: this client ends too, once done sending.
    socket.on('end', () => {
      fin = true;
      if (!pouring) socket.end();
    });
    const closed = new Promise<string | null>((r) => socket.on('close', () => r(error)));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pour = async (bytes: number): Promise<number> => {
      pouring = true;
      let sent = 0;
      while (sent < bytes && socket.writable) {
        const piece = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
        sent += piece.length;
        if (!socket.write(piece)) {
          const go = await new Promise<boolean>((r) => {
            const drained = () => {
              socket.off('close', gone);
              r(true);
            };
            const gone = () => {
              socket.off('drain', drained);
              r(false);
            };
            socket.once('drain', drained);
            socket.once('close', gone);
          });
          if (!go) break;
        }
      }
      pouring = false;
      if (fin) socket.end();
      return sent;
    };
    socket.on('connect', () => {
      socket.write(head);
      resolve({
        socket,
        text: () => read,
        readUntil: (marker) =>
          read.includes(marker)
            ? Promise.resolve(read)
            : new Promise((r) => waiting.push({ marker, resolve: r })),
        pour,
        closed,
      });
    });
  });
}

/** The one HTTP answer in `text`: its status line, its headers (lower case) and its body. */
function answer(text: string): { status: string; headers: Record<string, string>; body: string } {
  const [head, body] = text.split('\r\n\r\n');
  const [status, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status, headers, body };
}

const TOO_LARGE = JSON.stringify({ error: 'bad_request', message: 'body too large' });

function loginHead(origin: string, port: number, length: number, expect = false): string {
  return (
    `POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${length}\r\n` +
    `${expect ? 'Expect: 100-continue\r\n' : ''}\r\n`
  );
}

function uploadHead(origin: string, port: number, cookie: string, length: number, expect = false): string {
  return (
    `POST /api/attachments?room=general&name=a.txt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    `Origin: ${origin}\r\nCookie: ${cookie}\r\nContent-Type: application/octet-stream\r\n` +
    `Content-Length: ${length}\r\n${expect ? 'Expect: 100-continue\r\n' : ''}\r\n`
  );
}

describe('Expect: 100-continue', () => {
  it('a sign-in declaring a body over 4 KiB gets 413 at once, without 100 Continue', async () => {
    const server = await startTestServer();
    const client = await raw(server.port, loginHead(server.origin, server.port, 1024 * 1024, true));
    const text = await client.readUntil(TOO_LARGE);
    // The first thing on the wire is the final answer: no 100 that would invite the body.
    expect(text.startsWith('HTTP/1.1 413 ')).toBe(true);
    expect(answer(text)).toMatchObject({ headers: { connection: 'close' }, body: TOO_LARGE });
    // The server half-closed after it: the client ends too, and nobody is reset.
    expect(await client.closed).toBe(null);
  });

  it('a body within the limit is invited with 100 Continue, then answered', async () => {
    const server = await startTestServer();
    await register(server.origin, 'alice');
    const body = JSON.stringify({ name: 'alice', password: 'wrong password' });
    const client = await raw(server.port, loginHead(server.origin, server.port, body.length, true));
    expect(await client.readUntil('\r\n\r\n')).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    client.socket.write(body);
    const text = await client.readUntil('bad_credentials');
    expect(answer(text.slice('HTTP/1.1 100 Continue\r\n\r\n'.length)).status).toBe(
      'HTTP/1.1 401 Unauthorized',
    );
    client.socket.end();
    expect(await client.closed).toBe(null);
  });

  it('an upload declaring more than maxBytes gets 413 without 100 Continue; one within it gets 100 and 201', async () => {
    const server = await startTestServer({ attachments: { maxBytes: 1024 } });
    const cookie = await register(server.origin, 'alice');
    const head = (length: number) => uploadHead(server.origin, server.port, cookie, length, true);
    const big = await raw(server.port, head(1025));
    const text = await big.readUntil('too_large');
    expect(text.startsWith('HTTP/1.1 413 ')).toBe(true);
    expect(await big.closed).toBe(null);

    const small = await raw(server.port, head(5));
    expect(await small.readUntil('\r\n\r\n')).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    small.socket.write('hello');
    expect(await small.readUntil('"size":5')).toMatch(/\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
    small.socket.end();
    expect(await small.closed).toBe(null);
  });
});

describe('Expect: 100-continue over HTTP/2 (--cert)', () => {
  it('the same: 100 when the body is to be read, 413 instead of it when it is declared too large', async () => {
    const server = await startTestServer({ tls: selfSignedCertificate() });
    const session = connectHttp2(server.origin, { rejectUnauthorized: false });
    const post = (length: number, body: string | null) =>
      new Promise<string[]>((resolve, reject) => {
        const seen: string[] = [];
        const req = session.request({
          ':method': 'POST',
          ':path': '/api/login',
          'content-type': 'application/json',
          'content-length': String(length),
          expect: '100-continue',
          origin: server.origin,
        });
        req.on('continue', () => {
          seen.push('100');
          if (body !== null) req.end(body);
        });
        req.on('response', (headers) => seen.push(String(headers[':status'])));
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => {
          data += chunk;
        });
        req.on('end', () => resolve([...seen, data]));
        req.on('error', reject);
      });
    try {
      const body = JSON.stringify({ name: 'nobody', password: 'wrong password' });
      expect(await post(body.length, body)).toEqual([
        '100',
        '401',
        JSON.stringify({ error: 'bad_credentials', message: 'wrong name or password' }),
      ]);
      expect(await post(1024 * 1024, null)).toEqual(['413', TOO_LARGE]);
    } finally {
      session.close();
    }
  });
});

describe('a body over the limit sent anyway', () => {
  it('after the 413 (as curl does when no 100 comes): the client writes it all and is not reset', async () => {
    const server = await startTestServer();
    const length = 512 * 1024;
    const client = await raw(server.port, loginHead(server.origin, server.port, length, true));
    await client.readUntil(TOO_LARGE);
    expect(await client.pour(length)).toBe(length);
    expect(await client.closed).toBe(null);
    expect(answer(client.text())).toMatchObject({
      status: 'HTTP/1.1 413 Payload Too Large',
      body: TOO_LARGE,
    });
  });

  it('still sending when the 413 comes (no Expect): the body goes out whole, then the connection ends without a reset', async () => {
    const server = await startTestServer();
    const length = 512 * 1024;
    const client = await raw(server.port, loginHead(server.origin, server.port, length));
    // The first 64 KiB, then the answer arrives (as on a slow link): the rest is still to send.
    expect(await client.pour(64 * 1024)).toBe(64 * 1024);
    await client.readUntil(TOO_LARGE);
    expect(await client.pour(length - 64 * 1024)).toBe(length - 64 * 1024);
    expect(await client.closed).toBe(null);
    expect(answer(client.text())).toMatchObject({
      status: 'HTTP/1.1 413 Payload Too Large',
      headers: { connection: 'close' },
      body: TOO_LARGE,
    });
  });

  it('past the bound the server stops reading: a client that never stops is cut off after its 413', async () => {
    const server = await startTestServer({ attachments: { maxBytes: 1024 } });
    const cookie = await register(server.origin, 'alice');
    const length = 256 * 1024 * 1024;
    for (const head of [
      loginHead(server.origin, server.port, length),
      uploadHead(server.origin, server.port, cookie, length),
    ]) {
      const client = await raw(server.port, head);
      const sent = await client.pour(length);
      await client.closed;
      expect(answer(client.text()).status).toBe('HTTP/1.1 413 Payload Too Large');
      // Dropped up to the bound, then closed: far from the 256 MiB announced (the rest of what was
      // sent sat in the two sides' socket buffers).
      expect(sent).toBeLessThan(LINGER.bytes + 64 * 1024 * 1024);
      expect(sent).toBeGreaterThan(LINGER.bytes);
    }
  });

  it('an upload refused before its body is read (413 on its Content-Length) lingers the same way', async () => {
    const server = await startTestServer({ attachments: { maxBytes: 1024 } });
    const cookie = await register(server.origin, 'alice');
    const length = 512 * 1024;
    const client = await raw(server.port, uploadHead(server.origin, server.port, cookie, length));
    expect(await client.pour(64 * 1024)).toBe(64 * 1024);
    await client.readUntil('too_large');
    expect(await client.pour(length - 64 * 1024)).toBe(length - 64 * 1024);
    expect(await client.closed).toBe(null);
    expect(answer(client.text())).toMatchObject({
      status: 'HTTP/1.1 413 Payload Too Large',
      headers: { connection: 'close' },
    });
  });
});
