import { readFileSync } from 'node:fs';
import https from 'node:https';
import type * as net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WS, { WebSocketServer as WsServer } from 'ws';
import {
  HandshakeError,
  RiptideError,
  WebSocketServer as RiptideServer,
  UsageError,
  WebSocket,
} from '../../src/index.js';
import {
  clientFrame,
  collectUntilClose,
  duplexClient,
  duplexPair,
  once,
  parseFrames,
  rawClient,
  refusedPort,
  riptideServer,
  shutdown,
  until,
  watchTeardown,
  wsServer,
} from './helpers.js';

type AnyServer = { close(cb?: () => void): void; clients?: Set<{ terminate(): void }> };
const servers: AnyServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of servers.splice(0)) await shutdown(s);
});

// Both directions: riptide server with the ws client, ws server with the riptide client.
const pairs = [
  {
    name: 'riptide server, ws client',
    server: async () => riptideServer(),
    client: (url: string) => new WS(url),
  },
  {
    name: 'ws server, riptide client',
    server: async () => wsServer(),
    client: (url: string) => new WebSocket(url),
  },
] as const;

// biome-ignore lint/suspicious/noExplicitAny: the two libraries' socket types differ only in name
type Sock = any;

for (const pair of pairs) {
  describe(`interop (${pair.name})`, () => {
    async function connect(): Promise<{ server: Sock; client: Sock }> {
      const { wss, url } = await pair.server();
      servers.push(wss as AnyServer);
      const serverSide = once<[Sock]>(wss, 'connection');
      const client = pair.client(url);
      await once(client, 'open');
      const [server] = await serverSide;
      return { server, client };
    }

    function nextMessage(ws: Sock): Promise<[Buffer, boolean]> {
      return once<[Buffer, boolean]>(ws, 'message');
    }

    describe('RFC 6455 5.6 data frames', () => {
      const sizes = [0, 1, 125, 126, 65535, 65536, 16 * 1024 * 1024];
      for (const size of sizes) {
        it(`binary ${size} bytes, both ways`, async () => {
          const { server, client } = await connect();
          const payload = Buffer.alloc(size);
          for (let i = 0; i < size; i += 997) payload[i] = i & 0xff;
          const atServer = nextMessage(server);
          client.send(payload);
          const [got, isBinary] = await atServer;
          expect(isBinary).toBe(true);
          expect(got.equals(payload)).toBe(true);
          const atClient = nextMessage(client);
          server.send(payload);
          const [back, isBinary2] = await atClient;
          expect(isBinary2).toBe(true);
          expect(back.equals(payload)).toBe(true);
        });
      }

      it('text, including empty and multi-byte UTF-8, arrives as a Buffer with isBinary false', async () => {
        const { server, client } = await connect();
        for (const text of ['', 'hello', 'héllo wörld ✓ 🌊', 'x'.repeat(70000)]) {
          const atServer = nextMessage(server);
          client.send(text);
          const [got, isBinary] = await atServer;
          expect(isBinary).toBe(false);
          expect(Buffer.isBuffer(got)).toBe(true);
          expect(got.toString()).toBe(text);
          const atClient = nextMessage(client);
          server.send(text);
          const [back, isBinary2] = await atClient;
          expect(isBinary2).toBe(false);
          expect(back.toString()).toBe(text);
        }
      });

      it('messages keep their order', async () => {
        const { server, client } = await connect();
        const got: string[] = [];
        const done = new Promise<void>((resolve) =>
          server.on('message', (d: Buffer) => {
            got.push(d.toString());
            if (got.length === 1000) resolve();
          }),
        );
        for (let i = 0; i < 1000; i++) client.send(String(i));
        await done;
        expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
      });
    });

    describe('RFC 6455 5.4 fragmentation', () => {
      it('send(..., { fin: false }) builds one message from fragments', async () => {
        const { server, client } = await connect();
        const atClient = nextMessage(client);
        server.send('frag', { fin: false });
        server.send('men', { fin: false });
        server.send('ted', { fin: true });
        const [got, isBinary] = await atClient;
        expect(got.toString()).toBe('fragmented');
        expect(isBinary).toBe(false);
        const atServer = nextMessage(server);
        client.send(Buffer.from([1]), { fin: false });
        client.send(Buffer.from([2, 3]), { fin: true });
        const [got2, isBinary2] = await atServer;
        expect([...got2]).toEqual([1, 2, 3]);
        expect(isBinary2).toBe(true);
      });
    });

    describe('RFC 6455 5.5.2 / 5.5.3 ping and pong', () => {
      it('a ping is answered with a pong carrying the same data', async () => {
        const { server, client } = await connect();
        const pinged = once<[Buffer]>(server, 'ping');
        const ponged = once<[Buffer]>(client, 'pong');
        client.ping(Buffer.from('abc'));
        expect((await pinged)[0].toString()).toBe('abc');
        expect((await ponged)[0].toString()).toBe('abc');
        const pinged2 = once<[Buffer]>(client, 'ping');
        const ponged2 = once<[Buffer]>(server, 'pong');
        server.ping('xyz');
        expect((await pinged2)[0].toString()).toBe('xyz');
        expect((await ponged2)[0].toString()).toBe('xyz');
      });

      it('an unsolicited pong is delivered', async () => {
        const { server, client } = await connect();
        const ponged = once<[Buffer]>(server, 'pong');
        client.pong('u');
        expect((await ponged)[0].toString()).toBe('u');
      });
    });

    describe('RFC 6455 7 closing', () => {
      it('client-initiated close: both sides report the code; the server sees the reason', async () => {
        const { server, client } = await connect();
        const s = once<[number, Buffer]>(server, 'close');
        const c = once<[number, Buffer]>(client, 'close');
        client.close(4001, 'client bye');
        const [sc, sr] = await s;
        const [cc] = await c;
        expect(sc).toBe(4001);
        expect(sr.toString()).toBe('client bye');
        expect(cc).toBe(4001);
        expect(client.readyState).toBe(3);
        expect(server.readyState).toBe(3);
      });

      it('server-initiated close', async () => {
        const { server, client } = await connect();
        const s = once<[number, Buffer]>(server, 'close');
        const c = once<[number, Buffer]>(client, 'close');
        server.close(1001, 'going away');
        const [cc, cr] = await c;
        expect(cc).toBe(1001);
        expect(cr.toString()).toBe('going away');
        expect((await s)[0]).toBe(1001);
      });

      it('close() without a code reports 1005 on both sides', async () => {
        const { server, client } = await connect();
        const s = once<[number, Buffer]>(server, 'close');
        const c = once<[number, Buffer]>(client, 'close');
        client.close();
        expect((await s)[0]).toBe(1005);
        expect((await c)[0]).toBe(1005);
      });

      it('terminate() closes without a handshake: 1006 on both sides', async () => {
        const { server, client } = await connect();
        const s = once<[number, Buffer]>(server, 'close');
        const c = once<[number, Buffer]>(client, 'close');
        client.terminate();
        expect((await c)[0]).toBe(1006);
        expect((await s)[0]).toBe(1006);
      });

      it('data sent just before terminate() is still written, as with ws (both sides)', async () => {
        const { server, client } = await connect();
        const atServer = nextMessage(server);
        client.send('from the client');
        client.terminate();
        expect(String((await atServer)[0])).toBe('from the client');
        const again = await connect();
        const atClient = nextMessage(again.client);
        again.server.send('from the server');
        again.server.terminate();
        expect(String((await atClient)[0])).toBe('from the server');
      });

      it('data sent before close() is delivered before the close', async () => {
        const { server, client } = await connect();
        const got: string[] = [];
        server.on('message', (d: Buffer) => got.push(d.toString()));
        const s = once(server, 'close');
        client.send('one');
        client.send('two');
        client.close(1000);
        await s;
        expect(got).toEqual(['one', 'two']);
      });
    });
  });
}

