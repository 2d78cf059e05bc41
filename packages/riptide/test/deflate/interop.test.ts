/**
 * permessage-deflate over real sockets, against the `ws` package in both directions, for every
 * combination of the four RFC 7692 parameters; plus raw-socket tests for what ws cannot show
 * (RSV1 on the wire, fragments arriving one byte at a time).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import zlib from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import WS, { createWebSocketStream as wsCreateWebSocketStream } from 'ws';
import { clearZlibPool, pooledZlibContexts } from '../../src/deflate/codec.js';
import { liveZlibContexts } from '../../src/deflate/zlib-sync.js';
import {
  createWebSocketStream,
  type PerMessageDeflateOptions,
  WebSocket,
  WebSocketServer,
} from '../../src/index.js';
import {
  cleanupsAfterEachTest,
  clientFrame,
  once,
  riptideServer,
  shutdown,
  wsServer,
} from '../node/helpers.js';

const cleanups = cleanupsAfterEachTest();

type AnySocket = {
  send(data: unknown, opts: { binary: boolean }): void;
  on(event: string, fn: (...args: never[]) => void): unknown;
  once(event: string, fn: (...args: never[]) => void): unknown;
  close(): void;
  extensions: string | object;
};

function echo(socket: AnySocket): void {
  socket.on('message', ((data: Buffer, isBinary: boolean) =>
    socket.send(data, { binary: isBinary })) as never);
}

/** Sends each message and checks the echo, in order. Returns the bytes the client's socket read. */
async function exchange(ws: WebSocket | WS): Promise<number> {
  const client = ws as unknown as AnySocket;
  // Both clients keep their TCP socket as _socket: its bytesRead is what came over the wire.
  const socketOf = () => (ws as unknown as { _socket: net.Socket })._socket;
  const text = '{"type":"chat","user":"ada","text":"hello, hello, hello everyone"}'.repeat(40);
  const messages: Array<[Buffer | string, boolean]> = [
    [text, false],
    [text, false], // a second, identical message: context takeover makes it tiny
    [randomBytes(5000), true],
    ['', false],
    ['x', false],
    [Buffer.from(text.repeat(100)), true], // 270 KB: several zlib output chunks
    [text, false],
  ];
  const received: Array<[Buffer, boolean]> = [];
  const done = new Promise<void>((resolve) => {
    client.on('message', ((data: Buffer, isBinary: boolean) => {
      received.push([data, isBinary]);
      if (received.length === messages.length) resolve();
    }) as never);
  });
  const before = socketOf().bytesRead;
  for (const [data, binary] of messages) client.send(data, { binary });
  await done;
  for (let i = 0; i < messages.length; i++) {
    const [data, binary] = messages[i];
    expect(received[i][1]).toBe(binary);
    expect(received[i][0].equals(Buffer.from(data))).toBe(true);
  }
  return socketOf().bytesRead - before;
}

function rawLength(): number {
  const text = '{"type":"chat","user":"ada","text":"hello, hello, hello everyone"}'.repeat(40);
  return text.length * 3 + 5000 + 1 + text.length * 100;
}

// Offers a client can make (ws's client options and ours have the same names).
const tri = [undefined, true];
const bits = [undefined, 8, 11, 15];
const clientOptionSets: PerMessageDeflateOptions[] = [];
for (const serverNoContextTakeover of tri)
  for (const clientNoContextTakeover of tri)
    for (const serverMaxWindowBits of bits)
      for (const clientMaxWindowBits of bits)
        clientOptionSets.push({
          serverNoContextTakeover,
          clientNoContextTakeover,
          serverMaxWindowBits,
          clientMaxWindowBits,
          threshold: 0,
        });

// Server-side choices (what the server imposes).
const serverOptionSets: PerMessageDeflateOptions[] = [
  { threshold: 0 },
  { threshold: 0, serverNoContextTakeover: true },
  { threshold: 0, clientNoContextTakeover: true },
  { threshold: 0, serverMaxWindowBits: 9 },
  { threshold: 0, clientMaxWindowBits: 10 },
  {
    threshold: 0,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 10,
    clientMaxWindowBits: 9,
    zlibDeflateOptions: { level: 1, memLevel: 4 },
  },
];

function label(o: PerMessageDeflateOptions): string {
  return (
    Object.entries(o)
      .filter(([k, v]) => v !== undefined && k !== 'threshold')
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ') || 'defaults'
  );
}

/** Undefined keys would be read by ws as "explicitly unset"; drop them. */
function clean(o: PerMessageDeflateOptions): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

describe('RFC 7692 interop: ws client -> riptide server', () => {
  for (const serverOpts of serverOptionSets) {
    it(`server ${label(serverOpts)}: every client offer (${clientOptionSets.length})`, async () => {
      const { wss, url } = await riptideServer({ perMessageDeflate: serverOpts });
      cleanups.push(() => shutdown(wss));
      wss.on('connection', (s) => echo(s as unknown as AnySocket));
      let compressed = 0;
      for (const clientOpts of clientOptionSets) {
        const c = new WS(url, { perMessageDeflate: clean(clientOpts) });
        await once(c, 'open');
        const negotiated = c.extensions as string;
        if (negotiated.includes('permessage-deflate')) {
          compressed++;
          const read = await exchange(c);
          expect(read).toBeLessThan(rawLength() / 4);
        } else {
          // Only a server-imposed client_max_window_bits that the client cannot take declines.
          expect(serverOpts.clientMaxWindowBits).toBeTypeOf('number');
          await exchange(c);
        }
        c.close();
        await once(c, 'close');
      }
      expect(compressed).toBeGreaterThan(0);
    });
  }
});

