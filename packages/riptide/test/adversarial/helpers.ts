/**
 * The attack suite's tools: servers in both listening modes, raw-socket attackers, a malicious
 * server for the client, and the measurements every attack asserts (the process is alive, file
 * descriptors are released, RSS stays bounded, a healthy client still gets its echo).
 *
 * Rules these tests follow (the machine is shared and under load): no sleeps as barriers and no
 * wall-clock ratios. Attacks are bounded by BYTES sent, not by time ("the server closed the
 * connection before 64 MiB of pings were written"); waits are for a condition, with a generous
 * deadline that only a broken server reaches.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import zlib from 'node:zlib';
import { afterEach, beforeEach, expect } from 'vitest';
import { type ServerOptions, WebSocket, WebSocketServer } from '../../src/index.js';
import { once, parseFrames } from '../node/helpers.js';

export { clientFrame, collectUntilClose, once, parseFrames, rawClient } from '../node/helpers.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Open file descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Resident set size of this process, in bytes. */
export function rss(): number {
  return process.memoryUsage.rss();
}

/** Collect garbage when the test process runs with --expose-gc (vitest's forks do not). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Resolves once `condition()` holds, checking after every turn of the event loop (and at least
 * every 10 ms). Rejects with `what` if it still does not hold after `deadlineMs`: a generous
 * bound that only a broken server reaches, never a measurement.
 */
export async function waitFor(condition: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > deadlineMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Records uncaught exceptions while an attack runs: a peer must never crash the process. (Vitest
 * would report them too, but as an unhandled error of the run rather than a failed test.)
 * `race(p)` rejects as soon as one is recorded, so a test fails at the crash instead of waiting
 * for a close that the crashed handler will never bring.
 */
export function trapCrashes(): { errors: Error[]; race<T>(p: Promise<T>): Promise<T> } {
  const waiting = new Set<(err: Error) => void>();
  const trap = {
    errors: [] as Error[],
    race<T>(p: Promise<T>): Promise<T> {
      let fail: (err: Error) => void = () => {};
      const crashed = new Promise<never>((_resolve, reject) => {
        fail = (err) =>
          reject(new Error(`uncaught exception during the attack: ${err.message}`, { cause: err }));
        if (trap.errors.length > 0) fail(trap.errors[0]);
        waiting.add(fail);
      });
      return Promise.race([p, crashed]).finally(() => waiting.delete(fail));
    },
  };
  const record = (err: Error) => {
    trap.errors.push(err);
    for (const fail of waiting) fail(err);
  };
  beforeEach(() => {
    trap.errors.length = 0;
    process.on('uncaughtException', record);
  });
  afterEach(() => {
    process.removeListener('uncaughtException', record);
  });
  return trap;
}

export type Mode = 'port' | 'server';
/** `{ port }`: riptide's own head parser; `{ server }`: a user's node:http server. */
export const MODES: Mode[] = ['port', 'server'];

export interface Served {
  wss: WebSocketServer;
  port: number;
  url: string;
  /** The user's http.Server in `{ server }` mode. */
  http: http.Server | null;
  close(): Promise<void>;
}

/**
 * An echo server in either mode. In `{ server }` mode the user's http.Server answers plain
 * requests with 426 itself, as an application would.
 */
export async function echoServer(
  mode: Mode,
  options: Omit<ServerOptions, 'port' | 'server'> = {},
): Promise<Served> {
  let wss: WebSocketServer;
  let httpServer: http.Server | null = null;
  if (mode === 'port') {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
    await once(wss, 'listening');
  } else {
    httpServer = http.createServer((_req, res) => {
      res.writeHead(426, { Connection: 'close' });
      res.end();
    });
    wss = new WebSocketServer({ server: httpServer, ...options });
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
  }
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on('error', () => {});
  });
  const port = ((httpServer ?? wss).address() as net.AddressInfo).port;
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    http: httpServer,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (httpServer !== null) {
        httpServer.closeAllConnections();
        await new Promise<void>((resolve) => httpServer!.close(() => resolve()));
      }
    },
  };
}

/**
 * A healthy client's round trip: connect, send one message, get its echo, close cleanly. Returns
 * the echo's latency in ms. The bound is absolute and generous (a healthy server answers in well
 * under a millisecond; a monopolised event loop takes seconds).
 */
export async function healthyRoundTrip(url: string, boundMs = 5_000): Promise<number> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('error', () => {});
  await once(ws, 'open');
  const start = performance.now();
  ws.send('ping?');
  const [data] = await once<[Buffer]>(ws, 'message');
  const latency = performance.now() - start;
  expect(data.toString()).toBe('ping?');
  ws.close(1000);
  await once(ws, 'close');
  expect(latency).toBeLessThan(boundMs);
  return latency;
}

/**
 * Connects a raw TCP socket; errors (resets) are expected and ignored. Half-open allowed: an
 * attacker does not close its side when the server ends its own.
 */
export async function rawConnect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Resolves when the server has ended or reset the connection ('end' or 'close', whichever first). */
export function serverGone(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) return resolve();
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
}

/** Everything the server sends until it ends or resets the connection. */
export function collectUntilGone(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return serverGone(socket).then(() => Buffer.concat(chunks));
}

