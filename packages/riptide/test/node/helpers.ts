/** Test helpers: servers on port 0, promises for events, raw sockets. */
import type { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach } from 'vitest';
import { WebSocketServer } from 'ws';
import { WebSocketServer as RiptideServer, type ServerOptions } from '../../src/index.js';

/**
 * A list of clean-ups for the tests of a file: after each test, those it pushed run one at a time,
 * the last pushed first (a client before the server it connected to). Call it at the top of a file.
 */
export function cleanupsAfterEachTest(): (() => Promise<void> | void)[] {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

export function once<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T)));
}

export async function riptideServer(options: Omit<ServerOptions, 'port'> = {}): Promise<{
  wss: RiptideServer;
  port: number;
  url: string;
}> {
  const wss = new RiptideServer({ port: 0, host: '127.0.0.1', ...options });
  await once(wss, 'listening');
  const port = (wss.address() as net.AddressInfo).port;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

export async function wsServer(options: Record<string, unknown> = {}): Promise<{
  wss: WebSocketServer;
  port: number;
  url: string;
}> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await once(wss, 'listening');
  const port = (wss.address() as net.AddressInfo).port;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

/** Close a server and every client it still has. */
export async function shutdown(wss: { clients?: Set<{ terminate(): void }>; close(cb?: () => void): void }) {
  for (const c of wss.clients ?? []) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/** A port nothing listens on while the test runs (shared with the CLI's and the chat's tests). */
export { refusedPort } from '../../../../test-support/ports.js';

/** A raw TCP connection that has completed a WebSocket handshake (as a client). */
export async function rawClient(port: number, path = '/'): Promise<{ socket: net.Socket; rest: Buffer }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return { socket, rest: await upgrade(socket, path, `127.0.0.1:${port}`) };
}

/** Write a version 13 upgrade request to `end`; return what follows the 101's head. */
async function upgrade(end: Duplex, path: string, host: string): Promise<Buffer> {
  end.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let buf = Buffer.alloc(0);
  while (buf.indexOf('\r\n\r\n') === -1) {
    const [chunk] = await once<[Buffer]>(end, 'data');
    buf = Buffer.concat([buf, chunk]);
  }
  if (!buf.subarray(0, 12).toString().includes('101')) throw new Error(`handshake failed: ${buf}`);
  return buf.subarray(buf.indexOf('\r\n\r\n') + 4);
}

/** Send raw bytes and collect everything until the peer closes. */
export function collectUntilClose(socket: net.Socket, initial: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks = [initial];
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** A masked client frame (mask key 0 makes the payload readable in assertions). */
export function clientFrame(opcode: number, payload: Buffer | string, fin = true): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = Buffer.from([1, 2, 3, 4]);
  let header: Buffer;
  if (data.length < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | data.length]);
  } else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

/**
 * Parse frames: [{opcode, fin, rsv1, masked, payload}]. Server frames are unmasked; a client's masked
 * frames (as a raw peer reads them) come back with their payload unmasked.
 */
export function parseFrames(
  buf: Buffer,
): { opcode: number; fin: boolean; rsv1: boolean; masked: boolean; payload: Buffer }[] {
  const frames = [];
  let o = 0;
  while (o + 2 <= buf.length) {
    const fin = (buf[o] & 0x80) !== 0;
    const rsv1 = (buf[o] & 0x40) !== 0;
    const opcode = buf[o] & 0x0f;
    const masked = (buf[o + 1] & 0x80) !== 0;
    let len = buf[o + 1] & 0x7f;
    let h = 2;
    if (len === 126) {
      len = buf.readUInt16BE(o + 2);
      h = 4;
    } else if (len === 127) {
      len = Number(buf.readBigUInt64BE(o + 2));
      h = 10;
    }
    const maskAt = o + h;
    if (masked) h += 4;
    if (o + h + len > buf.length) break;
    let payload = buf.subarray(o + h, o + h + len);
    if (masked) {
      payload = Buffer.from(payload);
      for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskAt + (i & 3)];
    }
    frames.push({ opcode, fin, rsv1, masked, payload });
    o += h + len;
  }
  return frames;
}

/**
 * Resolves once `check()` holds, looking again after each turn of the event loop: a wait on a
 * condition, not on the clock (it also works while a test fakes the timers).
 */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Two Duplex streams joined back to back, like the two ends of a TCP connection, without a
 * socket: what a proxy or an in-process transport hands to handleUpgrade.
 */