/** The offers ws's server cannot accept: it then refuses the handshake with 400. */
function wsRefuses(server: PerMessageDeflateOptions, client: PerMessageDeflateOptions): boolean {
  const offeredServerBits = client.serverMaxWindowBits;
  const offeredClientBits = client.clientMaxWindowBits;
  return (
    (typeof server.serverMaxWindowBits === 'number' &&
      typeof offeredServerBits === 'number' &&
      server.serverMaxWindowBits > offeredServerBits) ||
    (typeof server.clientMaxWindowBits === 'number' &&
      typeof offeredClientBits === 'number' &&
      offeredClientBits < server.clientMaxWindowBits)
  );
}

describe('RFC 7692 interop: riptide client -> ws server', () => {
  for (const serverOpts of serverOptionSets) {
    it(`ws server ${label(serverOpts)}: every riptide client offer (${clientOptionSets.length})`, async () => {
      const { wss, url } = await wsServer({ perMessageDeflate: clean(serverOpts) });
      cleanups.push(() => shutdown(wss));
      wss.on('connection', (s) => echo(s as unknown as AnySocket));
      let compressed = 0;
      for (const clientOpts of clientOptionSets) {
        const c = new WebSocket(url, { perMessageDeflate: clientOpts });
        const closed = once(c, 'close');
        const outcome = await Promise.race([
          once(c, 'open').then(() => null),
          once<[Error]>(c, 'error').then(([e]) => e),
        ]);
        if (wsRefuses(serverOpts, clientOpts)) {
          // ws answers 400 when it accepts none of the offers (RFC 7692 says decline instead).
          expect(outcome?.message).toBe('Unexpected server response: 400');
          await closed;
          continue;
        }
        expect(outcome).toBeNull();
        if (c.extensions.includes('permessage-deflate')) {
          compressed++;
          const read = await exchange(c);
          expect(read).toBeLessThan(rawLength() / 4);
        } else {
          await exchange(c);
        }
        c.close();
        await closed;
      }
      expect(compressed).toBeGreaterThan(clientOptionSets.length / 4);
    });
  }
});

describe('RFC 7692 interop: riptide client -> riptide server', () => {
  it('defaults: negotiated, compressed both ways, send(data, { compress: false }) still delivered', async () => {
    const { wss, url } = await riptideServer({ perMessageDeflate: { threshold: 0 } });
    cleanups.push(() => shutdown(wss));
    wss.on('connection', (s) => echo(s as unknown as AnySocket));
    const c = new WebSocket(url);
    const upgraded = once<[IncomingMessage]>(c, 'upgrade');
    await once(c, 'open');
    const [res] = await upgraded;
    // Riptide's server default: no context takeover on its side (RFC 7692 7.1.1.1).
    expect(res.headers['sec-websocket-extensions']).toBe('permessage-deflate; server_no_context_takeover');
    expect(c.extensions).toBe('permessage-deflate');
    const read = await exchange(c);
    expect(read).toBeLessThan(rawLength() / 4);
    c.send('plain', { compress: false });
    const [data] = await once<[Buffer]>(c, 'message');
    expect(data.toString()).toBe('plain');
    c.close();
    await once(c, 'close');
  });
});

describe('terminate() right after a compressed send()', () => {
  // ws compresses on the thread pool, so its terminate() drops such a message and calls its
  // callback with an error; riptide compresses at once, so what was sent before terminate()
  // leaves, as it does without compression in both (docs/node-layer.md; the differential test
  // sends those uncompressed).
  for (const side of ['client', 'server'] as const) {
    it(`the riptide ${side}'s message reaches the ws peer, then 1006; its callback succeeds`, async () => {
      const text = 'compressed before terminate '.repeat(20);
      let ours: WebSocket;
      let peer: WS;
      if (side === 'client') {
        const { wss, url } = await wsServer({ perMessageDeflate: true });
        cleanups.push(() => shutdown(wss));
        const connected = once<[WS]>(wss, 'connection');
        ours = new WebSocket(url);
        await once(ours, 'open');
        [peer] = await connected;
      } else {
        const { wss, url } = await riptideServer({ perMessageDeflate: true });
        cleanups.push(() => shutdown(wss));
        const connected = once<[WebSocket]>(wss, 'connection');
        peer = new WS(url);
        await once(peer, 'open');
        [ours] = await connected;
      }
      expect(ours.extensions).toMatch(/^permessage-deflate/);
      const got: string[] = [];
      peer.on('message', (data) => got.push(data.toString()));
      const peerClosed = once<[number]>(peer, 'close');
      const called = new Promise<Error | undefined | null>((resolve) => ours.send(text, resolve));
      ours.terminate();
      expect((await peerClosed)[0]).toBe(1006);
      expect(got).toEqual([text]);
      expect(await called).toBeFalsy();
    });
  }
});