describe('WebSocket (riptide specifics)', () => {
  async function pairWithRiptideBothSides(serverOptions = {}) {
    const { wss, url } = await riptideServer(serverOptions);
    servers.push(wss);
    const conn = once<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url);
    await once(client, 'open');
    const [server] = await conn;
    return { wss, url, server, client };
  }

  it('has the ready state constants on the class and the instance', () => {
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
    const ws = new WebSocket(null);
    expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
  });

  it("dispatchEvent() calls the browser-API listeners with the caller's event, not on('message') ones", () => {
    const ws = new WebSocket(null);
    const seen: unknown[] = [];
    ws.on('message', (data) => seen.push(['on', data]));
    ws.addEventListener('message', (event) => seen.push(['listener', event]));
    ws.onmessage = function (this: unknown, event) {
      seen.push(['onmessage', this, event]);
    };
    const data = new Uint8Array([1, 2]);
    const event = new globalThis.MessageEvent('message', { data, cancelable: true });
    expect(ws.dispatchEvent(event)).toBe(true);
    expect(seen).toEqual([
      ['listener', event],
      ['onmessage', ws, event],
    ]);
    expect((seen[0] as [string, MessageEvent])[1].data).toBe(data);
    expect(() => ws.dispatchEvent({ type: 'message' } as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'WS_ERR_INVALID_EVENT' }),
    );
  });

  it('send() while CONNECTING throws UsageError WS_ERR_NOT_OPEN', async () => {
    const { url } = await pairWithRiptideBothSides();
    const ws = new WebSocket(url);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(() => ws.send('x')).toThrow(expect.objectContaining({ name: 'Error', code: 'WS_ERR_NOT_OPEN' }));
    await once(ws, 'open');
    ws.terminate();
  });

  it("send() while CONNECTING and address() in noServer mode throw what ws's do: an Error, not a TypeError", async () => {
    const { url } = await pairWithRiptideBothSides();
    const kind = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return {
          message: (err as Error).message,
          error: err instanceof Error,
          type: err instanceof TypeError,
        };
      }
      return null;
    };
    for (const [ours, theirs] of [
      [new WebSocket(url), new WS(url)],
      [new RiptideServer({ noServer: true }), new WsServer({ noServer: true })],
    ] as const) {
      const call = (target: object) =>
        'send' in target ? () => (target as WS).send('x') : () => (target as WsServer).address();
      const got = kind(call(ours));
      expect(got).not.toBeNull();
      expect(got).toEqual(kind(call(theirs)));
      if ('terminate' in ours) {
        ours.terminate();
        (theirs as WS).on('error', () => {});
        (theirs as WS).terminate();
      }
    }
  });

  it('send() after close calls back with an error and does not throw', async () => {
    const { client } = await pairWithRiptideBothSides();
    client.close();
    const err = await new Promise<Error | undefined>((resolve) => client.send('late', resolve));
    expect(err).toMatchObject({ code: 'WS_ERR_NOT_OPEN' });
    expect(err?.message).toBe('WebSocket is not open: readyState 2 (CLOSING)');
  });

  it("send callbacks keep their order across close(), as ws's do: the earlier send's first", async () => {
    for (const Client of [WS, WebSocket] as Sock[]) {
      const { wss, url } = await riptideServer();
      servers.push(wss);
      const client = new Client(url);
      await once(client, 'open');
      const order: string[] = [];
      const both = new Promise<void>((resolve) => {
        client.send('before', (err?: Error) => order.push(`before ${err?.message ?? 'ok'}`));
        client.close();
        client.send('after', (err?: Error) => {
          order.push(`after ${err?.message ?? 'ok'}`);
          resolve();
        });
      });
      await both;
      await until(() => order.length === 2);
      expect(order).toEqual(['before ok', 'after WebSocket is not open: readyState 2 (CLOSING)']);
    }
  });

  it('close() with an invalid code throws UsageError and leaves the socket open', async () => {
    const { client } = await pairWithRiptideBothSides();
    expect(() => client.close(1005)).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_CLOSE_CODE' }));
    expect(() => client.close(1000, 'x'.repeat(124))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_CLOSE_REASON_TOO_LONG' }),
    );
    expect(client.readyState).toBe(WebSocket.OPEN);
  });

  it('close(undefined, reason) sends 1000 with the reason (WHATWG close(); ws 8 drops the reason)', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    const serverClose = new Promise<[number, string]>((resolve) =>
      wss.on('connection', (ws) => ws.on('close', (code, reason) => resolve([code, reason.toString()]))),
    );
    const client = new WebSocket(url);
    await once(client, 'open');
    client.close(undefined, 'no code');
    expect(await serverClose).toEqual([1000, 'no code']);
    expect((await once(client, 'close'))[0]).toBe(1000);
  });

  it('close() checks its code and reason while CONNECTING and once CLOSED too (WHATWG close())', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    const client = new WebSocket(url);
    expect(() => client.close(999)).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_CLOSE_CODE' }));
    expect(() => client.close(1000, 'x'.repeat(124))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_CLOSE_REASON_TOO_LONG' }),
    );
    // The throw changed nothing: the handshake goes on.
    expect(client.readyState).toBe(WebSocket.CONNECTING);
    await once(client, 'open');
    client.close(4000);
    expect(() => client.close(1005)).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_CLOSE_CODE' }));
    await once(client, 'close');
    expect(() => client.close(999)).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_CLOSE_CODE' }));
    client.close(4000, 'valid: ignored once closed');
    expect(client.readyState).toBe(WebSocket.CLOSED);
  });

  it('ping() with more than 125 bytes throws', async () => {
    const { client } = await pairWithRiptideBothSides();
    expect(() => client.ping(Buffer.alloc(126))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_CONTROL_TOO_LONG' }),
    );
  });

  it('send callbacks are called once the data is written', async () => {
    const { client } = await pairWithRiptideBothSides();
    const order: number[] = [];
    await new Promise<void>((resolve) => {
      client.send('a', () => order.push(1));
      client.send('b', {}, () => order.push(2));
      client.ping(undefined, undefined, () => {
        order.push(3);
        resolve();
      });
    });
    expect(order).toEqual([1, 2, 3]);
  });

  it('accepts ArrayBuffer, typed arrays, DataView and numbers', async () => {
    const { server, client } = await pairWithRiptideBothSides();
    const got: [string, boolean][] = [];
    const done = new Promise<void>((resolve) =>
      server.on('message', (d: Buffer, isBinary: boolean) => {
        got.push([d.toString('hex'), isBinary]);
        if (got.length === 5) resolve();
      }),
    );
    const ab = new Uint8Array([1, 2]).buffer;
    client.send(ab);
    client.send(new Uint16Array([0x0403]));
    client.send(new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2));
    client.send(42);
    client.send('text as binary', { binary: true });
    await done;
    expect(got).toEqual([
      ['0102', true],
      ['0304', true],
      ['0807', true],
      [Buffer.from('42').toString('hex'), false],
      [Buffer.from('text as binary').toString('hex'), true],
    ]);
  });

  describe('binaryType', () => {
    it('nodebuffer (default), arraybuffer, fragments, blob; text stays a Buffer', async () => {
      const { server, client } = await pairWithRiptideBothSides();
      expect(client.binaryType).toBe('nodebuffer');
      client.binaryType = 'arraybuffer';
      let p = once<[unknown, boolean]>(client, 'message');
      server.send(Buffer.from([1, 2, 3]));
      let [data] = await p;
      expect(data).toBeInstanceOf(ArrayBuffer);
      expect([...new Uint8Array(data as ArrayBuffer)]).toEqual([1, 2, 3]);

      client.binaryType = 'fragments';
      p = once(client, 'message');
      server.send(Buffer.from([4]));
      [data] = await p;
      expect(Array.isArray(data)).toBe(true);
      expect([...Buffer.concat(data as Buffer[])]).toEqual([4]);
      // An empty message has no fragment, as in ws (which never keeps an empty one).
      p = once(client, 'message');
      server.send(Buffer.alloc(0));
      [data] = await p;
      expect(data).toEqual([]);
      // Sent back as it came (ws 8 would send a zero byte per buffer: Buffer.from(array)).
      const echoed = once<[Buffer, boolean]>(server, 'message');
      client.send([Buffer.from([7, 8]), Buffer.from([9])]);
      expect(await echoed).toEqual([Buffer.from([7, 8, 9]), true]);

      client.binaryType = 'blob';
      p = once(client, 'message');
      server.send(Buffer.from([5, 6]));
      [data] = await p;
      expect(data).toBeInstanceOf(Blob);
      expect([...new Uint8Array(await (data as Blob).arrayBuffer())]).toEqual([5, 6]);

      p = once(client, 'message');
      server.send('still text');
      const [text, isBinary] = await p;
      expect(isBinary).toBe(false);
      expect(Buffer.isBuffer(text)).toBe(true);

      client.binaryType = 'bogus' as never;
      expect(client.binaryType).toBe('blob');
    });
  });

  describe('backpressure: send() return value, bufferedAmount, drain', () => {
    it('returns false past the high-water mark and emits drain once written', async () => {
      const { wss, port } = await riptideServer();
      servers.push(wss);
      const conn = once<[WebSocket]>(wss, 'connection');
      const { socket: raw } = await rawClient(port);
      const [server] = await conn;
      raw.pause(); // stop reading: the kernel buffers fill up
      const chunk = Buffer.alloc(64 * 1024);
      // The first send already passes the 16 KiB high-water mark.
      expect(server.send(chunk)).toBe(false);
      expect(server.bufferedAmount).toBeGreaterThanOrEqual(server._socket!.writableHighWaterMark);
      // Fill the kernel buffers too (the peer reads nothing), then more stays with us.
      for (let i = 0; i < 512; i++) expect(server.send(chunk)).toBe(false);
      // 32 MiB to a peer that reads nothing: more than any kernel buffer holds.
      expect(server.bufferedAmount).toBeGreaterThan(0);
      const drained = once(server, 'drain');
      raw.resume();
      await drained;
      expect(server.bufferedAmount).toBe(0);
      expect(server.send('small')).toBe(true);
      raw.destroy();
    });
  });

  describe('pause() / resume()', () => {
    it('holds messages while paused and delivers them in order on resume', async () => {
      const { server, client } = await pairWithRiptideBothSides();
      const got: string[] = [];
      server.on('message', (d: Buffer) => {
        got.push(d.toString());
        if (d.toString() === '1') server.pause();
      });
      for (let i = 0; i < 5; i++) client.send(String(i));
      await until(() => got.length === 2);
      // Every byte has left the client; the paused server reads none of it.
      await until(() => client.bufferedAmount === 0);
      expect(server.isPaused).toBe(true);
      expect(got).toEqual(['0', '1']);
      server.resume();
      expect(server.isPaused).toBe(false);
      await until(() => got.length === 5);
      expect(got).toEqual(['0', '1', '2', '3', '4']);
    });
  });

  describe('RFC 6455 7.1.7 peer violations', () => {
    it('an unmasked client frame fails the connection with 1002; error only to listeners', async () => {
      const { wss, port } = await riptideServer();
      servers.push(wss);
      const conn = once<[WebSocket]>(wss, 'connection');
      const { socket, rest } = await rawClient(port);
      const [server] = await conn;
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      const closed = once<[number]>(server, 'close');
      const received = collectUntilClose(socket, rest);
      socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // unmasked "hi"
      const frames = parseFrames(await received);
      expect(frames[0].opcode).toBe(8);
      expect(frames[0].payload.readUInt16BE(0)).toBe(1002);
      expect(errors[0]).toMatchObject({ code: 'WS_ERR_EXPECTED_MASK', closeCode: 1002 });
      // Our close frame was not answered: the peer just went away.
      expect((await closed)[0]).toBe(1006);
    });

    it('invalid UTF-8 in a text message: 1007', async () => {
      const { wss, port } = await riptideServer();
      servers.push(wss);
      const { socket, rest } = await rawClient(port);
      const received = collectUntilClose(socket, rest);
      socket.write(clientFrame(1, Buffer.from([0xff, 0xfe])));
      const frames = parseFrames(await received);
      expect(frames[0].payload.readUInt16BE(0)).toBe(1007);
    });
  });

  it("terminate() in 'connection' still sends the 101 first: the client opens, then sees 1006 (as with ws)", async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    wss.on('connection', (ws) => {
      ws.send('welcome');
      ws.terminate();
    });
    for (const Client of [WS, WebSocket] as Sock[]) {
      const client = new Client(url);
      const events: string[] = [];
      client.on('open', () => events.push('open'));
      client.on('message', (d: Buffer) => events.push(`message ${d}`));
      client.on('error', (e: Error) => events.push(`error ${e.message}`));
      const [code] = await once<[number]>(client, 'close');
      expect(events).toEqual(['open', 'message welcome']);
      expect(code).toBe(1006);
    }
  });

  it('terminate() inside a message handler stops delivery of the rest of the chunk', async () => {
    const { wss, port } = await riptideServer();
    servers.push(wss);
    const got: string[] = [];
    const closed = new Promise<number>((resolve) =>
      wss.on('connection', (ws) => {
        ws.on('message', (d: Buffer) => {
          got.push(d.toString());
          ws.terminate();
        });
        ws.on('close', resolve);
      }),
    );
    const { socket } = await rawClient(port);
    socket.write(Buffer.concat([clientFrame(1, 'one'), clientFrame(1, 'two'), clientFrame(1, 'three')]));
    expect(await closed).toBe(1006);
    expect(got).toEqual(['one']);
    socket.destroy();
  });

  describe('close timeout', () => {
    it('destroys the socket when the peer never answers the close frame', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { wss, port } = await riptideServer({ closeTimeout: 200 });
      servers.push(wss);
      const conn = once<[WebSocket]>(wss, 'connection');
      const { socket } = await rawClient(port);
      // Reads, never answers; the close frame's arrival shows it was flushed, which is when
      // the close timer starts.
      const closeFrameSeen = once(socket, 'data');
      const [server] = await conn;
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      const closed = once<[number]>(server, 'close');
      server.close(1000);
      expect(server.readyState).toBe(WebSocket.CLOSING);
      await closeFrameSeen;
      vi.advanceTimersByTime(199);
      expect(server.readyState).toBe(WebSocket.CLOSING);
      vi.advanceTimersByTime(1);
      const [code] = await closed;
      expect(code).toBe(1006);
      expect(errors[0]).toMatchObject({ code: 'WS_ERR_CLOSE_TIMEOUT' });
      socket.destroy();
    });

    it("a paused socket: the close timer drops the messages pause() holds, 'close' 1006 does not wait for resume()", async () => {
      // The transport closed with input pause() holds makes 'close' wait for resume()
      // (websocket.ts CLOSE_PENDING); the close timer gives the connection up as terminate()
      // does, so that input is dropped and 'close' comes at once.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { wss, port } = await riptideServer({ closeTimeout: 200 });
      servers.push(wss);
      const conn = once<[WebSocket]>(wss, 'connection');
      const { socket } = await rawClient(port);
      const [server] = await conn;
      const got: string[] = [];
      const first = once(server, 'message');
      server.on('message', (data: Buffer) => {
        got.push(data.toString());
        server.pause();
      });
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      socket.write(Buffer.concat([clientFrame(1, 'one'), clientFrame(1, 'two'), clientFrame(1, 'three')]));
      await first;
      // The peer reads our close frame and never answers (the paused socket would not read it).
      const closeFrameSeen = once(socket, 'data');
      const closed = once<[number]>(server, 'close');
      server.close(1000);
      await closeFrameSeen;
      vi.advanceTimersByTime(200);
      const [code] = await closed;
      expect(code).toBe(1006);
      expect(errors[0]).toMatchObject({ code: 'WS_ERR_CLOSE_TIMEOUT' });
      expect(got).toEqual(['one']);
      socket.destroy();
    });

    it("close() while paused, then the transport is destroyed: the close timer still ends the wait ('close' 1006, not held for resume())", async () => {
      // The transport's 'close' with input pause() holds makes 'close' wait for resume(); the
      // close timer close() armed was cleared there, so a peer that resets a paused socket after
      // our close frame left it CLOSING (in wss.clients) until resume(): the close() made first
      // did not end the wait that a close() made after it ends. The transport is an in-process
      // Duplex, destroyed by the peer.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { wss } = await riptideServer({ closeTimeout: 200 });
      servers.push(wss);
      const accepted = once<[WebSocket]>(wss, 'connection');
      const { end } = await duplexClient(wss);
      const [server] = await accepted;
      const got: string[] = [];
      const first = once(server, 'message');
      server.on('message', (data: Buffer) => {
        got.push(data.toString());
        server.pause();
      });
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      let closes = 0;
      let code = 0;
      server.on('close', (c: number) => {
        closes++;
        code = c;
      });
      end.write(Buffer.concat([clientFrame(1, 'one'), clientFrame(1, 'two')]));
      await first;
      const closeFrameSeen = once(end, 'data');
      server.close(1000);
      await closeFrameSeen;
      const transportClosed = once(server._socket!, 'close');
      end.destroy();
      await transportClosed;
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(closes).toBe(0);
      expect(server.readyState).toBe(WebSocket.CLOSING);
      vi.advanceTimersByTime(200);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(closes).toBe(1);
      expect(code).toBe(1006);
      expect(errors).toMatchObject([{ code: 'WS_ERR_CLOSE_TIMEOUT' }]);
      expect(got).toEqual(['one']);
      expect(wss.clients.has(server)).toBe(false);
    });
  });

  describe('closing the TCP connection (RFC 6455 7.1.1)', () => {
    /** A server whose first connection's socket is watched; a close timer that never runs. */
    async function watchedServer() {
      const { wss, port } = await riptideServer({ closeTimeout: 3_600_000 });
      servers.push(wss);
      const conn = new Promise<{ ws: WebSocket; calls: string[] }>((resolve) =>
        wss.on('connection', (ws, req) => resolve({ ws, calls: watchTeardown(req.socket) })),
      );
      const { socket, rest } = await rawClient(port);
      socket.on('error', () => {});
      const { ws, calls } = await conn;
      return { socket, rest, ws, calls };
    }

    it('the peer closes first: the server echoes its close frame and closes its descriptor at once', async () => {
      // "The server MUST close the underlying TCP connection immediately": the close frame is in
      // the kernel, so the server does not half-close and wait for the peer's FIN. The peer here
      // never sends one, and the close timer is an hour: 'close' arriving at all shows it.
      const { socket, rest, ws, calls } = await watchedServer();
      const closed = once<[number, Buffer]>(ws, 'close');
      const received = collectUntilClose(socket, rest);
      socket.allowHalfOpen = true; // the peer's side stays open after the server's FIN
      socket.write(clientFrame(8, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]))); // 1000 "bye"
      const [code, reason] = await closed;
      expect([code, reason.toString()]).toEqual([1000, 'bye']);
      expect(calls).toEqual(['destroy']);
      socket.end();
      const frames = parseFrames(await received);
      expect(frames.map((f) => f.opcode)).toEqual([8]);
      expect(frames[0].payload.toString('latin1')).toBe('\x03\xe8bye');
    });

    it('the server closes first: once the peer answers, the server closes its descriptor at once', async () => {
      const { socket, rest, ws, calls } = await watchedServer();
      const closed = once<[number]>(ws, 'close');
      socket.allowHalfOpen = true;
      const received = collectUntilClose(socket, rest);
      const closeFrameSeen = once(socket, 'data');
      ws.close(4000, 'later');
      await closeFrameSeen;
      expect(calls).toEqual([]);
      socket.write(clientFrame(8, Buffer.from([0x0f, 0xa0]))); // 4000, the answer
      expect((await closed)[0]).toBe(4000);
      expect(calls).toEqual(['destroy']);
      socket.end();
      expect(parseFrames(await received).map((f) => f.opcode)).toEqual([8]);
    });

    it('over TLS the server ends its side as before (close_notify first), and the close is clean', async () => {
      const fixtures = join(__dirname, '..', 'fixtures');
      const cert = readFileSync(join(fixtures, 'test-cert.pem'));
      const key = readFileSync(join(fixtures, 'test-key.pem'));
      const server = https.createServer({ cert, key });
      const wss = new RiptideServer({ server });
      servers.push(wss);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const conn = new Promise<{ ws: WebSocket; calls: string[] }>((resolve) =>
        wss.on('connection', (ws, req) => resolve({ ws, calls: watchTeardown(req.socket) })),
      );
      const client = new WebSocket(`wss://localhost:${(server.address() as net.AddressInfo).port}`, {
        ca: cert,
      });
      const { ws, calls } = await conn;
      const closed = once<[number]>(ws, 'close');
      const clientClosed = once<[number]>(client, 'close');
      await once(client, 'open');
      client.close(1000);
      expect((await closed)[0]).toBe(1000);
      expect((await clientClosed)[0]).toBe(1000);
      expect(calls[0]).toBe('end');
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('after a violation the server half-closes: the peer may still be sending, and a reset could drop the 1002', async () => {
      const { socket, rest, ws, calls } = await watchedServer();
      ws.on('error', () => {});
      const closed = once<[number]>(ws, 'close');
      const received = collectUntilClose(socket, rest);
      socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // unmasked "hi"
      const frames = parseFrames(await received); // the client ended its side on the FIN
      expect(frames[0].payload.readUInt16BE(0)).toBe(1002);
      expect((await closed)[0]).toBe(1006);
      expect(calls[0]).toBe('end');
    });
  });

  it('the browser surface: onopen/onmessage/onclose, addEventListener {once}, event fields', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    wss.on('connection', (ws) => {
      ws.on('message', (d: Buffer, isBinary: boolean) => ws.send(d, { binary: isBinary }));
    });
    const ws = new WebSocket(url);
    const log: string[] = [];
    ws.onopen = (e) => {
      log.push(`open:${e.type}:${e.target === ws}`);
      ws.send('hi');
      ws.send(Buffer.from([7]));
    };
    expect(typeof ws.onopen).toBe('function');
    const messages: unknown[] = [];
    ws.onmessage = (e) => {
      messages.push(e.data);
      if (messages.length === 2) ws.close(4321, 'done');
    };
    let onceCount = 0;
    ws.addEventListener('message', () => onceCount++, { once: true });
    const handler = { handleEvent: (e: { type: string }) => log.push(`handle:${e.type}`) };
    ws.addEventListener('message', handler);
    ws.addEventListener('message', handler); // duplicate: ignored
    const closeEvent = await new Promise<{ code: number; reason: string; wasClean: boolean; type: string }>(
      (resolve) => {
        ws.onclose = resolve as never;
      },
    );
    expect(log).toEqual(['open:open:true', 'handle:message', 'handle:message']);
    expect(messages[0]).toBe('hi'); // MessageEvent.data is a string for text
    expect(Buffer.isBuffer(messages[1])).toBe(true);
    expect(onceCount).toBe(1);
    // The server echoes the code and the reason, as a ws server does.
    expect(closeEvent).toMatchObject({ type: 'close', code: 4321, reason: 'done', wasClean: true });
    ws.removeEventListener('message', handler);
    expect(ws.listenerCount('message')).toBe(1); // only the onmessage attribute remains
    ws.onmessage = null;
    expect(ws.onmessage).toBe(null);
    expect(ws.listenerCount('message')).toBe(0);
  });

  it('onerror receives an ErrorEvent for a failed connection; close follows with 1006', async () => {
    const { port, release } = await refusedPort();
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      const closed = once<[number]>(ws, 'close');
      const ev = await new Promise<{ error: Error; message: string; type: string }>((resolve) => {
        ws.onerror = resolve as never;
      });
      expect(ev.type).toBe('error');
      expect(ev.error).toMatchObject({ code: 'ECONNREFUSED' });
      expect(ev.message).toBe(ev.error.message);
      const [code] = await closed;
      expect(code).toBe(1006);
    } finally {
      await release();
    }
  });

  it('a failed connection without an error listener does not throw', async () => {
    const ws = new WebSocket('ws://127.0.0.1:1');
    const [code] = await once<[number]>(ws, 'close');
    expect(code).toBe(1006);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  for (const how of ['close', 'terminate'] as const) {
    it(`${how}() while CONNECTING aborts the handshake with ws 8's error, and a code`, async () => {
      const { url } = await pairWithRiptideBothSides();
      const errorsOf = async (ws: WebSocket | WS) => {
        const errors: (Error & { code?: string; status?: number })[] = [];
        ws.on('error', (e: Error) => errors.push(e));
        ws[how]();
        expect(ws.readyState).toBe(WebSocket.CLOSING);
        const [code] = await once<[number]>(ws, 'close');
        expect(code).toBe(1006);
        return errors;
      };
      const mine = await errorsOf(new WebSocket(url));
      const theirs = await errorsOf(new WS(url));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toBeInstanceOf(HandshakeError);
      expect(mine[0]).toMatchObject({ code: 'WS_ERR_HANDSHAKE_ABORTED', status: 0, name: 'Error' });
      expect(mine[0].message).toBe('WebSocket was closed before the connection was established');
      expect(theirs.map((e) => [e.name, e.message])).toEqual([[mine[0].name, mine[0].message]]);
    });
  }

  it('a send on a socket destroyed under it: the callback gets WS_ERR_SOCKET_CLOSED', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    const failed = new Promise<Error & { code?: string; status?: number }>((resolve) =>
      wss.on('connection', (ws, req) => {
        // The transport is gone before the frame could be written; the WebSocket has not yet
        // seen it close (that comes with the socket's 'close' event).
        req.socket.destroy();
        ws.send('lost', (err) => resolve(err as Error));
      }),
    );
    const client = new WebSocket(url);
    client.on('error', () => {});
    const clientClosed = once(client, 'close');
    const err = await failed;
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ code: 'WS_ERR_SOCKET_CLOSED', status: 0, name: 'Error' });
    expect(err.message).toBe('The socket was closed before the data was written');
    await clientClosed;
  });
});

