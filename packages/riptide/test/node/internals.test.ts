/**
 * internals.ts: each use of Node's private fields works through its internal path where the
 * probe finds it (as on the Node this runs on) and through its public fallback when the probe
 * says no; the tests force each fallback with overrideProbes and check that the library still
 * does its job, only with the cost the internal path saves.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import {
  othersListenToSession,
  overrideProbes,
  presetListenerTable,
  probeResults,
} from '../../src/node/internals.js';
import {
  nodeLendsWriteRequest,
  once,
  parseFrames,
  rawClient,
  recordHandleWrites,
  riptideServer,
  shutdown,
  until,
} from './helpers.js';

let restore: (() => void) | null = null;
const servers: WebSocketServer[] = [];
afterEach(async () => {
  restore?.();
  restore = null;
  for (const s of servers.splice(0)) await shutdown(s);
});

/** A riptide server and a connected riptide client; returns the server's end too. */
async function connectedPair(options = {}) {
  const { wss, url } = await riptideServer(options);
  servers.push(wss);
  const accepted = once<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(url, {
    perMessageDeflate: (options as { perMessageDeflate?: boolean }).perMessageDeflate ?? false,
  });
  await once(client, 'open');
  const [server] = await accepted;
  return { wss, client, server };
}

/** An echo round trip and a clean close: the connection works end to end. */
async function exchange(client: WebSocket, server: WebSocket): Promise<void> {
  server.on('message', (data: Buffer) => server.send(data));
  const reply = once<[Buffer]>(client, 'message');
  client.send('round trip');
  expect(String((await reply)[0])).toBe('round trip');
  const closed = once<[number]>(client, 'close');
  client.close(1000);
  expect((await closed)[0]).toBe(1000);
}

describe('the probes on this Node', () => {
  it('find every internal (a Node release that drops one shows here first)', () => {
    const probes = probeResults();
    expect(probes).toMatchObject({ listenerTable: true, socketEndListener: true, zlibHandle: true });
    expect([null, true]).toContain(probes.socketServer);
    expect([null, true, false]).toContain(probes.directWrite);
    expect([null, true]).toContain(probes.sharedRead);
    // Known with sharedRead; true wherever net.Socket has the kBufferGen slot (Node 12.x on).
    expect(probes.directRead).toBe(probes.sharedRead);
  });
});