describe("what arrived before the peer's FIN is delivered, though it takes several inflate slices", () => {
  // A 4 MiB message compresses to about 14 KB: it arrives in one read, with the frames behind it
  // and the FIN, and takes 16 inflate slices (one per turn). ws 8 delivers it all and then
  // 'close' (its 'close' waits for its receiver); riptide discarded what was not inflated yet
  // when the transport ended, so the message and the close frame were lost (1006). A server
  // that has answered the client's close closes at once (RFC 6455 7.1.1), so this is the usual
  // end of a client that closes while a large message is on its way.
  const MiB = 1024 * 1024;
  const BIG = Buffer.alloc(4 * MiB);
  {
    const line = Buffer.from('{"id":12345,"user":"ada","text":"a large and very compressible message"}\n');
    for (let at = 0; at < BIG.length; at += line.length) line.copy(BIG, at);
  }
  /** RFC 7692 7.2.1: the message compressed, the 00 00 ff ff tail removed. */
  const compressed = (() => {
    const out = zlib.deflateRawSync(BIG, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return out.subarray(0, out.length - 4);
  })();
  /** An unmasked (server) frame: FIN, the RSV1 bit as given, a 16-bit length at most. */
  function serverFrame(opcode: number, payload: Buffer, rsv1 = false): Buffer {
    const head =
      payload.length < 126
        ? Buffer.from([0x80 | (rsv1 ? 0x40 : 0) | opcode, payload.length])
        : Buffer.from([0x80 | (rsv1 ? 0x40 : 0) | opcode, 126, payload.length >> 8, payload.length & 0xff]);
    return Buffer.concat([head, payload]);
  }
  const CLOSE_1000 = Buffer.from([0x03, 0xe8]);

  /** A raw server: 101 with permessage-deflate, then the message (`first`), 'after', a close frame, and its end. */
  async function rawServer(
    how: 'end' | 'destroy',
    first = serverFrame(2, compressed, true),
  ): Promise<string> {
    const srv = net.createServer((socket) => {
      let head = '';
      socket.on('data', (chunk) => {
        if (head.includes('\r\n\r\n')) return;
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const key = /sec-websocket-key: *(.*)\r\n/i.exec(head)![1];
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
        );
        socket.write(
          Buffer.concat([first, serverFrame(1, Buffer.from('after')), serverFrame(8, CLOSE_1000)]),
        );
        if (how === 'end') socket.end();
        else socket.destroy();
      });
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
    return `ws://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  }

  // allowSynchronousEvents: false pauses the parser after each message until a setImmediate:
  // the pause after the large message's last slice must not end the input the FIN left waiting
  // (the text and the close frame behind it were discarded: 1006).
  for (const sync of [true, false]) {
    for (const how of ['end', 'destroy'] as const) {
      for (const kind of ['ws 8', 'riptide'] as const) {
        it(`test_client_receives a 4 MiB compressed message, a text, the close frame and the FIN in one go (the server ${how}s, allowSynchronousEvents: ${sync}): ${kind} delivers both, then 1000`, async () => {
          const url = await rawServer(how);
          const options = { allowSynchronousEvents: sync };
          const client = kind === 'ws 8' ? new WS(url, options) : new WebSocket(url, options);
          cleanups.push(() => client.terminate());
          const got: Buffer[] = [];
          client.on('message', (data: Buffer) => got.push(data));
          const [code] = await once<[number]>(client as WebSocket, 'close');
          expect(got).toHaveLength(2);
          expect(got[0].equals(BIG)).toBe(true);
          expect(got[1].toString()).toBe('after');
          expect(code).toBe(1000);
        });
      }
    }
  }

  // A pause() while the input left by the transport's end is delivered (from a 'message'
  // listener; createWebSocketStream does it under backpressure) holds the rest AND 'close' until
  // resume(), as a pause() before the end does (the transport is not read, so its end is not
  // seen). That input was dropped and 'close' was 1006: the peer's last messages and its close
  // frame lost. ws 8 delivers them (its pause() only stops reading the transport): same result
  // here once resumed. terminate() and close() end the wait (1006, held input dropped), and the
  // zlib contexts are released when 'close' comes.
  /** Resolves once `client`'s transport has closed: from then on, the end is no longer read. */
  function transportClosed(client: WebSocket | WS): Promise<void> {
    const socket = (client as unknown as { _socket: net.Socket })._socket;
    return socket.closed ? Promise.resolve() : once(socket, 'close').then(() => undefined);
  }
  /** Lets what is already queued (a next slice, a deferred event: setImmediate) run first. */
  async function turns(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const pauseCases = [
    { sync: true, large: true },
    { sync: false, large: true },
    { sync: false, large: false },
  ];
  for (const { sync, large } of pauseCases) {
    for (const how of ['end', 'destroy'] as const) {
      for (const kind of ['ws 8', 'riptide'] as const) {
        it(`test_client_paused after the ${large ? '4 MiB compressed' : 'small'} message while the input left by the FIN is delivered (the server ${how}s, allowSynchronousEvents: ${sync}): ${kind} gives 'after' then 1000 once resumed (riptide holds both until resume())`, async () => {
          const before = liveZlibContexts() - pooledZlibContexts();
          const first = large ? serverFrame(2, compressed, true) : serverFrame(1, Buffer.from('first'));
          const url = await rawServer(how, first);
          const options = { allowSynchronousEvents: sync };
          const client = kind === 'ws 8' ? new WS(url, options) : new WebSocket(url, options);
          cleanups.push(() => client.terminate());
          const got: Buffer[] = [];
          const events: string[] = [];
          let paused!: () => void;
          const pausedNow = new Promise<void>((resolve) => (paused = resolve));
          client.on('message', (data: Buffer) => {
            got.push(data);
            events.push('message');
            if (got.length === 1) {
              client.pause();
              paused();
            }
          });
          const closed = once<[number]>(client as WebSocket, 'close');
          client.on('close', () => events.push('close'));
          await pausedNow;
          // The barrier: the transport has closed and what was queued behind the pause has run.
          await transportClosed(client);
          await turns(4);
          // ws 8 has delivered the rest already (its pause() does not hold parsed input); riptide
          // holds it, 'close' too.
          if (kind === 'riptide') {
            expect(events).toEqual(['message']);
            expect(client.readyState).toBe(WebSocket.CLOSING);
          } else {
            expect(events).toEqual(['message', 'message', 'close']);
          }
          client.resume();
          const [code] = await closed;
          expect(got).toHaveLength(2);
          expect(got[0].equals(large ? BIG : Buffer.from('first'))).toBe(true);
          expect(got[1].toString()).toBe('after');
          expect(code).toBe(1000);
          expect(events).toEqual(['message', 'message', 'close']);
          if (kind === 'riptide') expect(liveZlibContexts() - pooledZlibContexts()).toBe(before);
        });
      }
    }
  }

  // The same through createWebSocketStream: push() returning false pauses the socket, and a
  // consumer that reads only after the transport has closed still gets every byte, then 'end'.
  for (const { sync, large } of pauseCases) {
    for (const kind of ['ws 8', 'riptide'] as const) {
      it(`test_client_stream read slowly after the ${large ? '4 MiB compressed' : 'small'} message, 'after', the close frame and the FIN came at once (allowSynchronousEvents: ${sync}): ${kind} gives every byte, then 'end' and 1000`, async () => {
        const before = liveZlibContexts() - pooledZlibContexts();
        const first = large ? serverFrame(2, compressed, true) : serverFrame(1, Buffer.from('first'));
        const url = await rawServer('end', first);
        const options = { allowSynchronousEvents: sync };
        const client = kind === 'ws 8' ? new WS(url, options) : new WebSocket(url, options);
        cleanups.push(() => client.terminate());
        const stream =
          kind === 'ws 8'
            ? wsCreateWebSocketStream(client as WS, { readableHighWaterMark: 1 })
            : createWebSocketStream(client as WebSocket, { readableHighWaterMark: 1 });
        stream.on('error', () => {});
        const closed = once<[number]>(client as WebSocket, 'close');
        // Nothing is read until the first message was pushed (the stream paused the socket), the
        // transport has closed and what was queued has run.
        const firstPushed = once(client as WebSocket, 'message');
        await firstPushed;
        expect(stream.readableLength).toBeGreaterThan(0);
        await transportClosed(client);
        await turns(4);
        const chunks: Buffer[] = [];
        const ended = once(stream, 'end');
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        await ended;
        const [code] = await closed;
        const want = Buffer.concat([large ? BIG : Buffer.from('first'), Buffer.from('after')]);
        expect(Buffer.concat(chunks).equals(want)).toBe(true);
        expect(code).toBe(1000);
        if (kind === 'riptide') expect(liveZlibContexts() - pooledZlibContexts()).toBe(before);
      });
    }
  }

  // CloseEvent.wasClean (RFC 6455 7.1.4/7.1.5): both close frames exchanged, ours written. A
  // client that parses the server's close frame only after the transport ended (it waited behind
  // the large message's slices, or behind deferred events) cannot write its answer: not clean
  // (it read true: the answer had been queued). Parsed before the end, the answer is written:
  // clean. ws 8 (its _closeFrameSent is set in the write's callback) gives the same.
  const cleanCases = [
    { large: true, sync: true, clean: false },
    { large: false, sync: false, clean: false },
    { large: false, sync: true, clean: true },
  ];
  for (const { large, sync, clean } of cleanCases) {
    for (const how of ['end', 'destroy'] as const) {
      for (const kind of ['ws 8', 'riptide'] as const) {
        it(`test_client_wasClean is ${clean} when the server's close frame is parsed ${clean ? 'before' : 'after'} its FIN (${large ? '4 MiB compressed' : 'small'} message first, allowSynchronousEvents: ${sync}, the server ${how}s): ${kind}`, async () => {
          const first = large ? serverFrame(2, compressed, true) : serverFrame(1, Buffer.from('first'));
          const url = await rawServer(how, first);
          const options = { allowSynchronousEvents: sync };
          const client = kind === 'ws 8' ? new WS(url, options) : new WebSocket(url, options);
          cleanups.push(() => client.terminate());
          const event = new Promise<{ code: number; wasClean: boolean }>((resolve) =>
            (client as WebSocket).addEventListener('close', (e) =>
              resolve({ code: e.code, wasClean: e.wasClean }),
            ),
          );
          const { code, wasClean } = await event;
          expect(code).toBe(1000);
          expect(wasClean).toBe(clean);
        });
      }
    }
  }

  for (const end of ['terminate', 'close'] as const) {
    it(`test_client_paused while the input left by the FIN is delivered, then ${end}(): the wait ends, 1006, the held input dropped, zlib released`, async () => {
      const before = liveZlibContexts() - pooledZlibContexts();
      const url = await rawServer('end');
      const client = new WebSocket(url);
      cleanups.push(() => client.terminate());
      const got: Buffer[] = [];
      let paused!: () => void;
      const pausedNow = new Promise<void>((resolve) => (paused = resolve));
      client.on('message', (data: Buffer) => {
        got.push(data);
        client.pause();
        paused();
      });
      let closes = 0;
      client.on('close', () => closes++);
      const closed = once<[number, Buffer]>(client, 'close');
      await pausedNow;
      await transportClosed(client);
      await turns(4);
      expect(closes).toBe(0);
      client[end]();
      const [code, reason] = await closed;
      expect(code).toBe(1006);
      expect(reason.length).toBe(0);
      expect(client.readyState).toBe(WebSocket.CLOSED);
      expect(got).toHaveLength(1);
      expect(got[0].equals(BIG)).toBe(true);
      expect(liveZlibContexts() - pooledZlibContexts()).toBe(before);
      // A later resume() delivers nothing: the held input was dropped.
      client.resume();
      await turns(4);
      expect(got).toHaveLength(1);
      expect(closes).toBe(1);
    });
  }

  // The close timer runs during that delivery (each slice's flush arms it: our side has ended, at
  // the peer's FIN) and, per the docs, ends a held wait as terminate() does. It reported
  // WS_ERR_CLOSE_TIMEOUT and dropped the held input, but waited for the transport's 'close', which
  // had already come: 'close' never came without a resume().
  it("test_client_paused while the input left by the FIN is delivered, then the close timer fires: 'close' 1006 without resume(), zlib released", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const before = liveZlibContexts() - pooledZlibContexts();
      const url = await rawServer('end');
      const client = new WebSocket(url, { closeTimeout: 1000 });
      cleanups.push(() => client.terminate());
      const got: Buffer[] = [];
      let paused!: () => void;
      const pausedNow = new Promise<void>((resolve) => (paused = resolve));
      client.on('message', (data: Buffer) => {
        got.push(data);
        client.pause();
        paused();
      });
      const errors: Error[] = [];
      client.on('error', (e) => errors.push(e));
      let closes = 0;
      let code = 0;
      client.on('close', (c: number) => {
        closes++;
        code = c;
      });
      await pausedNow;
      await transportClosed(client);
      await turns(4);
      expect(closes).toBe(0);
      vi.advanceTimersByTime(1000);
      await turns(2);
      expect(errors).toMatchObject([{ code: 'WS_ERR_CLOSE_TIMEOUT' }]);
      expect(closes).toBe(1);
      expect(code).toBe(1006);
      expect(client.readyState).toBe(WebSocket.CLOSED);
      expect(got).toHaveLength(1);
      expect(liveZlibContexts() - pooledZlibContexts()).toBe(before);
    } finally {
      vi.useRealTimers();
    }
  });

  // Without slices: a message, 'after' and the close frame in the read that brings the FIN.
  // allowSynchronousEvents: false holds 'after' and the close frame for a setImmediate each; the
  // transport's end discarded what the deferred events held (1006; before the changes to the
  // end of input too).
  for (const how of ['end', 'destroy'] as const) {
    for (const kind of ['ws 8', 'riptide'] as const) {
      it(`test_client_receives a small message, a text, the close frame and the FIN in one go with allowSynchronousEvents: false (the server ${how}s): ${kind} delivers both, then 1000`, async () => {
        const url = await rawServer(how, serverFrame(1, Buffer.from('first')));
        const options = { allowSynchronousEvents: false };
        const client = kind === 'ws 8' ? new WS(url, options) : new WebSocket(url, options);
        cleanups.push(() => client.terminate());
        const got: string[] = [];
        client.on('message', (data: Buffer) => got.push(data.toString()));
        const [code] = await once<[number]>(client as WebSocket, 'close');
        expect(got).toEqual(['first', 'after']);
        expect(code).toBe(1000);
      });
    }
  }

  // The server's side of the same, a guard: a plain TCP server socket reads in Node's onread
  // mode, where a pause between slices stops reading, so its FIN is seen after the last slice.
  it('test_server_receives the same from a client that half-closes at once: both delivered, then 1000', async () => {
    const { wss, port } = await riptideServer({ perMessageDeflate: true });
    cleanups.push(() => shutdown(wss));
    const connected = once<[WebSocket]>(wss, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(() => {
      socket.destroy();
    });
    await once(socket, 'connect');
    socket.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
    );
    const [ws] = await connected;
    const got: Buffer[] = [];
    ws.on('message', (data) => got.push(data as Buffer));
    const closed = once<[number]>(ws, 'close');
    const first = clientFrame(2, compressed);
    first[0] |= 0x40; // RSV1: compressed (RFC 7692 6.1)
    socket.end(Buffer.concat([first, clientFrame(1, 'after'), clientFrame(8, CLOSE_1000)]));
    socket.resume();
    const [code] = await closed;
    expect(got).toHaveLength(2);
    expect(got[0].equals(BIG)).toBe(true);
    expect(got[1].toString()).toBe('after');
    expect(code).toBe(1000);
  });
});