describe('listener table (idle memory)', () => {
  it('eventNames() lists only events that have listeners, like a plain EventEmitter', async () => {
    const { WebSocket: WS } = await import('../../src/index.js');
    const ws = new WS(null as unknown as string);
    expect(ws.eventNames()).toEqual([]);
    const f = () => {};
    ws.on('message', f);
    ws.on('custom', f);
    expect(ws.eventNames()).toEqual(['message', 'custom']);
    expect(ws.listenerCount('message')).toBe(1);
    ws.off('message', f);
    expect(ws.eventNames()).toEqual(['custom']);
  });
});

describe('ws 8 parity: send() and bufferedAmount', () => {
  /** A riptide server and a connected client of `Client`; resolves with both ends. */
  async function connected(Client: unknown, serverOptions = {}) {
    const { wss, url } = await riptideServer(serverOptions);
    servers.push(wss);
    const accepted = once<[WebSocket]>(wss, 'connection');
    const client = new (Client as new (url: string) => Sock)(url);
    await once(client, 'open');
    const [server] = await accepted;
    return { client, server };
  }

  it('send() with no data sends an empty binary message (ws: data || EMPTY_BUFFER)', async () => {
    const { client, server } = await connected(WebSocket);
    const got: [string, boolean][] = [];
    client.on('message', (data: Buffer, isBinary: boolean) => got.push([String(data), isBinary]));
    const sent = new Promise<void>((resolve) => server.send(undefined, () => resolve()));
    server.send();
    server.send('');
    server.send('end');
    await sent;
    while (got.length < 4) await once(client, 'message');
    expect(got).toEqual([
      ['', true],
      ['', true],
      ['', false],
      ['end', false],
    ]);
    client.terminate();
  });

  it.each([
    ['ws 8', WS],
    ['riptide', WebSocket],
  ] as const)(
    '%s client: bytes sent while CLOSING or CLOSED still count in bufferedAmount',
    async (_n, Client) => {
      const { client } = await connected(Client);
      client.close();
      const before = client.bufferedAmount;
      client.send('hello');
      client.ping(Buffer.from('ab'));
      client.pong('c');
      expect(client.bufferedAmount - before).toBe(8);
      await once(client, 'close');
      const closedBefore = client.bufferedAmount;
      client.send(Buffer.alloc(10));
      expect(client.bufferedAmount - closedBefore).toBe(10);
    },
  );

  it.each([
    ['ws 8', async () => wsServer()],
    ['riptide', async () => riptideServer()],
  ] as const)(
    "%s server: bufferedAmount is 0 in 'connection' (the 101 response is not counted)",
    async (_n, make) => {
      const { wss, url } = await make();
      servers.push(wss as AnyServer);
      const amounts = new Promise<number>((resolve) =>
        (wss as Sock).on('connection', (ws: Sock) => resolve(ws.bufferedAmount)),
      );
      const client = new WebSocket(url);
      await once(client, 'open');
      expect(await amounts).toBe(0);
      client.terminate();
    },
  );

  it.each([false, true])(
    'bufferedAmount counts payload bytes queued, not frame headers or compressed sizes (deflate %s)',
    async (perMessageDeflate) => {
      const { client, server } = await connected(WebSocket, { perMessageDeflate });
      const payload = 'x'.repeat(300);
      server.send(payload);
      server.send(Buffer.alloc(20));
      // Still queued here (the flush is on the next tick): 300 + 20 payload bytes exactly.
      expect(server.bufferedAmount).toBe(320);
      expect(server.extensions).toBe(perMessageDeflate ? 'permessage-deflate' : '');
      await once(client, 'message');
      client.terminate();
    },
  );

  it.each([
    ['ws 8', WS],
    ['riptide', WebSocket],
  ] as const)(
    "%s client: extensions names the agreed extensions without their parameters, as ws's does",
    async (_n, Client) => {
      // Riptide's server answers with server_no_context_takeover; ws shows only the name.
      const { client, server } = await connected(Client, { perMessageDeflate: true });
      expect(client.extensions).toBe('permessage-deflate');
      expect(server.extensions).toBe('permessage-deflate');
      client.terminate();
    },
  );

  // ws 8.23.1 reads any ArrayBuffer as one (util.types.isAnyArrayBuffer). ws 8.23.0 took a
  // SharedArrayBuffer or another realm's ArrayBuffer through Buffer.from() as writable memory
  // of its own and masked it in place: the peer got the bytes, the caller's buffer was garbled.
  it.each([
    ['ws 8', WS],
    ['riptide', WebSocket],
  ] as const)(
    '%s client: send(), ping() and pong() of a SharedArrayBuffer or another realm’s ArrayBuffer leave it unchanged',
    async (_n, Client) => {
      const { client, server } = await connected(Client);
      const got: string[] = [];
      const pattern = (length: number) => Buffer.from(Array.from({ length }, (_, i) => i & 0xff));
      const seen = (what: string, data: Buffer) => got.push(`${what} ${data.equals(pattern(data.length))}`);
      server.on('message', (data: Buffer, isBinary: boolean) =>
        seen(`message ${isBinary} ${data.length}`, data),
      );
      server.on('ping', (data: Buffer) => seen(`ping ${data.length}`, data));
      server.on('pong', (data: Buffer) => seen(`pong ${data.length}`, data));
      const fill = (buffer: ArrayBufferLike) => {
        new Uint8Array(buffer).set(pattern(buffer.byteLength));
        return buffer;
      };
      const sources = [
        fill(new SharedArrayBuffer(100_000)),
        fill(runInNewContext('new ArrayBuffer(100000)') as ArrayBuffer),
        fill(new SharedArrayBuffer(5)),
      ];
      // The realm is another: `instanceof ArrayBuffer` is false, and the ArrayBuffer check holds.
      expect(sources[1] instanceof ArrayBuffer).toBe(false);
      client.send(sources[0]);
      client.send(sources[1]);
      client.ping(sources[2]);
      client.pong(sources[2]);
      client.send('end');
      while (!got.includes('message false 3 false')) await once(server, 'message');
      expect(got).toEqual([
        'message true 100000 true',
        'message true 100000 true',
        'ping 5 true',
        'pong 5 true',
        'message false 3 false',
      ]);
      for (const source of sources) expect(Buffer.from(source).equals(pattern(source.byteLength))).toBe(true);
      client.terminate();
    },
  );

  it('send(data, { mask: false }) is ignored: a client frame is always masked (a deliberate difference)', async () => {
    // A ws server refuses an unmasked client frame (WS_ERR_EXPECTED_MASK), so the message
    // arriving proves riptide masked it anyway (RFC 6455 5.1: "a client MUST mask").
    const { wss, url } = await wsServer();
    servers.push(wss);
    const got = new Promise<string>((resolve) =>
      wss.on('connection', (ws) => ws.on('message', (data) => resolve(String(data)))),
    );
    const client = new WebSocket(url);
    await once(client, 'open');
    client.send('masked anyway', { mask: false });
    expect(await got).toBe('masked anyway');
    client.terminate();
  });
});