/**
 * Writes `chunk` again and again (respecting backpressure, so the attacker's own memory stays
 * flat) until the connection is gone (reset, or destroyed by the peer: a FIN alone does not
 * count, the peer may still be reading) or `maxBytes` have been written. Returns how many bytes
 * were written and whether the connection went away first.
 */
export function floodUntilClosed(
  socket: net.Socket,
  chunk: Buffer,
  maxBytes: number,
): Promise<{ written: number; closedByPeer: boolean }> {
  return new Promise((resolve) => {
    let written = 0;
    let done = false;
    const finish = (closedByPeer: boolean) => {
      if (done) return;
      done = true;
      socket.removeListener('drain', pump);
      resolve({ written, closedByPeer });
    };
    socket.once('close', () => finish(true));
    socket.once('error', () => finish(true));
    function pump(): void {
      while (!done && !socket.destroyed) {
        if (written >= maxBytes) {
          finish(false);
          return;
        }
        written += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    }
    pump();
  });
}

/** The opening handshake answer a server sends for `key` (RFC 6455 4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/**
 * A malicious WebSocket server for attacks on the client: it completes the opening handshake by
 * hand, then gives the raw socket to `attack`.
 */
export async function maliciousServer(
  attack: (socket: net.Socket) => void,
  extensions?: string,
): Promise<{ url: string; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n` +
          (extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
          '\r\n',
      );
      attack(socket);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An unmasked server frame header (+ payload) with a 64-bit length field. */
export function serverFrame(opcode: number, payload: Buffer, fin = true, rsv1 = false): Buffer {
  return Buffer.concat([frameHeader(opcode, payload.length, fin, rsv1, false), payload]);
}

/** A frame header declaring `length` bytes (which need not follow). Masked with key 0. */
export function frameHeader(
  opcode: number,
  length: number | bigint,
  fin = true,
  rsv1 = false,
  masked = true,
): Buffer {
  const b0 = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const m = masked ? 0x80 : 0;
  const key = masked ? Buffer.alloc(4) : Buffer.alloc(0);
  const n = BigInt(length);
  if (n < 126n) return Buffer.concat([Buffer.from([b0, m | Number(n)]), key]);
  if (n < 65536n) {
    const h = Buffer.from([b0, m | 126, 0, 0]);
    h.writeUInt16BE(Number(n), 2);
    return Buffer.concat([h, key]);
  }
  const h = Buffer.alloc(10);
  h[0] = b0;
  h[1] = m | 127;
  h.writeBigUInt64BE(n, 2);
  return Buffer.concat([h, key]);
}

/** A masked client frame with mask key 0 (the payload is sent as is). */
export function zeroMaskedFrame(opcode: number, payload: Buffer, fin = true, rsv1 = false): Buffer {
  return Buffer.concat([frameHeader(opcode, payload.length, fin, rsv1, true), payload]);
}

/** The close code of the first close frame in a server's (unmasked) `bytes`, or null. */
export function closeCodeIn(bytes: Buffer): number | null {
  const close = parseFrames(bytes).find((frame) => frame.opcode === 0x8);
  if (close === undefined) return null;
  return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
}

/**
 * The attack files' servers and other things to undo: `serve()` starts an echoServer that is
 * closed after each test, and `cleanups` takes more (tickers, malicious servers), run in order.
 */
export function perTestServers(): {
  cleanups: Array<() => unknown>;
  serve: (...args: Parameters<typeof echoServer>) => Promise<Served>;
} {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  return {
    cleanups,
    async serve(...args) {
      const served = await echoServer(...args);
      cleanups.push(() => served.close());
      return served;
    },
  };
}

/** A raw client that completed a handshake offering permessage-deflate (accepted by the server). */
export async function rawDeflateClient(port: number): Promise<net.Socket> {
  const socket = await rawConnect(port);
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
  );
  let head = '';
  while (!head.includes('\r\n\r\n')) head += (await once<[Buffer]>(socket, 'data'))[0].toString('latin1');
  if (!/^HTTP\/1\.1 101 [\s\S]*permessage-deflate/i.test(head))
    throw new Error(`deflate not accepted: ${head}`);
  return socket;
}

/** RFC 7692 7.2.1: `data` deflated with a sync flush, the 00 00 ff ff tail removed. */
export function deflatePayload(data: Buffer): Buffer {
  const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/**
 * A message that inflates to `mib` MiB of zeros from about 1 KiB per MiB: one sync-flushed
 * section, repeated (each is byte-aligned and non-final, so the sections form one stream).
 */
export function zeroBomb(mib: number): Buffer {
  const section = zlib.deflateRawSync(Buffer.alloc(MiB), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return Buffer.concat(Array.from({ length: mib }, () => section));
}

/**
 * Counts turns of the event loop (one setImmediate per turn) until stopped: work that happens
 * in one turn shares its number. The measure of "the loop got a turn", without a clock.
 */
export function turnCounter(): { readonly turn: number; stop(): void } {
  let turn = 0;
  let running = true;
  const tick = () => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop() {
      running = false;
    },
  };
}