describe('RFC 6455 10.4 maxPayload applies after decompression (over the wire)', () => {
  it('test_server_receives_10MB_message_compressed_to_10KB_with_maxPayload_1MB: 1009', async () => {
    const { wss, url } = await riptideServer({ perMessageDeflate: true, maxPayload: 1024 * 1024 });
    cleanups.push(() => shutdown(wss));
    const serverErrors: Error[] = [];
    wss.on('connection', (s) => s.on('error', (e) => serverErrors.push(e)));
    const c = new WS(url, { perMessageDeflate: true });
    await once(c, 'open');
    c.send(Buffer.alloc(10 * 1024 * 1024));
    const [code] = await once<[number]>(c, 'close');
    expect(code).toBe(1009);
    expect(serverErrors.map((e) => (e as Error & { code: string }).code)).toEqual([
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
    ]);
  });

  it('test_client_receives_compressed_bomb_with_maxPayload: fails with 1009', async () => {
    const { wss, url } = await wsServer({ perMessageDeflate: true });
    cleanups.push(() => shutdown(wss));
    const serverSaw = new Promise<number>((resolve) =>
      wss.on('connection', (s) => {
        s.on('close', (code) => resolve(code));
        s.send(Buffer.alloc(10 * 1024 * 1024));
      }),
    );
    const c = new WebSocket(url, { maxPayload: 1024 * 1024 });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await once(c, 'close');
    expect(errors.map((e) => (e as Error & { code: string }).code)).toEqual([
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
    ]);
    expect(await serverSaw).toBe(1009);
  });
});