describe("ws 8 parity: send()'s binary and fin read by truthiness", () => {
  // ws 8 spreads the options over its defaults and reads them by truthiness (`binary: 1` is
  // binary, `fin: 0` a fragment); riptide read `binary === true` and `fin === false` only. An
  // `undefined` option stays "not given" in riptide (ws's spread makes it falsy), so it is not
  // among the values compared here.
  const sends: [string, string | Buffer | Blob, Record<string, unknown>][] = [
    ['text, binary 1', 't1', { binary: 1 }],
    ["text, binary 'yes'", 't2', { binary: 'yes' }],
    ['text, binary {}', 't3', { binary: {} }],
    ['buffer, binary 0', Buffer.from('b1'), { binary: 0 }],
    ["buffer, binary ''", Buffer.from('b2'), { binary: '' }],
    ['buffer, binary null', Buffer.from('b3'), { binary: null }],
    ['blob, binary 0', new Blob(['l1']), { binary: 0 }],
    ['blob, binary null', new Blob(['l2']), { binary: null }],
    ['text, fin 0', 'f1', { fin: 0 }],
    ['text, fin null', 'f2', { fin: null }],
    ["blob, fin ''", new Blob(['f3']), { fin: '' }],
    ['text, fin 1', 'f4', { fin: 1 }],
    ['buffer, fin NaN', Buffer.from('g1'), { fin: Number.NaN }],
    ["blob, fin 'yes'", new Blob(['g2']), { fin: 'yes' }],
    ['text, binary 1 and fin 0', 'h1', { binary: 1, fin: 0 }],
    ['text, fin true', 'h2', { fin: true }],
  ];

  /** What a raw client reads from a server of `make` that sends `sends` on connection. */
  async function framesFrom(make: () => Promise<{ wss: unknown; port: number }>) {
    const { wss, port } = await make();
    servers.push(wss as AnyServer);
    (wss as Sock).on('connection', (ws: Sock) => {
      for (const [, data, options] of sends) ws.send(data, options);
    });
    const { socket, rest } = await rawClient(port);
    let buf = rest;
    while (parseFrames(buf).length < sends.length) {
      const [chunk] = await once<[Buffer]>(socket, 'data');
      buf = Buffer.concat([buf, chunk]);
    }
    socket.destroy();
    return parseFrames(buf).map(
      (f, i) => `${sends[i][0]}: opcode ${f.opcode} fin ${f.fin} ${f.payload.toString()}`,
    );
  }

  it('the ws and riptide servers send the same frames for truthy and falsy binary and fin', async () => {
    const fromWs = await framesFrom(wsServer);
    const fromRiptide = await framesFrom(riptideServer);
    expect(fromRiptide).toEqual(fromWs);
    // And what ws sends is what its truthiness reading says.
    expect(fromWs).toEqual([
      'text, binary 1: opcode 2 fin true t1',
      "text, binary 'yes': opcode 2 fin true t2",
      'text, binary {}: opcode 2 fin true t3',
      'buffer, binary 0: opcode 1 fin true b1',
      "buffer, binary '': opcode 1 fin true b2",
      'buffer, binary null: opcode 1 fin true b3',
      'blob, binary 0: opcode 1 fin true l1',
      'blob, binary null: opcode 1 fin true l2',
      'text, fin 0: opcode 1 fin false f1',
      'text, fin null: opcode 0 fin false f2',
      "blob, fin '': opcode 0 fin false f3",
      'text, fin 1: opcode 0 fin true f4',
      'buffer, fin NaN: opcode 2 fin false g1',
      "blob, fin 'yes': opcode 0 fin true g2",
      'text, binary 1 and fin 0: opcode 2 fin false h1',
      'text, fin true: opcode 0 fin true h2',
    ]);
  });
});