describe("an http2 server session's own 'stream' listener", () => {
  it("internal: node's one listener (sessionOnStream) is not someone else; an application's is", async () => {
    const server = http2.createServer();
    const seen: boolean[] = [];
    server.on('stream', (stream) => {
      const session = stream.session!;
      seen.push(othersListenToSession(session));
      const mine = () => {};
      session.on('stream', mine);
      seen.push(othersListenToSession(session));
      session.removeListener('stream', mine);
      stream.respond({ ':status': 204 });
      stream.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const req = client.request({ ':path': '/' });
    req.resume();
    await once(req, 'close');
    client.close();
    await new Promise((resolve) => server.close(resolve));
    expect(seen).toEqual([false, true]);
  });

  it('fallback: without a listener of that name (a Node that relays otherwise), someone may listen', () => {
    const session = new EventEmitter();
    expect(othersListenToSession(session)).toBe(true);
    session.on('stream', function relay() {});
    expect(othersListenToSession(session)).toBe(true);
  });
});

describe("EventEmitter's listener table", () => {
  it('internal: a preset table in fast mode; events declared or not both work', () => {
    const e = new EventEmitter();
    presetListenerTable(e, { message: undefined });
    expect(Object.getPrototypeOf((e as unknown as { _events: object })._events)).toBe(Object.prototype);
    const calls: string[] = [];
    e.on('message', () => calls.push('message'));
    e.on('other', () => calls.push('other'));
    e.emit('message');
    e.emit('other');
    expect(calls).toEqual(['message', 'other']);
  });

  it("fallback: Node's own table is left alone, and a connection works", async () => {
    restore = overrideProbes({ listenerTable: false });
    const e = new EventEmitter();
    const before = (e as unknown as { _events: object })._events;
    presetListenerTable(e, { message: undefined });
    expect((e as unknown as { _events: object })._events).toBe(before);
    const { client, server } = await connectedPair();
    expect(Object.getPrototypeOf((server as unknown as { _events: object })._events)).toBe(null);
    await exchange(client, server);
  });
});

describe("net.Socket's own 'end' listener", () => {
  for (const internal of [true, false]) {
    it(`${internal ? "internal: replaced by one listener calling Node's first" : 'fallback: a second listener'}, and a peer's FIN still closes (1006)`, async () => {
      if (!internal) restore = overrideProbes({ socketEndListener: false });
      const { client, server } = await connectedPair();
      const socket = server._socket as Socket;
      expect(socket.listenerCount('end')).toBe(internal ? 1 : 2);
      const closed = once<[number]>(server, 'close');
      // The client's FIN without a close frame: Node's listener and ours both run.
      (client._socket as Socket).end();
      expect((await closed)[0]).toBe(1006);
      // Node's own listener ran: the socket refuses writes after its end.
      expect(socket.writable).toBe(false);
    });
  }
});

describe("zlib's native handle", () => {
  for (const internal of [true, false]) {
    it(`${internal ? 'internal: permessage-deflate is negotiated and works' : 'fallback: permessage-deflate is declined, the connection runs uncompressed'}`, async () => {
      if (!internal) restore = overrideProbes({ zlibHandle: false });
      const { client, server } = await connectedPair({ perMessageDeflate: true });
      expect(server.extensions).toBe(internal ? 'permessage-deflate' : '');
      await exchange(client, server);
    });
  }

  it('fallback on the client side: nothing is offered', async () => {
    restore = overrideProbes({ zlibHandle: false });
    const { wss, url } = await riptideServer({ perMessageDeflate: true });
    servers.push(wss);
    const offered = new Promise<string | undefined>((resolve) =>
      wss.on('connection', (_ws, req) =>
        resolve(req.headers['sec-websocket-extensions'] as string | undefined),
      ),
    );
    const client = new WebSocket(url);
    await once(client, 'open');
    expect(await offered).toBeUndefined();
    client.terminate();
  });
});

describe('the net.Server that accepted a socket ({port} mode)', () => {
  for (const internal of [true, false]) {
    it(`${internal ? "internal: Node's socket.server" : 'fallback: a WeakMap entry'}, and the handshake completes`, async () => {
      restore = overrideProbes({ socketServer: internal ? null : false });
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      servers.push(wss);
      await once(wss, 'listening');
      const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
      const [server] = await once<[WebSocket]>(wss, 'connection');
      await once(client, 'open');
      expect(probeResults().socketServer).toBe(internal);
      await exchange(client, server);
    });
  }
});

/** Whether the direct path applies on this Node (see helpers.ts). */
const directWriteOn = await nodeLendsWriteRequest();

describe("a TCP handle's direct write", () => {
  /** A server WebSocket and a raw client socket that has completed the handshake. */
  async function rawPair() {
    const { wss, port } = await riptideServer();
    servers.push(wss);
    const accepted = once<[WebSocket]>(wss, 'connection');
    const { socket: client, rest } = await rawClient(port);
    const [server] = await accepted;
    return { server, client, rest, socket: server._socket as unknown as Socket };
  }

  for (const internal of [true, false]) {
    it.skipIf(internal && !directWriteOn)(
      `${internal ? 'internal: a small flush reaches the handle without socket.write' : 'fallback: every flush goes through socket.write'}, one write per tick`,
      async () => {
        if (!internal) restore = overrideProbes({ directWrite: false });
        const { server, client, rest, socket } = await rawPair();
        // The probe has run by now: at the latest on the 101, written to this TCP socket.
        let viaSocket = 0;
        const write = socket.write.bind(socket);
        socket.write = ((...a: Parameters<Socket['write']>) => {
          viaSocket++;
          return write(...a);
        }) as Socket['write'];
        const handleWrites = recordHandleWrites(socket);
        let got = rest;
        client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
        server.send('one');
        server.send('two');
        await until(() => parseFrames(got).length === 2);
        expect(parseFrames(got).map((f) => String(f.payload))).toEqual(['one', 'two']);
        expect(handleWrites).toEqual([['\x81\x03one\x81\x03two']]);
        expect(viaSocket).toBe(internal ? 0 : 1);
        client.destroy();
      },
    );
  }

  it.skipIf(!directWriteOn)(
    'internal: a write the kernel cannot take at once stays queued in order, counted in bufferedAmount',
    async () => {
      const { server, client, rest, socket } = await rawPair();
      client.pause(); // the peer reads nothing: the kernel's buffers fill up
      const handle = (socket as unknown as { _handle: { writeQueueSize: number } })._handle;
      const payload = (n: number) => Buffer.alloc(12_000, n % 251);
      let sent = 0;
      // One message per turn of the event loop: each flush is a lone small write, the direct path's case.
      while (handle.writeQueueSize === 0 && sent < 20_000) {
        server.send(payload(sent++));
        await new Promise((r) => setImmediate(r));
      }
      expect(handle.writeQueueSize).toBeGreaterThan(0);
      // The write that did not go through at once was a direct one: nothing in the socket's buffer.
      expect(socket.writableLength).toBe(0);
      expect(server.bufferedAmount).toBe(handle.writeQueueSize);
      // More sends now queue behind it in the socket (libuv's queue is not empty).
      for (let i = 0; i < 20; i++) {
        server.send(payload(sent++));
        await new Promise((r) => setImmediate(r));
      }
      expect(socket.writableLength).toBeGreaterThan(0);
      // The peer reads again: every message arrives, whole and in order.
      const chunks: Buffer[] = [rest];
      let bytes = rest.length;
      client.on('data', (d: Buffer) => {
        chunks.push(d);
        bytes += d.length;
      });
      client.resume();
      await until(() => bytes >= 12_004 * sent); // frames of 12,000 B with a 4-byte header
      const frames = parseFrames(Buffer.concat(chunks));
      expect(frames.length).toBe(sent);
      expect(frames.every((f, i) => f.payload.equals(payload(i)))).toBe(true);
      client.destroy();
    },
  );
});

describe('reading into the shared buffer', () => {
  /** Is `socket` in net.Socket's onread mode (its private kBuffer set)? */
  function readsIntoUserBuffer(socket: Socket): boolean {
    const sym = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'kBuffer');
    return sym !== undefined && (socket as unknown as Record<symbol, unknown>)[sym] != null;
  }
  const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;

  /** Messages of sizes from 0 to 200 KiB, each filled with its own index (so a mix-up shows). */
  const sizes = [0, 1, 125, 126, 4000, 65535, 65536, 70000, 200 * 1024, 7, 30000, 3];
  const payloadOf = (i: number) => Buffer.alloc(sizes[i % sizes.length], i & 0xff);

  it('internal: both ends read into it, and messages kept across many reads stay intact', async () => {
    const { client, server } = await connectedPair();
    expect(probeResults().sharedRead).toBe(true);
    expect(readsIntoUserBuffer(socketOf(server))).toBe(true);
    expect(readsIntoUserBuffer(socketOf(client))).toBe(true);
    expect(socketOf(server).listenerCount('data')).toBe(0);
    const kept: Buffer[] = [];
    const back: Buffer[] = [];
    server.on('message', (data: Buffer) => {
      kept.push(data);
      server.send(data);
    });
    client.on('message', (data: Buffer) => back.push(data));
    const count = 60;
    for (let i = 0; i < count; i++) client.send(payloadOf(i), { binary: true });
    await until(() => back.length === count);
    // Every message was read through the same 64 KiB buffer, overwritten by each later read.
    for (let i = 0; i < count; i++) {
      expect(kept[i].equals(payloadOf(i))).toBe(true);
      expect(back[i].equals(payloadOf(i))).toBe(true);
    }
    await exchange(client, server);
  });

  it('internal: pause() stops the reads and resume() restarts them, nothing lost', async () => {
    const { client, server } = await connectedPair();
    const got: string[] = [];
    server.on('message', (data: Buffer) => got.push(String(data)));
    server.pause();
    const handle = (socketOf(server) as unknown as { _handle: { reading: boolean } })._handle;
    expect(handle.reading).toBe(false);
    for (let i = 0; i < 5; i++) client.send(`m${i}`);
    // The client's pings are answered only once the server reads again: a barrier on the reads.
    const pong = once(client, 'pong');
    client.ping();
    server.resume();
    await pong;
    expect(handle.reading).toBe(true);
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    await exchange(client, server);
  });

  it("bytes that came with the handshake (a head): the socket keeps its 'data' events", async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    const port = Number(new URL(url).port);
    // The message comes right after 'connection': listen from its handler.
    const first = new Promise<[WebSocket, string]>((resolve) => {
      wss.once('connection', (ws: WebSocket) =>
        ws.once('message', (data: Buffer) => resolve([ws, String(data)])),
      );
    });
    const socket = await rawClientWithFrame(port);
    const [server, text] = await first;
    expect(text).toBe('early');
    expect(readsIntoUserBuffer(socketOf(server))).toBe(false);
    expect(socketOf(server).listenerCount('data')).toBe(1);
    socket.destroy();
  });

  it("a TLS socket keeps its 'data' events", async () => {
    const fixtures = join(__dirname, '..', 'fixtures');
    const cert = readFileSync(join(fixtures, 'test-cert.pem'));
    const key = readFileSync(join(fixtures, 'test-key.pem'));
    const server = https.createServer({ cert, key });
    const wss = new WebSocketServer({ server });
    servers.push(wss);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = once<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(`wss://localhost:${(server.address() as AddressInfo).port}`, { ca: cert });
    await once(client, 'open');
    const [end] = await accepted;
    expect(readsIntoUserBuffer(socketOf(end))).toBe(false);
    expect(readsIntoUserBuffer(socketOf(client))).toBe(false);
    await exchange(client, end);
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("fallback: 'data' events, and a connection works", async () => {
    restore = overrideProbes({ sharedRead: false });
    const { client, server } = await connectedPair();
    expect(readsIntoUserBuffer(socketOf(server))).toBe(false);
    expect(socketOf(server).listenerCount('data')).toBe(1);
    await exchange(client, server);
  });
});

describe("reading a large payload straight into its buffer (net.Socket's kBufferGen)", () => {
  const MiB = 1024 * 1024;
  const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;

  /** Counts the reads that landed straight in a payload's buffer on `ws`; `after` runs after each. */
  function inPlaceReads(ws: WebSocket, after: (n: number) => void = () => {}) {
    const proto = (ws as unknown as { _proto: { receivedInPlace(n: number): void } })._proto;
    const real = proto.receivedInPlace.bind(proto);
    const count = { reads: 0, bytes: 0 };
    proto.receivedInPlace = (n: number) => {
      count.reads++;
      count.bytes += n;
      real(n);
      after(count.reads);
    };
    return count;
  }

  /** A payload whose bytes depend on their offset and on `seed` (a mix-up or an overwrite shows). */
  function patterned(length: number, seed: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) b[i] = (i * 7 + seed + (i >> 12)) & 0xff;
    return b;
  }
  const textOf = (length: number, seed: number) =>
    String.fromCharCode(97 + (seed % 26)).repeat(length - 3) + '€'; // 3 bytes at the end

  for (const internal of [true, false]) {
    const how = internal ? 'internal' : 'fallback';

    it(`${how}: 1 and 4 MiB binary and text messages both ways, pipelined with small frames and pings; kept messages intact`, async () => {
      if (!internal) restore = overrideProbes({ directRead: false });
      const { client, server } = await connectedPair();
      if (internal) expect(probeResults().directRead).toBe(true);
      const serverReads = inPlaceReads(server);
      const clientReads = inPlaceReads(client);
      const kept: Array<Buffer | string> = [];
      server.on('message', (data: Buffer, isBinary: boolean) => {
        kept.push(isBinary ? data : String(data)); // kept: later reads must not overwrite it
        server.send(data, { binary: isBinary });
      });
      const back: Array<Buffer | string> = [];
      client.on('message', (data: Buffer, isBinary: boolean) => back.push(isBinary ? data : String(data)));
      let pongs = 0;
      client.on('pong', () => pongs++);
      const sent: Array<Buffer | string> = [];
      const sizes = [MiB, 4 * MiB, MiB + 3, 70_000];
      for (let i = 0; i < 8; i++) {
        const size = sizes[i % sizes.length];
        const big = i % 2 === 0 ? patterned(size, i) : textOf(size, i);
        sent.push(big, `small ${i}`);
        client.send(big, { binary: typeof big !== 'string' });
        client.ping();
        client.send(`small ${i}`);
      }
      await until(() => back.length === sent.length && pongs === 8);
      for (let i = 0; i < sent.length; i++) {
        const want = sent[i];
        for (const got of [kept[i], back[i]]) {
          if (typeof want === 'string') expect(got === want, `message ${i}`).toBe(true);
          else expect(Buffer.isBuffer(got) && got.equals(want), `message ${i}`).toBe(true);
        }
      }
      if (internal) {
        expect(serverReads.reads).toBeGreaterThan(8);
        expect(clientReads.reads).toBeGreaterThan(8);
      } else {
        expect(serverReads.reads + clientReads.reads).toBe(0);
      }
      // Both sockets are back on the shared buffer after the last large payload.
      await exchange(client, server);
    });

    it(`${how}: pause() in the middle of a 4 MiB payload stops the reads; resume() delivers it intact`, async () => {
      if (!internal) restore = overrideProbes({ directRead: false });
      const { client, server } = await connectedPair();
      const payload = patterned(4 * MiB, 9);
      const got: Buffer[] = [];
      server.on('message', (data: Buffer) => got.push(data));
      let paused = false;
      const pauseMidPayload = () => {
        if (!paused) {
          paused = true;
          server.pause();
        }
      };
      if (internal) {
        inPlaceReads(server, pauseMidPayload);
      } else {
        // Every read goes through receive (the shared buffer): pause after the second.
        const proto = (server as unknown as { _proto: { receive(c: Buffer, b?: boolean): void } })._proto;
        const real = proto.receive.bind(proto);
        let reads = 0;
        proto.receive = (chunk: Buffer, borrowed?: boolean) => {
          real(chunk, borrowed);
          if (++reads === 2) pauseMidPayload();
        };
      }
      client.send(payload);
      await until(() => paused);
      const handle = (socketOf(server) as unknown as { _handle: { reading: boolean } })._handle;
      expect(handle.reading).toBe(false);
      expect(got).toHaveLength(0);
      // A ping after the payload is answered only once the server reads again.
      const pong = once(client, 'pong');
      client.ping();
      server.resume();
      await pong;
      expect(got).toHaveLength(1);
      expect(got[0].equals(payload)).toBe(true);
      await exchange(client, server);
    });
  }

  it('internal: terminate() in the middle of a payload: 1006 on both ends, no crash', async () => {
    const { client, server } = await connectedPair();
    let terminated = false;
    inPlaceReads(server, () => {
      if (!terminated) {
        terminated = true;
        server.terminate();
      }
    });
    const serverClosed = once<[number]>(server, 'close');
    const clientClosed = once<[number]>(client, 'close');
    client.send(patterned(4 * MiB, 1));
    expect((await serverClosed)[0]).toBe(1006);
    expect((await clientClosed)[0]).toBe(1006);
    expect(terminated).toBe(true);
  });

  it('internal: the peer destroys its socket in the middle of a payload: 1006, no message', async () => {
    const { client, server } = await connectedPair();
    const got: Buffer[] = [];
    server.on('message', (data: Buffer) => got.push(data));
    const serverReads = inPlaceReads(server, (n) => {
      if (n === 1) socketOf(client).destroy();
    });
    const serverClosed = once<[number]>(server, 'close');
    client.send(patterned(4 * MiB, 2));
    expect((await serverClosed)[0]).toBe(1006);
    expect(serverReads.reads).toBeGreaterThan(0);
    expect(got).toHaveLength(0);
  });

  it("internal: a 'message' listener that throws (process kept alive): later reads do not touch the message", async () => {
    const { client, server } = await connectedPair();
    const uncaught: string[] = [];
    const onUncaught = (err: Error) => uncaught.push(err.message);
    process.on('uncaughtException', onUncaught);
    try {
      const kept: Buffer[] = [];
      server.on('message', (data: Buffer) => {
        kept.push(data);
        if (kept.length === 1) throw new Error('listener failed');
      });
      const first = patterned(MiB, 5);
      const second = patterned(MiB, 6);
      client.send(first);
      client.send(second);
      await until(() => kept.length === 2);
      expect(uncaught).toEqual(['listener failed']);
      expect(kept[0].equals(first)).toBe(true);
      expect(kept[1].equals(second)).toBe(true);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });

  it('internal: maxPayload is still enforced (1009 before the payload is read)', async () => {
    const { client, server } = await connectedPair({ maxPayload: 2 * MiB });
    const serverReads = inPlaceReads(server);
    const closed = once<[number]>(client, 'close');
    client.send(patterned(2 * MiB + 1, 3));
    expect((await closed)[0]).toBe(1009);
    expect(serverReads.reads).toBe(0);
    // Just under the limit still goes through (in place).
    const pair = await connectedPair({ maxPayload: 2 * MiB });
    const reads = inPlaceReads(pair.server);
    const got = once<[Buffer]>(pair.server, 'message');
    const payload = patterned(2 * MiB, 4);
    pair.client.send(payload);
    expect((await got)[0].equals(payload)).toBe(true);
    expect(reads.reads).toBeGreaterThan(0);
    expect(server.readyState).toBe(WebSocket.CLOSED);
  });

  /** `count` large messages of distinct sizes and seeds; the same seed gives the same bytes. */
  const bigOnes = (count: number, seed: number) =>
    Array.from({ length: count }, (_, i) => patterned([MiB + 3, 4 * MiB, 2 * MiB - 1][i % 3], seed + i));

  it('internal: two sockets reading large payloads at once: each gets its own bytes, both ways', async () => {
    // The read buffer is shared by all sockets, the targets are not: a mix-up shows as bytes of
    // the other socket's pattern.
    const { wss, url } = await riptideServer();
    servers.push(wss);
    const kept = new Map<string, Buffer[]>();
    const reads: Array<{ reads: number }> = [];
    wss.on('connection', (ws: WebSocket) => {
      reads.push(inPlaceReads(ws));
      ws.on('message', (data: Buffer) => {
        const id = String(data.subarray(0, 1));
        if (!kept.has(id)) kept.set(id, []);
        kept.get(id)!.push(data);
        ws.send(data);
      });
    });
    const clients = [new WebSocket(url), new WebSocket(url)];
    await Promise.all(clients.map((c) => once(c, 'open')));
    await until(() => reads.length === 2);
    const sent = [bigOnes(6, 10), bigOnes(6, 20)];
    for (const b of sent[0]) b[0] = 0x61; // 'a'
    for (const b of sent[1]) b[0] = 0x62; // 'b'
    const back: Buffer[][] = [[], []];
    const clientReads = clients.map((c, i) => {
      c.on('message', (data: Buffer) => back[i].push(data));
      return inPlaceReads(c);
    });
    // Both clients' messages go out together: the server's reads of the two sockets alternate.
    for (let i = 0; i < 6; i++) for (let c = 0; c < 2; c++) clients[c].send(sent[c][i]);
    await until(() => back[0].length === 6 && back[1].length === 6);
    for (let c = 0; c < 2; c++) {
      const got = kept.get(c === 0 ? 'a' : 'b')!;
      for (let i = 0; i < 6; i++) {
        expect(got[i].equals(sent[c][i]), `server, socket ${c}, message ${i}`).toBe(true);
        expect(back[c][i].equals(sent[c][i]), `client ${c}, message ${i}`).toBe(true);
      }
      expect(reads[c].reads).toBeGreaterThan(6);
      expect(clientReads[c].reads).toBeGreaterThan(6);
    }
    for (const c of clients) c.terminate();
  });

  it('internal: allowSynchronousEvents: false (each message waits for a setImmediate): pipelined payloads intact', async () => {
    const { client, server } = await connectedPair({ allowSynchronousEvents: false });
    const reads = inPlaceReads(server);
    const kept: Buffer[] = [];
    server.on('message', (data: Buffer) => kept.push(data));
    const sent = bigOnes(6, 30);
    for (const b of sent) {
      client.send(b);
      client.send('small');
    }
    await until(() => kept.length === 12);
    for (let i = 0; i < 6; i++) {
      expect(kept[2 * i].equals(sent[i]), `message ${2 * i}`).toBe(true);
      expect(String(kept[2 * i + 1])).toBe('small');
    }
    expect(reads.reads).toBeGreaterThan(0);
    await exchange(client, server);
  });

  it("internal: pause() and resume() inside 'message', and the socket paused by the listener itself", async () => {
    const { client, server } = await connectedPair();
    const reads = inPlaceReads(server);
    const socket = socketOf(server);
    const kept: Buffer[] = [];
    server.on('message', (data: Buffer) => {
      kept.push(data);
      const n = kept.length;
      if (n === 1) {
        server.pause();
        server.resume();
      } else if (n === 2) {
        server.pause();
        setImmediate(() => server.resume());
      } else if (n === 3) {
        // Under the library's feet: the next read, wherever it was meant to go, waits for this.
        socket.pause();
        setImmediate(() => socket.resume());
      } else if (n === 4) {
        server.pause();
        socket.pause();
        setImmediate(() => {
          socket.resume();
          server.resume();
        });
      }
    });
    const sent = bigOnes(7, 40);
    for (const b of sent) client.send(b);
    await until(() => kept.length === 7);
    for (let i = 0; i < 7; i++) expect(kept[i].equals(sent[i]), `message ${i}`).toBe(true);
    expect(reads.reads).toBeGreaterThan(7);
    await exchange(client, server);
  });

  it('internal: a fragmented message of large fragments with pings between them: intact, each ping answered', async () => {
    const { client, server } = await connectedPair();
    const reads = inPlaceReads(server);
    const parts = [patterned(3 * MiB, 50), patterned(MiB + 5, 51), patterned(2 * MiB, 52)];
    const texts = ['x'.repeat(MiB), `${'é'.repeat(MiB)}!`];
    const kept: Array<Buffer | string> = [];
    server.on('message', (data: Buffer, isBinary: boolean) => kept.push(isBinary ? data : String(data)));
    let pongs = 0;
    client.on('pong', () => pongs++);
    parts.forEach((p, i) => {
      client.send(p, { binary: true, fin: i === parts.length - 1 });
      if (i < parts.length - 1) client.ping(String(i));
    });
    texts.forEach((t, i) => {
      client.send(t, { fin: i === texts.length - 1 });
      client.ping();
    });
    await until(() => kept.length === 2 && pongs === 4);
    expect(Buffer.isBuffer(kept[0]) && kept[0].equals(Buffer.concat(parts))).toBe(true);
    expect(kept[1] === texts.join('')).toBe(true);
    // Reads of each fragment's own buffer, not of the message's (which grows as fragments come).
    expect(reads.reads).toBeGreaterThan(3);
    await exchange(client, server);
  });

  it('internal: permessage-deflate negotiated, a large frame sent uncompressed: read in place, intact', async () => {
    const { client, server } = await connectedPair({ perMessageDeflate: true });
    expect(client.extensions).toContain('permessage-deflate');
    const reads = inPlaceReads(server);
    const kept: Buffer[] = [];
    server.on('message', (data: Buffer) => kept.push(data));
    const plain = patterned(4 * MiB, 60);
    const packed = patterned(2 * MiB, 61);
    client.send(plain, { compress: false });
    client.send(packed, { compress: true });
    client.send(plain, { compress: false });
    await until(() => kept.length === 3);
    expect(kept[0].equals(plain)).toBe(true);
    expect(kept[1].equals(packed)).toBe(true);
    expect(kept[2].equals(plain)).toBe(true);
    expect(reads.reads).toBeGreaterThan(2);
  });

  it("internal: close() from a 'message' listener with large payloads still arriving: a clean 1000, the message intact", async () => {
    const { client, server } = await connectedPair();
    const reads = inPlaceReads(server);
    const kept: Buffer[] = [];
    server.on('message', (data: Buffer) => {
      kept.push(data);
      if (kept.length === 1) server.close(1000, 'enough');
    });
    const serverClosed = once<[number]>(server, 'close');
    const clientClosed = once<[number, Buffer]>(client, 'close');
    const sent = bigOnes(4, 70);
    for (const b of sent) client.send(b);
    const [code, reason] = await clientClosed;
    expect([code, String(reason)]).toEqual([1000, 'enough']);
    expect((await serverClosed)[0]).toBe(1000);
    expect(kept[0].equals(sent[0])).toBe(true);
    for (let i = 1; i < kept.length; i++) expect(kept[i].equals(sent[i]), `message ${i}`).toBe(true);
    expect(reads.reads).toBeGreaterThan(0);
  });
});

/** A raw TCP client whose upgrade request and first masked frame ("early") leave in one write. */
async function rawClientWithFrame(port: number): Promise<Socket> {
  const net = await import('node:net');
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const mask = [1, 2, 3, 4];
  const text = Buffer.from('early');
  const frame = Buffer.from([0x81, 0x80 | text.length, ...mask, ...text.map((b, i) => b ^ mask[i % 4])]);
  socket.write(
    Buffer.concat([
      Buffer.from(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
      frame,
    ]),
  );
  return socket;
}