// ---- raw sockets: RSV1 on the wire and one byte at a time ----

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

async function readHead(socket: net.Socket): Promise<[string, Buffer]> {
  let buf = Buffer.alloc(0);
  while (buf.indexOf('\r\n\r\n') === -1) {
    const [chunk] = await once<[Buffer]>(socket, 'data');
    buf = Buffer.concat([buf, chunk]);
  }
  const end = buf.indexOf('\r\n\r\n') + 4;
  return [buf.subarray(0, end).toString('latin1'), buf.subarray(end)];
}

/**
 * A raw TCP client (destroyed after the test) that has sent an upgrade request offering
 * `extensions`: the response head and the bytes that came after it.
 */
async function rawUpgrade(
  port: number,
  extensions: string,
): Promise<{ socket: net.Socket; head: string; rest: Buffer }> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`,
  );
  const [head, rest] = await readHead(socket);
  return { socket, head, rest };
}

/**
 * A raw TCP server (closed after the test) that answers every upgrade request with a 101 carrying
 * `Sec-WebSocket-Extensions: extensions`, then hands the socket to `then`. Returns its port and the
 * request heads it received, in order.
 */
async function rawServerAnswering(
  extensions: string,
  then: (socket: net.Socket) => Promise<void> | void = () => {},
): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const server = net.createServer(async (socket) => {
    socket.on('error', () => {});
    const [head] = await readHead(socket);
    heads.push(head);
    const key = /sec-websocket-key: *(\S+)/i.exec(head)![1];
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`,
    );
    await then(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as net.AddressInfo).port, heads };
}