describe('ws 8 parity: misuse throws what ws throws', () => {
  /** The error `fn` throws. */
  function thrown(fn: () => unknown): Error {
    try {
      fn();
    } catch (err) {
      return err as Error;
    }
    throw new Error('did not throw');
  }

  /** Ours is an instance of ws's error class, with its message and name, and is a UsageError. */
  function expectLikeWs(ours: Error, theirs: Error): void {
    expect(ours).toBeInstanceOf(theirs.constructor as ErrorConstructor);
    expect(String(ours)).toBe(String(theirs));
    expect(ours).toBeInstanceOf(UsageError);
    expect(ours).toBeInstanceOf(RiptideError);
    expect(typeof (ours as { code?: unknown }).code).toBe('string');
  }

  type AnyClient = new (url: string, protocols?: unknown, options?: unknown) => Sock;
  const constructorCases: [string, (Client: AnyClient) => unknown][] = [
    ['an unparsable URL', (C) => new C('not a url')],
    ['a URL of another protocol', (C) => new C('ftp://x')],
    ['a URL with a fragment', (C) => new C('ws://x/#frag')],
    ['duplicate subprotocols', (C) => new C('ws://x/', ['a', 'a'])],
    ['a subprotocol with a space', (C) => new C('ws://x/', 'has space')],
    ['protocolVersion 7', (C) => new C('ws://x/', { protocolVersion: 7 as 8 })],
  ];

  it.each(constructorCases)('new WebSocket with %s', (_what, make) => {
    expectLikeWs(
      thrown(() => make(WebSocket as unknown as AnyClient)),
      thrown(() => make(WS as unknown as AnyClient)),
    );
  });

  it('send() and ping() while CONNECTING', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    for (const call of [(ws: Sock) => ws.send('x'), (ws: Sock) => ws.ping()]) {
      const theirs = new WS(url);
      const ours = new WebSocket(url);
      expectLikeWs(
        thrown(() => call(ours)),
        thrown(() => call(theirs)),
      );
      for (const ws of [theirs, ours] as Sock[]) {
        await once(ws, 'open');
        ws.terminate();
      }
    }
  });

  it.each([
    ['close() with an invalid code', (ws: Sock) => ws.close(999)],
    ['close() with a reason above 123 bytes', (ws: Sock) => ws.close(1000, 'x'.repeat(124))],
    ['ping() with 126 bytes', (ws: Sock) => ws.ping(Buffer.alloc(126))],
    ['pong() with 126 bytes', (ws: Sock) => ws.pong('x'.repeat(126))],
  ])('%s on an open connection', async (_what, call) => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    const theirs = new WS(url);
    const ours = new WebSocket(url);
    await Promise.all([once(theirs, 'open'), once(ours, 'open')]);
    expectLikeWs(
      thrown(() => call(ours)),
      thrown(() => call(theirs)),
    );
    theirs.terminate();
    ours.terminate();
  });

  it('close(code, reason): a reason of another type is sent, ignored or refused as ws does', async () => {
    const { wss, url } = await wsServer();
    servers.push(wss);
    const reasons: string[] = [];
    wss.on('connection', (ws) => ws.on('close', (_code, reason) => reasons.push(reason.toString('hex'))));
    const cases: unknown[] = [
      new Uint8Array([0x41, 0x42]),
      new Uint8Array([0, 0x43, 0x44]).subarray(1),
      123,
      {},
    ];
    for (const reason of cases) {
      for (const Client of [WS, WebSocket] as Sock[]) {
        const ws = new Client(url);
        await once(ws, 'open');
        ws.close(1000, reason);
        await once(ws, 'close');
      }
    }
    await until(() => reasons.length === cases.length * 2);
    // Uint8Array views as their bytes; values without a length as no reason (ws: `!data.length`).
    expect(reasons).toEqual(['4142', '4142', '4344', '4344', '', '', '', '']);
    for (const Client of [WS, WebSocket] as Sock[]) {
      const ws = new Client(url);
      await once(ws, 'open');
      const err = thrown(() => ws.close(1000, new Uint16Array([0x4142])));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toBe('Second argument must be a string or a Uint8Array');
      if (Client === WebSocket) expect((err as UsageError).code).toBe('WS_ERR_INVALID_CLOSE_REASON');
      expect(ws.readyState).toBe(WS.OPEN);
      ws.terminate();
    }
  });

  it('WebSocketServer without exactly one of port, server and noServer', () => {
    expectLikeWs(
      thrown(() => new RiptideServer({})),
      thrown(() => new WsServer({})),
    );
  });

  it('address() of a noServer server', () => {
    expectLikeWs(
      thrown(() => new RiptideServer({ noServer: true }).address()),
      thrown(() => new WsServer({ noServer: true }).address()),
    );
  });
});