export function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (other: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, cb) {
        other().push(chunk);
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
      destroy(err, cb) {
        // Like a reset: the other end closes too.
        const peer = other();
        if (!peer.destroyed) process.nextTick(() => peer.destroy());
        cb(err);
      },
    });
  ends.push(
    make(() => ends[1]),
    make(() => ends[0]),
  );
  return [ends[0], ends[1]];
}

/**
 * Upgrade an in-process connection to `wss` (through an http.Server's 'upgrade' and
 * wss.handleUpgrade) and return the client's end, raw: each write to it arrives at the server
 * as exactly one 'data' chunk, which TCP cannot promise.
 */
export async function duplexClient(wss: RiptideServer): Promise<{ end: Duplex; rest: Buffer }> {
  const server = (await import('node:http')).createServer();
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws, request) => wss.emit('connection', ws, request));
  });
  const [serverEnd, clientEnd] = duplexPair();
  server.emit('connection', serverEnd);
  return { end: clientEnd, rest: await upgrade(clientEnd, '/', 'in-process') };
}

/**
 * Record what reaches `socket`'s native handle from now on, i.e. each write the kernel is asked
 * to take: one entry per call, its buffers as latin1 strings. The library's direct writes
 * (internals.ts writeDirect) and Node's own (socket.write) are counted alike.
 */
export function recordHandleWrites(socket: net.Socket): string[][] {
  type Write = (req: unknown, data: unknown, ...rest: unknown[]) => number;
  const handle = (socket as unknown as { _handle: Record<string, Write> })._handle;
  const calls: string[][] = [];
  const text = (d: unknown, enc?: unknown): string =>
    typeof d === 'string'
      ? Buffer.from(d, (enc as BufferEncoding) ?? 'utf8').toString('latin1')
      : Buffer.from(d as Uint8Array).toString('latin1');
  for (const name of ['writeBuffer', 'writeLatin1String', 'writeUtf8String', 'writeAsciiString', 'writev']) {
    const original = handle[name];
    const encoding = name === 'writeLatin1String' ? 'latin1' : name === 'writeAsciiString' ? 'ascii' : 'utf8';
    handle[name] = function (this: unknown, req, data, ...rest) {
      if (name !== 'writev') calls.push([text(data, encoding)]);
      else if (rest[0] === true) calls.push((data as unknown[]).map((d) => text(d)));
      else {
        const chunks = data as unknown[];
        const parts: string[] = [];
        for (let i = 0; i < chunks.length; i += 2) parts.push(text(chunks[i], chunks[i + 1]));
        calls.push(parts);
      }
      return original.call(this, req, data, ...rest);
    };
  }
  return calls;
}

/**
 * Whether this Node lends its own write request to the TCP handle's writeBuffer (the classic
 * contract the direct path needs), seen on a plain net socket independently of internals.ts:
 * later Node 24 releases pass null and let the native write make a request when it must.
 */
export async function nodeLendsWriteRequest(): Promise<boolean> {
  const server = net.createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const handle = (socket as unknown as { _handle: { writeBuffer: (...a: unknown[]) => number } })._handle;
  const inner = handle.writeBuffer;
  let req: unknown;
  handle.writeBuffer = function (this: unknown, ...a: unknown[]) {
    req = a[0];
    return inner.apply(this, a);
  };
  socket.write(Buffer.from('x'));
  socket.destroy();
  await new Promise((r) => server.close(r));
  return typeof req === 'object' && req !== null;
}

/** Records, in order, which of end() and destroy() were called on `socket`. */
export function watchTeardown(socket: Duplex): string[] {
  const calls: string[] = [];
  const { end, destroy } = socket;
  socket.end = function (this: Duplex, ...args: unknown[]) {
    calls.push('end');
    return (end as (...a: unknown[]) => Duplex).apply(this, args);
  } as Duplex['end'];
  socket.destroy = function (this: Duplex, ...args: unknown[]) {
    calls.push('destroy');
    return (destroy as (...a: unknown[]) => Duplex).apply(this, args);
  } as Duplex['destroy'];
  return calls;
}

/**
 * Runs `attempt` with a handshake deadline of 50 ms, then 4 times longer each time while `tooLate`
 * says the deadline came before the server's answer (a machine under load can take that long to
 * deliver it), up to about 13 s; the tests then check what happens to an answer that came in time.
 */
export async function beforeTheDeadline<T>(
  attempt: (handshakeTimeout: number) => Promise<T>,
  tooLate: (result: T) => boolean,
): Promise<T> {
  for (let handshakeTimeout = 50; ; handshakeTimeout *= 4) {
    const result = await attempt(handshakeTimeout);
    if (!tooLate(result) || handshakeTimeout >= 12_800) return result;
  }
}