function frame(first: number, payload: Buffer, mask: boolean): Buffer {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const len = payload.length;
  const header =
    len < 126
      ? Buffer.from([first, (mask ? 0x80 : 0) | len])
      : Buffer.from([first, (mask ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  if (!mask) return Buffer.concat([header, payload]);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([header, key, masked]);
}

/** The payload of "Hello, fragments!" x 20, compressed, tail removed, cut into three fragments. */
function fragmentedMessage(mask: boolean): { text: string; bytes: Buffer } {
  const text = 'Hello, fragments! '.repeat(20);
  const deflated = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const payload = deflated.subarray(0, deflated.length - 4);
  const a = payload.subarray(0, 5);
  const b = payload.subarray(5, 9);
  const c = payload.subarray(9);
  // RFC 7692 6: RSV1 on the first frame only; continuation frames have RSV1 clear.
  const bytes = Buffer.concat([frame(0x41, a, mask), frame(0x00, b, mask), frame(0x80, c, mask)]);
  return { text, bytes };
}

async function writeByteByByte(socket: net.Socket, bytes: Buffer): Promise<void> {
  socket.setNoDelay(true);
  for (let i = 0; i < bytes.length; i++) {
    socket.write(bytes.subarray(i, i + 1));
    // No wait after the last byte: the reply may come at once, and the caller must have its
    // 'data' listener attached by then (a flowing socket drops data nobody listens to).
    if (i < bytes.length - 1) await new Promise((r) => setTimeout(r, 1));
  }
}

/** Reads one unmasked server frame with a short header (tests keep replies under 126 bytes). */
async function readFrame(socket: net.Socket, initial: Buffer): Promise<[frame: Buffer, rest: Buffer]> {
  let buf = initial;
  while (buf.length < 2 || buf.length < 2 + (buf[1] & 0x7f)) {
    const [chunk] = await once<[Buffer]>(socket, 'data');
    buf = Buffer.concat([buf, chunk]);
  }
  const end = 2 + (buf[1] & 0x7f);
  return [buf.subarray(0, end), buf.subarray(end)];
}

describe('RFC 7692 6 fragmented compressed messages, one byte at a time', () => {
  it('test_server_receives_fragments_one_byte_at_a_time; replies with and without compress', async () => {
    const { wss, port } = await riptideServer({ perMessageDeflate: { threshold: 0 } });
    cleanups.push(() => shutdown(wss));
    wss.on('connection', (s) => {
      s.on('message', (data) => {
        s.send(`${(data as Buffer).length}:${data.toString() === fragmentedMessage(true).text}`, {
          compress: false,
        });
        s.send('ok');
      });
    });
    const { socket, head, rest } = await rawUpgrade(port, 'permessage-deflate; client_max_window_bits');
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toMatch(/\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n/i);
    const { text, bytes } = fragmentedMessage(true);
    await writeByteByByte(socket, bytes);
    const [plain, after] = await readFrame(socket, rest);
    // 0x81: FIN + text, RSV1 clear (compress: false).
    expect(plain[0]).toBe(0x81);
    expect(plain.subarray(2).toString()).toBe(`${text.length}:true`);
    const [compressed] = await readFrame(socket, after);
    // 0xc1: FIN + RSV1 + text, and the RFC 7692 7.2.3.1 form of "ok".
    expect(compressed[0]).toBe(0xc1);
    const inflated = zlib.inflateRawSync(
      Buffer.concat([compressed.subarray(2), Buffer.from([0, 0, 0xff, 0xff])]),
      {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      },
    );
    expect(inflated.toString()).toBe('ok');
  });

  it('test_client_receives_fragments_one_byte_at_a_time', async () => {
    const { text, bytes } = fragmentedMessage(false);
    const { port, heads } = await rawServerAnswering(
      'permessage-deflate; server_no_context_takeover',
      async (socket) => {
        await writeByteByByte(socket, bytes);
        await writeByteByByte(socket, bytes);
      },
    );
    const c = new WebSocket(`ws://127.0.0.1:${port}`);
    cleanups.push(() => c.terminate());
    const got: string[] = [];
    const done = new Promise<void>((resolve) =>
      c.on('message', (data) => {
        got.push(data.toString());
        if (got.length === 2) resolve();
      }),
    );
    await once(c, 'open');
    expect(heads).toHaveLength(1);
    expect(heads[0]).toMatch(/\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n/i);
    expect(c.extensions).toBe('permessage-deflate'); // ws 8's value: the name only
    await done;
    expect(got).toEqual([text, text]);
  });

  it('test_client_fails_on_invalid_extension_response: HandshakeError, no throw', async () => {
    const { port } = await rawServerAnswering('permessage-deflate; server_max_window_bits=16');
    const c = new WebSocket(`ws://127.0.0.1:${port}`);
    const closed = once<[number]>(c, 'close');
    const [err] = await once<[Error & { code: string }]>(c, 'error');
    expect(err.code).toBe('WS_ERR_HANDSHAKE_EXTENSION_RESPONSE');
    expect(err.message).toBe('Invalid Sec-WebSocket-Extensions header');
    expect((err.cause as Error).message).toBe(
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    );
    expect((await closed)[0]).toBe(1006);
  });
});

describe("the client's ws.extensions after the server accepted", () => {
  // ws 8's getter lists the names of its extension objects: always 'permessage-deflate'. Riptide
  // read them out of the server's header, so its spelling and its empty list elements showed.
  for (const header of [
    'PERMESSAGE-DEFLATE',
    'permessage-deflate, ',
    ', Permessage-Deflate; server_no_context_takeover',
  ]) {
    it(`test_client_extensions_is_permessage-deflate when the server answers ${JSON.stringify(header)}`, async () => {
      const { port } = await rawServerAnswering(header);
      const c = new WebSocket(`ws://127.0.0.1:${port}`);
      cleanups.push(() => c.terminate());
      await once(c, 'open');
      expect(c.extensions).toBe('permessage-deflate');
    });
  }
});

// ws 8.23.1 reads a window-bits value as RFC 7692 7.1.2.1/7.1.2.2 spell it: the digits 8 to 15,
// no leading zero (ws 8.23.0's `+value` let 08, 9.0, 0x9 and 1e1 through). Each value goes to both
// libraries; what riptide agrees to must be what ws agrees to. Where ws refuses, a ws server
// answers 400 and a riptide server declines the offer (101 without the extension, a deliberate
// difference: docs/node-layer.md), so the comparison is whether permessage-deflate was agreed.
describe('RFC 7692 7.1.2 window bits values, against ws', () => {
  const values = [
    '8',
    '9',
    '15',
    '"10"',
    '08',
    '09',
    '010',
    '"08"',
    '9.0',
    '"9.0"',
    '0x9',
    '1e1',
    '+9',
    '7',
    '16',
  ];
  const agreed = (head: string) =>
    head.startsWith('HTTP/1.1 101 ') && /\r\nsec-websocket-extensions: permessage-deflate/i.test(head);

  it.each(['server_max_window_bits', 'client_max_window_bits'])(
    'a server reads %s in an offer as ws does',
    async (name) => {
      const riptide = await riptideServer({ perMessageDeflate: true });
      const ws = await wsServer({ perMessageDeflate: true });
      cleanups.push(
        () => shutdown(riptide.wss),
        () => shutdown(ws.wss),
      );
      const rows: string[] = [];
      const expected: string[] = [];
      for (const value of values) {
        const offer = `permessage-deflate; ${name}=${value}`;
        expected.push(`${value}: ${agreed((await rawUpgrade(ws.port, offer)).head)}`);
        rows.push(`${value}: ${agreed((await rawUpgrade(riptide.port, offer)).head)}`);
      }
      expect(rows).toEqual(expected);
      expect(expected.filter((row) => row.endsWith('true'))).toEqual([
        '8: true',
        '9: true',
        '15: true',
        '"10": true',
      ]);
    },
  );

  it.each(['server_max_window_bits', 'client_max_window_bits'])(
    'a client reads %s in a response as ws does',
    async (name) => {
      const rows: string[] = [];
      const expected: string[] = [];
      for (const value of values) {
        const { port } = await rawServerAnswering(`permessage-deflate; ${name}=${value}`);
        for (const [Client, out] of [
          [WS, expected],
          [WebSocket, rows],
        ] as const) {
          // The two constructors take the same arguments; their union type is not constructible.
          const c = new (Client as typeof WS)(`ws://127.0.0.1:${port}`, { perMessageDeflate: true });
          c.on('error', () => {});
          const outcome = await new Promise<string>((resolve) => {
            c.on('open', () => resolve('open'));
            c.on('close', () => resolve('failed'));
          });
          c.terminate();
          out.push(`${value}: ${outcome}`);
        }
      }
      expect(rows).toEqual(expected);
      expect(expected.filter((row) => row.endsWith('open'))).toEqual([
        '8: open',
        '9: open',
        '15: open',
        '"10": open',
      ]);
    },
  );
});

describe('perMessageDeflate at the API boundary', () => {
  it('bad values throw UsageError from the constructors, naming the key', () => {
    const cases: Array<[unknown, string]> = [
      [
        { serverMaxWindowBits: 7 },
        'Invalid perMessageDeflate option "serverMaxWindowBits": must be a boolean or an integer from 8 to 15',
      ],
      [{ threshold: '5' }, 'Invalid perMessageDeflate option "threshold": must be a number'],
      // Keys it does not know are ignored (ws 8), the known ones next to them still checked.
      [
        { flush: 2, zlibDeflateOptions: { flush: 2, level: 10 } },
        'Invalid perMessageDeflate option "zlibDeflateOptions.level": must be an integer from -1 to 9',
      ],
    ];
    for (const [perMessageDeflate, message] of cases) {
      expect(() => new WebSocketServer({ noServer: true, perMessageDeflate } as never)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'WS_ERR_INVALID_OPTION', message }),
      );
      expect(() => new WebSocket('ws://127.0.0.1:1', { perMessageDeflate } as never)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'WS_ERR_INVALID_OPTION', message }),
      );
    }
  });
});