describe("ws 8 parity: WebSocket's property descriptors", () => {
  const shape = (d: PropertyDescriptor | undefined) =>
    d === undefined
      ? 'missing'
      : {
          enumerable: d.enumerable,
          configurable: d.configurable,
          writable: d.writable,
          kind: 'value' in d ? typeof d.value : `${d.get ? 'get' : ''}${d.set ? 'set' : ''}`,
        };

  it.each(['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'])('WebSocket.%s and WebSocket.prototype.%s', (name) => {
    expect(shape(Object.getOwnPropertyDescriptor(WebSocket, name))).toEqual(
      shape(Object.getOwnPropertyDescriptor(WS, name)),
    );
    expect(shape(Object.getOwnPropertyDescriptor(WebSocket.prototype, name))).toEqual(
      shape(Object.getOwnPropertyDescriptor(WS.prototype, name)),
    );
    expect(() => {
      (WebSocket as unknown as Record<string, number>)[name] = 42;
    }).toThrow(TypeError);
  });

  // Every own property of ws's prototype, so a member ws adds is checked too; setSocket and
  // emitClose are ws's own plumbing (marked @private there), not API.
  const wsPrivate = new Set(['setSocket', 'emitClose']);
  it.each(Object.getOwnPropertyNames(WS.prototype).filter((name) => !wsPrivate.has(name)))(
    'WebSocket.prototype.%s',
    (name) => {
      expect(shape(Object.getOwnPropertyDescriptor(WebSocket.prototype, name))).toEqual(
        shape(Object.getOwnPropertyDescriptor(WS.prototype, name)),
      );
    },
  );

  it('dispatchEvent, a standard addition ws lacks, is an enumerable method like addEventListener', () => {
    expect(Object.getOwnPropertyDescriptor(WS.prototype, 'dispatchEvent')).toBeUndefined();
    expect(shape(Object.getOwnPropertyDescriptor(WebSocket.prototype, 'dispatchEvent'))).toEqual(
      shape(Object.getOwnPropertyDescriptor(WebSocket.prototype, 'addEventListener')),
    );
  });

  it("the enumerable keys of a WebSocket include ws 8's", () => {
    const keys = (proto: object) => {
      const out: string[] = [];
      for (const key in proto) out.push(key);
      return out;
    };
    const ours = new Set(keys(WebSocket.prototype));
    for (const key of keys(WS.prototype)) expect(ours.has(key), key).toBe(true);
  });
});

// Regression: riptide's 'close' gave the reason decoded then re-encoded, so bytes that were not
// UTF-8 came as U+FFFD (ef bf bd); ws gives the peer's bytes as they came.
describe('ws 8 parity: a close reason that is not UTF-8, with skipUTF8Validation', () => {
  const reason = Buffer.from([0x61, 0xff, 0xfe, 0x62]); // "a", two bytes that are not UTF-8, "b"
  const servers2 = [
    ['riptide', riptideServer],
    ['ws', wsServer],
  ] as const;
  for (const [name, start] of servers2) {
    it(`${name} server: 'close' gets the bytes, a CloseEvent their decoding, the echo the bytes`, async () => {
      const { wss, port } = await start({ skipUTF8Validation: true });
      servers.push(wss as AnyServer);
      const conn = once<[Sock]>(wss, 'connection');
      const { socket, rest } = await rawClient(port);
      const [server] = await conn;
      const decoded: string[] = [];
      server.addEventListener('close', (event: { reason: string }) => decoded.push(event.reason));
      const closed = once<[number, Buffer]>(server, 'close');
      const received = collectUntilClose(socket, rest);
      socket.write(clientFrame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), reason])));
      const [code, bytes] = await closed;
      expect(code).toBe(1000);
      expect(bytes.toString('hex')).toBe('61fffe62');
      expect(decoded).toEqual(['a\uFFFD\uFFFDb']);
      expect(parseFrames(await received).map((f) => f.payload.toString('hex'))).toEqual(['03e861fffe62']);
    });
  }

  const clients = [
    ['riptide', (url: string) => new WebSocket(url, { skipUTF8Validation: true })],
    ['ws', (url: string) => new WS(url, { skipUTF8Validation: true })],
  ] as const;
  for (const [name, make] of clients) {
    it(`${name} client: 'close' gets the server's reason bytes`, async () => {
      // It reads the client's echo of those bytes, so it skips the check too.
      const { wss, url } = await wsServer({ skipUTF8Validation: true });
      servers.push(wss as AnyServer);
      // ws sends a Buffer reason as it is, without checking it is UTF-8.
      wss.on('connection', (ws) => ws.close(4000, reason));
      const client: Sock = make(url);
      const [code, bytes] = await once<[number, Buffer]>(client, 'close');
      expect(code).toBe(4000);
      expect(bytes.toString('hex')).toBe('61fffe62');
    });
  }
});

describe("ws 8 parity: setSocket() (ws's entry point libraries call: @fastify/websocket's injectWS)", () => {
  /** A WebSocket made as those libraries make it, attached to one end of a stream pair. */
  function attached(Class: typeof WebSocket | typeof WS, end: Duplex, client: boolean, options = {}) {
    // As @fastify/websocket makes it (ws reads the third argument; riptide ignores it for null).
    const ws = new (Class as unknown as new (a: null, b: undefined, o: object) => WebSocket)(
      null,
      undefined,
      {
        isServer: false,
      },
    );
    if (client) ws._isServer = false;
    const opened = once(ws, 'open');
    ws.setSocket(end, Buffer.alloc(0), options);
    return { ws, opened };
  }

  for (const [name, Peer] of [
    ['riptide', WebSocket],
    ['ws', WS],
  ] as const) {
    it(`runs a riptide client (_isServer = false) against a ${name} server-side WebSocket, and the reverse`, async () => {
      for (const riptideIsClient of [true, false]) {
        const [a, b] = duplexPair();
        const mine = attached(WebSocket, a, riptideIsClient);
        const theirs = attached(Peer, b, !riptideIsClient);
        await Promise.all([mine.opened, theirs.opened]);
        expect(mine.ws.readyState).toBe(WebSocket.OPEN);
        // Each side masks as its role says: the other would fail the connection (1002) if not.
        const got = once<[Buffer, boolean]>(theirs.ws, 'message');
        mine.ws.send('from riptide');
        expect(String((await got)[0])).toBe('from riptide');
        const back = once<[Buffer, boolean]>(mine.ws, 'message');
        theirs.ws.send(Buffer.from([1, 2, 3]));
        expect((await back)[0]).toEqual(Buffer.from([1, 2, 3]));
        const closed = once<[number]>(mine.ws, 'close');
        theirs.ws.close(4000);
        expect((await closed)[0]).toBe(4000);
      }
    });
  }

  it("takes ws's options (maxPayload applies; unknown keys are ignored, as in ws) and only once, on new WebSocket(null)", async () => {
    const [a, b] = duplexPair();
    const small = attached(WebSocket, a, false, { maxPayload: 10, bogus: 1 });
    const peer = attached(WebSocket, b, true);
    await Promise.all([small.opened, peer.opened]);
    const closed = once<[number]>(peer.ws, 'close');
    peer.ws.send(Buffer.alloc(11));
    expect((await closed)[0]).toBe(1009);
    const misuse = (f: () => void) =>
      expect(f).toThrow(expect.objectContaining({ code: 'WS_ERR_ALREADY_ATTACHED' }));
    misuse(() => small.ws.setSocket(duplexPair()[0], null));
    const client = new WebSocket('ws://127.0.0.1:1');
    client.on('error', () => {});
    misuse(() => client.setSocket(duplexPair()[0], null));
    client.terminate();
    expect(() =>
      new WebSocket(null).setSocket(duplexPair()[0], null, { bogus: 1, maxPayload: -1 } as never),
    ).toThrow(
      expect.objectContaining({
        code: 'WS_ERR_INVALID_OPTION',
        message: 'The "maxPayload" option must be an integer >= 0, got -1',
      }),
    );
  });
});

