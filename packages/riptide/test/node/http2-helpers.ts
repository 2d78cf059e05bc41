/**
 * HTTP/2 test helpers: riptide servers on an http2 server (port 0), and node:http2's raw
 * client opening extended CONNECT streams, as an independent peer whose bytes we write and
 * read by hand.
 */
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type ServerOptions, WebSocketServer } from '../../src/index.js';
import { once, parseFrames } from './helpers.js';

const fixtures = join(__dirname, '..', 'fixtures');
export const tls = {
  key: readFileSync(join(fixtures, 'test-key.pem')),
  cert: readFileSync(join(fixtures, 'test-cert.pem')),
};

export type AnyHttp2Server = http2.Http2Server | http2.Http2SecureServer;

/** A riptide server on a cleartext (h2c) or TLS (allowHTTP1) http2 server listening on port 0. */
export async function h2Server(
  options: Omit<ServerOptions, 'port' | 'server' | 'noServer'> = {},
  kind: 'h2c' | 'tls' = 'h2c',
  server: AnyHttp2Server = kind === 'tls'
    ? http2.createSecureServer({ ...tls, allowHTTP1: true })
    : http2.createServer(),
): Promise<{ wss: WebSocketServer; server: AnyHttp2Server; port: number; origin: string; url: string }> {
  const wss = new WebSocketServer({ server, ...options });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const scheme = kind === 'tls' ? 'https' : 'http';
  return {
    wss,
    server,
    port,
    origin: `${scheme}://127.0.0.1:${port}`,
    url: `${kind === 'tls' ? 'wss' : 'ws'}://127.0.0.1:${port}`,
  };
}

/** Stop an http2 server, its riptide server and every session still open. */
export async function closeH2(wss: WebSocketServer, server: AnyHttp2Server): Promise<void> {
  for (const c of wss.clients ?? []) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  const sessions = (server as AnyHttp2Server & { [kSessions]?: Set<http2.ServerHttp2Session> })[kSessions];
  await settle();
  for (const s of sessions ?? []) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const kSessions = Symbol('test.sessions');

/**
 * One macrotask. node 20's http2 loops forever when a session is destroyed in the same tick as
 * one of its extended CONNECT streams closed (reproduced without riptide), so test cleanups
 * destroy sessions a macrotask later.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Remember a server's sessions so closeH2 can end them (server.close() waits for them). */
export function trackSessions(server: AnyHttp2Server): Set<http2.ServerHttp2Session> {
  const set = new Set<http2.ServerHttp2Session>();
  (server as AnyHttp2Server & { [kSessions]?: Set<http2.ServerHttp2Session> })[kSessions] = set;
  server.on('session', (s: http2.ServerHttp2Session) => {
    set.add(s);
    s.on('close', () => set.delete(s));
  });
  return set;
}

/** A raw node:http2 client session that has received the server's SETTINGS. */
export async function rawSession(origin: string): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(origin, { rejectUnauthorized: false });
  session.on('error', () => {});
  const [settings] = await once<[http2.Settings]>(session, 'remoteSettings');
  if (settings.enableConnectProtocol !== true) throw new Error('no SETTINGS_ENABLE_CONNECT_PROTOCOL');
  return session;
}

/** RFC 8441 5.1's request, for `port` and `path`, with header overrides (undefined deletes). */
export function connectHeaders(
  port: number,
  path = '/',
  over: Record<string, string | undefined> = {},
  scheme = 'http',
): http2.OutgoingHttpHeaders {
  const h: Record<string, string> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': scheme,
    ':path': path,
    ':authority': `127.0.0.1:${port}`,
    'sec-websocket-version': '13',
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  return h;
}

/**
 * A raw WebSocket over one extended CONNECT stream: the response headers, and every byte the
 * server sends, parsed into frames as they arrive.
 */
export class RawStream {
  readonly stream: http2.ClientHttp2Stream;
  readonly response: Promise<http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader>;
  /** Resolves when the stream has closed: the bytes received and the RST_STREAM code. */
  readonly closed: Promise<{ bytes: Buffer; rstCode: number | undefined; ended: boolean }>;
  private chunks: Buffer[] = [];
  private waiters: Array<() => void> = [];
  ended = false;

  constructor(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders) {
    const stream = session.request(headers, { endStream: false });
    this.stream = stream;
    stream.on('error', () => {});
    this.response = new Promise((resolve) => stream.once('response', resolve));
    stream.on('data', (c: Buffer) => {
      this.chunks.push(c);
      for (const w of this.waiters.splice(0)) w();
    });
    stream.on('end', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) =>
      stream.once('close', () => {
        for (const w of this.waiters.splice(0)) w();
        resolve({ bytes: this.bytes(), rstCode: stream.rstCode, ended: this.ended });
      }),
    );
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  frames(): ReturnType<typeof parseFrames> {
    return parseFrames(this.bytes());
  }

  /** Wait until at least `n` whole frames have arrived (or the stream ended). */
  async waitFrames(n: number): Promise<ReturnType<typeof parseFrames>> {
    for (;;) {
      const frames = this.frames();
      if (frames.length >= n || this.ended || this.stream.closed) return frames;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  write(...frames: Buffer[]): void {
    this.stream.write(Buffer.concat(frames));
  }
}

/** Open a raw WebSocket stream and wait for its response. */
export async function rawStream(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
): Promise<RawStream> {
  const raw = new RawStream(session, headers);
  await raw.response;
  return raw;
}