describe('zlib contexts are released with their connections', () => {
  it('test_no_zlib_context_leaks_after_clean_close_terminate_and_peer_drop', async () => {
    clearZlibPool();
    const before = liveZlibContexts();
    // serverNoContextTakeover: false (ws's behaviour) so that every connection holds contexts.
    const { wss, url } = await riptideServer({
      perMessageDeflate: { threshold: 0, serverNoContextTakeover: false },
    });
    cleanups.push(() => shutdown(wss));
    const serverClosed: Promise<unknown>[] = [];
    wss.on('connection', (s) => {
      serverClosed.push(once(s, 'close'));
      echo(s as unknown as AnySocket);
    });
    // WS, ws's type: a riptide WebSocket is assignable to it (test/types.test.ts).
    const clients: WS[] = [];
    for (let i = 0; i < 12; i++) {
      const c: WS = i % 2 === 0 ? new WebSocket(url) : new WS(url, { perMessageDeflate: true });
      await once(c as never, 'open');
      c.send('hello there, compress me '.repeat(200)); // above every default threshold
      await once(c as never, 'message');
      clients.push(c);
    }
    // Riptide clients: 2 contexts each (context takeover both ways), and the server side too.
    expect(liveZlibContexts() - before).toBe(6 * 2 + 12 * 2);
    for (let i = 0; i < clients.length; i++) {
      const c = clients[i];
      if (i % 3 === 0) c.close();
      else if (i % 3 === 1) c.terminate();
      else (c as unknown as { _socket: net.Socket })._socket.destroy();
    }
    await Promise.all(serverClosed);
    await Promise.all(clients.map((c) => (c.readyState === 3 ? null : once(c as never, 'close'))));
    expect(liveZlibContexts() - pooledZlibContexts()).toBe(before);
  });
});