describe('ws 8.18 parity: send(Blob), ping(Blob), pong(Blob)', () => {
  /** A Blob whose read (arrayBuffer()) waits for release(), or fails with reject(). */
  class HeldBlob extends Blob {
    release!: () => void;
    reject!: (err: Error) => void;
    reads = 0;
    private readonly gate = new Promise<void>((resolve, reject) => {
      this.release = resolve;
      this.reject = reject;
    });
    override async arrayBuffer(): Promise<ArrayBuffer> {
      this.reads++;
      await this.gate;
      return super.arrayBuffer();
    }
  }

  /** A riptide server recording what arrives, and a connected client of `Client`. */
  async function connected(Client: unknown, serverOptions = {}) {
    const { wss, url } = await riptideServer(serverOptions);
    servers.push(wss);
    const accepted = once<[WebSocket]>(wss, 'connection');
    const client: Sock = new (Client as new (url: string) => Sock)(url);
    await once(client, 'open');
    const [server] = await accepted;
    const got: string[] = [];
    server.on('message', (data: Buffer, isBinary: boolean) =>
      got.push(`${isBinary ? 'binary' : 'text'} ${data.toString()}`),
    );
    server.on('ping', (data: Buffer) => got.push(`ping ${data}`));
    server.on('pong', (data: Buffer) => got.push(`pong ${data}`));
    server.on('close', (code: number) => got.push(`close ${code}`));
    return { client, server, got };
  }

  const both = [
    ['ws 8', WS],
    ['riptide', WebSocket],
  ] as const;

  it.each(both)(
    '%s client: a Blob is sent as binary (text with binary: false), and what is sent after it waits, in order',
    async (_n, Client) => {
      const { client, got } = await connected(Client);
      const blob = new HeldBlob(['blob!']);
      const calls: string[] = [];
      const cb = (what: string) => (err?: Error) => calls.push(`${what} ${err?.message ?? 'ok'}`);
      client.send(blob, cb('blob'));
      client.send('a', cb('a'));
      client.send(new Blob(['as text']), { binary: false }, cb('text blob'));
      client.send(Buffer.from('buf'), cb('buf'));
      // WHATWG send(Blob): bufferedAmount grows by the Blob's size at once; the rest waits too.
      expect(client.bufferedAmount).toBe(5 + 1 + 7 + 3);
      await new Promise((resolve) => setImmediate(resolve));
      expect(blob.reads).toBe(1);
      expect(client.bufferedAmount).toBe(16);
      blob.release();
      await until(() => got.length === 4);
      expect(got).toEqual(['binary blob!', 'text a', 'text as text', 'binary buf']);
      await until(() => calls.length === 4);
      expect(calls).toEqual(['blob ok', 'a ok', 'text blob ok', 'buf ok']);
      expect(client.bufferedAmount).toBe(0);
      client.terminate();
    },
  );

  it.each(both)('%s client: ping(Blob) and pong(Blob) keep their place behind a Blob', async (_n, Client) => {
    const { client, got } = await connected(Client);
    const blob = new HeldBlob(['first']);
    const calls: string[] = [];
    client.send(blob);
    client.ping(new Blob(['p']), undefined, () => calls.push('ping'));
    client.pong(new Blob(['q']), undefined, () => calls.push('pong'));
    client.ping(Buffer.from('r'));
    client.send('last', () => calls.push('last'));
    expect(client.bufferedAmount).toBe(5 + 1 + 1 + 1 + 4);
    // RFC 6455 5.5: a control frame's payload is 125 bytes at most; a Blob's size is known at once.
    expect(() => client.ping(new Blob([Buffer.alloc(126)]))).toThrow(
      expect.objectContaining({
        name: 'RangeError',
        message: 'The data size must not be greater than 125 bytes',
      }),
    );
    blob.release();
    await until(() => got.length === 5 && calls.length === 3);
    expect(got).toEqual(['binary first', 'ping p', 'pong q', 'ping r', 'text last']);
    expect(calls).toEqual(['ping', 'pong', 'last']);
    client.terminate();
  });

  it.each(both)(
    '%s client: close() while a Blob is read sends the Blob and what came before close(), then the close frame',
    async (_n, Client) => {
      const { client, got } = await connected(Client);
      const blob = new HeldBlob(['blob']);
      client.send(blob);
      client.send('before');
      client.close(4000);
      expect(client.readyState).toBe(WebSocket.CLOSING);
      const late = new Promise<Error>((resolve) => client.send('after', resolve));
      expect((await late).message).toBe('WebSocket is not open: readyState 2 (CLOSING)');
      blob.release();
      await once(client, 'close');
      expect(got).toEqual(['binary blob', 'text before', 'close 4000']);
    },
  );

  it.each(both)(
    '%s client: terminate() while a Blob is read: its callback and those behind it get an error, nothing is sent',
    async (_n, Client) => {
      const { client, got } = await connected(Client);
      const blob = new HeldBlob(['never']);
      const errors: Promise<Error & { code?: string }>[] = [
        new Promise((resolve) => client.send(blob, resolve)),
        new Promise((resolve) => client.send('never either', resolve)),
        new Promise((resolve) => client.ping(Buffer.from('p'), undefined, resolve)),
      ];
      client.terminate();
      await once(client, 'close');
      blob.release();
      for (const err of await Promise.all(errors)) {
        expect(err.message).toBe('The socket was closed while the blob was being read');
        if (client instanceof WebSocket) expect(err.code).toBe('WS_ERR_SOCKET_CLOSED');
      }
      await until(() => got.includes('close 1006'));
      expect(got).toEqual(['close 1006']);
    },
  );

  // The peer's close frame arrives while a Blob is read: ws 8 (8.18+) sends the Blob and what
  // was sent behind it before the close, then its answer, echoing the peer's code and reason.
  it.each(both)(
    "%s client: the peer's close while a Blob is read: the Blob and what was sent before, then the answer",
    async (_n, Client) => {
      const { client, server, got } = await connected(Client);
      const blob = new HeldBlob(['late']);
      const calls: string[] = [];
      const cb = (what: string) => (err?: Error) => calls.push(`${what} ${err?.message ?? 'ok'}`);
      client.send(blob, cb('blob'));
      client.send('x', cb('x'));
      const serverClosed = once<[number, Buffer]>(server, 'close');
      const clientClosed = once<[number, Buffer]>(client, 'close');
      server.close(4001, 'bye');
      await until(() => client.readyState === WebSocket.CLOSING);
      client.send('after the close', cb('after'));
      await until(() => calls.length === 1);
      expect(calls).toEqual(['after WebSocket is not open: readyState 2 (CLOSING)']);
      blob.release();
      const [code, reason] = await clientClosed;
      expect([code, reason.toString()]).toEqual([4001, 'bye']);
      const [serverCode, serverReason] = await serverClosed;
      expect([serverCode, serverReason.toString()]).toEqual([4001, 'bye']);
      expect(got).toEqual(['binary late', 'text x', 'close 4001']);
      expect(calls).toEqual(['after WebSocket is not open: readyState 2 (CLOSING)', 'blob ok', 'x ok']);
    },
  );

  /** A riptide server connection reading a Blob when its `Client` peer closes (4002 'bye'). */
  async function serverReadingBlobWhenPeerCloses(Client: unknown, serverOptions = {}) {
    const { client, server } = await connected(Client, serverOptions);
    const seen: string[] = [];
    client.on('message', (data: Buffer, isBinary: boolean) =>
      seen.push(`${isBinary ? 'binary' : 'text'} ${data.toString()}`),
    );
    const clientClosed = once<[number, Buffer]>(client, 'close');
    const serverClosed = once<[number, Buffer]>(server, 'close');
    const calls: string[] = [];
    const cb = (what: string) => (err?: Error & { code?: string }) =>
      calls.push(`${what} ${err === undefined ? 'ok' : (err.code ?? err.message)}`);
    const blob = new HeldBlob(['blob']);
    server.send(blob, cb('blob'));
    server.send('behind', cb('behind'));
    client.close(4002, 'bye');
    await until(() => server.readyState === WebSocket.CLOSING);
    return { client, server, seen, calls, cb, blob, clientClosed, serverClosed };
  }

  it.each(both)(
    '%s client closes while the riptide server reads a Blob: the Blob and the send behind it, then its code echoed',
    async (_n, Client) => {
      const { server, seen, calls, cb, blob, clientClosed, serverClosed } =
        await serverReadingBlobWhenPeerCloses(Client);
      // The answer is owed, not sent; sends made from now on are refused.
      expect(server._proto!.closeOwed).toBe(true);
      server.send('late', cb('late'));
      await until(() => calls.length === 1);
      expect(calls).toEqual(['late WS_ERR_NOT_OPEN']);
      blob.release();
      const [code, reason] = await clientClosed;
      expect([code, reason.toString()]).toEqual([4002, 'bye']);
      expect(seen).toEqual(['binary blob', 'text behind']);
      expect((await serverClosed)[0]).toBe(4002);
      expect(calls).toEqual(['late WS_ERR_NOT_OPEN', 'blob ok', 'behind ok']);
    },
  );

  it.each(both)(
    "%s client: close() while a Blob is read, then the peer's close: the Blob, then our close frame answers",
    async (_n, Client) => {
      const { client, server, got } = await connected(Client);
      const blob = new HeldBlob(['blob']);
      client.send(blob);
      client.close(4000, 'ours');
      const clientClosed = once<[number]>(client, 'close');
      const serverClosed = once<[number, Buffer]>(server, 'close');
      server.close(4001, 'theirs');
      // The server's close frame reaches the client while its own waits behind the Blob.
      await until(() => client._closeFrameReceived === true || client._proto?.closeReceived === true);
      blob.release();
      expect((await clientClosed)[0]).toBe(4001);
      const [code, reason] = await serverClosed;
      expect([code, reason.toString()]).toEqual([4000, 'ours']);
      expect(got).toEqual(['binary blob', 'close 4000']);
    },
  );

  it.each(both)(
    '%s client closes while the riptide server reads a Blob sent compressed in slices: all of it, then the answer',
    async (_n, Client) => {
      const { wss, url } = await riptideServer({ perMessageDeflate: true });
      servers.push(wss);
      const accepted = once<[WebSocket]>(wss, 'connection');
      const client: Sock = new (Client as new (url: string, o: object) => Sock)(url, {
        perMessageDeflate: true,
      });
      await once(client, 'open');
      const [server] = await accepted;
      const sizes: number[] = [];
      client.on('message', (data: Buffer) => sizes.push(data.length));
      const clientClosed = once<[number]>(client, 'close');
      // Above the deflate budget (DEFLATE_SLICE): once read, it leaves in slices.
      const blob = new HeldBlob([Buffer.alloc(1024 * 1024, 7)]);
      server.send(blob);
      server.send('behind');
      client.close(4002);
      await until(() => server.readyState === WebSocket.CLOSING);
      blob.release();
      await until(() => server._proto!.compressing);
      expect(server._proto!.closeOwed).toBe(true);
      expect((await clientClosed)[0]).toBe(4002);
      expect(sizes).toEqual([1024 * 1024, 6]);
    },
  );

  it("riptide: closeTimeout ends a Blob read that never resolves after the peer's close", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { server, seen, calls, clientClosed, serverClosed } = await serverReadingBlobWhenPeerCloses(
      WebSocket,
      { closeTimeout: 200 },
    );
    const errors: string[] = [];
    server.on('error', (err: Error & { code?: string }) => errors.push(err.code!));
    vi.advanceTimersByTime(199);
    expect(server.readyState).toBe(WebSocket.CLOSING);
    expect(server._proto!.closeOwed).toBe(true);
    vi.advanceTimersByTime(1);
    // Its close frame was received: its code is the 'close' event's (RFC 6455 7.1.5).
    expect((await serverClosed)[0]).toBe(4002);
    expect(errors).toEqual(['WS_ERR_CLOSE_TIMEOUT']);
    expect((await clientClosed)[0]).toBe(1006);
    await until(() => calls.length === 2);
    expect(calls).toEqual(['blob WS_ERR_SOCKET_CLOSED', 'behind WS_ERR_SOCKET_CLOSED']);
    expect(seen).toEqual([]);
  });

  it('riptide: closeTimeout ends a peer that closes while a Blob is read, then stops reading', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { client, server } = await connected(WebSocket, { closeTimeout: 200 });
    const errors: string[] = [];
    server.on('error', (err: Error & { code?: string }) => errors.push(err.code!));
    const serverClosed = once<[number]>(server, 'close');
    // Larger than the kernel's buffers: the answer behind it cannot leave while the peer does
    // not read.
    const blob = new HeldBlob([Buffer.alloc(32 * 1024 * 1024, 1)]);
    server.send(blob);
    client.close(4003);
    client.pause();
    await until(() => server.readyState === WebSocket.CLOSING);
    blob.release();
    await until(() => server._proto!.closeSent);
    // The answer is queued behind the Blob's bytes, which wait for the peer.
    expect(server.bufferedAmount).toBeGreaterThan(0);
    expect(server.readyState).toBe(WebSocket.CLOSING);
    vi.advanceTimersByTime(200);
    expect((await serverClosed)[0]).toBe(4003);
    expect(errors).toEqual(['WS_ERR_CLOSE_TIMEOUT']);
  });

  it.each(both)(
    "%s client: a Blob whose read fails after the peer's close still fails the connection with 1011",
    async (_n, Client) => {
      // ws 8 ends the TCP connection without an answer here (its peer sees 1006); riptide
      // answers with 1011, as it does when the read fails before any close.
      const { server, seen, calls, blob, clientClosed, serverClosed } =
        await serverReadingBlobWhenPeerCloses(Client);
      const reported = once<[Error]>(server, 'error');
      const cause = new Error('NotReadableError');
      blob.reject(cause);
      const [err] = await reported;
      expect(err).toMatchObject({ code: 'WS_ERR_BLOB_READ_FAILED', closeCode: 1011, cause });
      expect((await clientClosed)[0]).toBe(1011);
      // The peer's close frame was received: its code is the server's 'close' event's.
      expect((await serverClosed)[0]).toBe(4002);
      expect(calls).toEqual(['blob WS_ERR_BLOB_READ_FAILED', 'behind WS_ERR_BLOB_READ_FAILED']);
      expect(seen).toEqual([]);
    },
  );

  it('riptide: terminate() while the answer waits for a Blob: dropped at once, no answer', async () => {
    const { server, seen, calls, blob, clientClosed, serverClosed } =
      await serverReadingBlobWhenPeerCloses(WebSocket);
    server.terminate();
    expect((await serverClosed)[0]).toBe(4002);
    expect((await clientClosed)[0]).toBe(1006);
    await until(() => calls.length === 2);
    expect(calls).toEqual(['blob WS_ERR_SOCKET_CLOSED', 'behind WS_ERR_SOCKET_CLOSED']);
    blob.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]);
  });

  it("riptide: the peer's close frame and FIN while a Blob is read: the Blob is dropped at once, the close answered", async () => {
    const { wss, port } = await riptideServer();
    servers.push(wss);
    const conn = once<[WebSocket]>(wss, 'connection');
    const { socket, rest } = await rawClient(port);
    const [server] = await conn;
    const calls: string[] = [];
    server.send(new HeldBlob(['never']), (err) => calls.push(`blob ${(err as { code?: string })?.code}`));
    const serverClosed = once<[number]>(server, 'close');
    const received = collectUntilClose(socket, rest);
    socket.end(clientFrame(8, Buffer.from([0x0f, 0xa4])));
    expect((await serverClosed)[0]).toBe(4004);
    expect(calls).toEqual(['blob WS_ERR_SOCKET_CLOSED']);
    // The peer will send nothing more, so the Blob is given up; the peer may still read, and gets
    // its close echoed rather than a FIN alone (regression: no answer at all).
    const frames = parseFrames(await received);
    expect(frames.map((f) => [f.opcode, f.payload.readUInt16BE(0)])).toEqual([[8, 4004]]);
  });

  it("riptide: send() returns false for a Blob and behind it, and 'drain' follows once it is written", async () => {
    const { client, got } = await connected(WebSocket);
    const blob = new HeldBlob(['b']);
    expect(client.send(blob)).toBe(false);
    expect(client.send('behind')).toBe(false);
    const drained = once(client, 'drain');
    blob.release();
    await drained;
    await until(() => got.length === 2);
    expect(got).toEqual(['binary b', 'text behind']);
    // Nothing pending: back to the plain path (true below the high-water mark).
    expect(client.send('plain')).toBe(true);
    client.terminate();
  });

  it('riptide: a Blob that cannot be read fails the connection (1011): callbacks and the error event get why', async () => {
    const { client, got } = await connected(WebSocket);
    const blob = new HeldBlob(['x']);
    const errors = [
      new Promise<Error>((resolve) => client.send(blob, resolve)),
      new Promise<Error>((resolve) => client.send('never', resolve)),
    ];
    const reported = once<[Error]>(client, 'error');
    const cause = new Error('NotReadableError');
    blob.reject(cause);
    const [err] = await reported;
    expect(err).toMatchObject({
      code: 'WS_ERR_BLOB_READ_FAILED',
      message: 'Reading a Blob to send failed',
      closeCode: 1011,
      cause,
    });
    expect(await Promise.all(errors)).toEqual([err, err]);
    await once(client, 'close');
    await until(() => got.includes('close 1011'));
    expect(got).toEqual(['close 1011']);
  });

  it('riptide: a Blob-shaped object whose read resolves to no bytes fails the connection (1011), no unhandled rejection', async () => {
    const { client, got } = await connected(WebSocket);
    // A broken polyfill: arrayBuffer() resolves, but not to an ArrayBuffer (Buffer.from throws).
    class NoBytesBlob extends Blob {
      override async arrayBuffer(): Promise<ArrayBuffer> {
        return undefined as never;
      }
    }
    const errors = [
      new Promise<Error>((resolve) => client.send(new NoBytesBlob(['x']), resolve)),
      new Promise<Error>((resolve) => client.send('never', resolve)),
    ];
    const [err] = await once<[Error]>(client, 'error');
    expect(err).toMatchObject({
      code: 'WS_ERR_BLOB_READ_FAILED',
      closeCode: 1011,
      cause: expect.any(TypeError),
    });
    expect(await Promise.all(errors)).toEqual([err, err]);
    await once(client, 'close');
    await until(() => got.includes('close 1011'));
    expect(got).toEqual(['close 1011']);
    expect(client.bufferedAmount).toBe(0);
  });

  it("a Blob above the peer's maxPayload is framed like any data: the peer fails it with 1009", async () => {
    const { client } = await connected(WebSocket, { maxPayload: 10 });
    const closed = once<[number]>(client, 'close');
    client.send(new Blob([Buffer.alloc(11)]));
    expect((await closed)[0]).toBe(1009);
  });
});