describe('threshold on the wire', () => {
  // ws 8 compares a message with `threshold` only when its side has no context takeover
  // (sender.js); with context takeover it compresses every message. Both servers, same options.
  for (const [name, start] of [
    ['ws', wsServer],
    ['riptide', riptideServer],
  ] as const) {
    it(`test_${name}_server_with_context_takeover_compresses_short_messages: RSV1 set under the threshold`, async () => {
      const { wss, port } = await start({ perMessageDeflate: { serverNoContextTakeover: false } });
      cleanups.push(() => shutdown(wss as never));
      (wss as unknown as WebSocketServer).on('connection', (s) => {
        s.send('a'.repeat(100));
        s.send('');
        s.send('b'.repeat(100), { compress: false });
      });
      const { socket, head, rest } = await rawUpgrade(port, 'permessage-deflate');
      expect(head).toMatch(/\r\nsec-websocket-extensions: permessage-deflate\r\n/i);
      const [short, after] = await readFrame(socket, rest);
      expect(short[0]).toBe(0xc1);
      expect(short.length).toBeLessThan(2 + 100);
      const [empty, last] = await readFrame(socket, after);
      expect(toHexString(empty)).toBe('c10100');
      const [plain] = await readFrame(socket, last);
      expect(plain[0]).toBe(0x81);
      expect(plain.length).toBe(2 + 100);
    });
  }

  // ws 8 sets RSV1 from `options.compress` by truthiness; riptide did so only for `false`. An
  // `undefined` compress is "not given" in riptide (compressed), where ws's spread makes it falsy.
  for (const [name, start] of [
    ['ws', wsServer],
    ['riptide', riptideServer],
  ] as const) {
    it(`test_${name}_server_send_with_a_falsy_compress_is_uncompressed, a truthy one compressed`, async () => {
      const { wss, port } = await start({ perMessageDeflate: { threshold: 0 } });
      cleanups.push(() => shutdown(wss as never));
      const values: unknown[] = [null, 0, '', false, 1, 'yes', true];
      (wss as unknown as WebSocketServer).on('connection', (s) => {
        for (const compress of values) s.send('c'.repeat(100), { compress } as never);
      });
      const { socket, rest } = await rawUpgrade(port, 'permessage-deflate');
      const firstBytes: number[] = [];
      let buf = rest;
      for (const _ of values) {
        const [frameBytes, after] = await readFrame(socket, buf);
        firstBytes.push(frameBytes[0]);
        buf = after;
      }
      expect(firstBytes).toEqual([0x81, 0x81, 0x81, 0x81, 0xc1, 0xc1, 0xc1]);
    });
  }

  it('test_riptide_client_with_context_takeover_compresses_short_messages, as the ws client does', async () => {
    const firstBytes: Record<string, number> = {};
    const clients: Array<[string, (url: string) => unknown]> = [
      ['ws', (url) => new WS(url)],
      ['riptide', (url) => new WebSocket(url)],
    ];
    for (const [name, connect] of clients) {
      const got = new Promise<Buffer>((resolve) => {
        void rawServerAnswering('permessage-deflate', async (socket) => {
          const [frameBytes] = await readMaskedFrame(socket);
          resolve(frameBytes);
        }).then(({ port }) => {
          const client = connect(`ws://127.0.0.1:${port}`) as AnySocket & { terminate(): void };
          cleanups.push(() => client.terminate());
          client.on('open', () => client.send('x'.repeat(20), { binary: false }));
        });
      });
      firstBytes[name] = (await got)[0];
    }
    expect(firstBytes).toEqual({ ws: 0xc1, riptide: 0xc1 });
  });

  it('test_server_sends_below_threshold_uncompressed: RSV1 clear under 1024 bytes, set at 1024', async () => {
    const { wss, port } = await riptideServer({ perMessageDeflate: true });
    cleanups.push(() => shutdown(wss));
    wss.on('connection', (s) => {
      s.send('a'.repeat(100));
      s.send('b'.repeat(1024));
    });
    const { socket, rest } = await rawUpgrade(port, 'permessage-deflate');
    const [small, after] = await readFrame(socket, rest);
    expect(small[0]).toBe(0x81);
    expect(small.length).toBe(2 + 100);
    const [big] = await readFrame(socket, after);
    expect(big[0]).toBe(0xc1);
    expect(big.length).toBeLessThan(30);
  });
});

function toHexString(buf: Buffer): string {
  return buf.toString('hex');
}

/** Reads one masked client frame with a short header (the tests keep it under 126 bytes). */
async function readMaskedFrame(socket: net.Socket): Promise<[frame: Buffer]> {
  let buf = Buffer.alloc(0);
  while (buf.length < 6 || buf.length < 6 + (buf[1] & 0x7f)) {
    const [chunk] = await once<[Buffer]>(socket, 'data');
    buf = Buffer.concat([buf, chunk]);
  }
  return [buf.subarray(0, 6 + (buf[1] & 0x7f))];
}
