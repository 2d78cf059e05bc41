import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type WS from 'ws';
import { WebSocket as WsClient, createWebSocketStream as wsCreateWebSocketStream } from 'ws';
import { createWebSocketStream, WebSocket, type WebSocketServer } from '../../src/index.js';
import { once, rawClient, riptideServer, shutdown, wsServer } from './helpers.js';

const servers: { close(cb?: () => void): void }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await shutdown(s);
});

describe('createWebSocketStream', () => {
  it('writes become messages, messages become chunks; end() closes', async () => {
    const { wss, url } = await wsServer();
    servers.push(wss);
    const received: string[] = [];
    const serverClosed = new Promise<number>((resolve) =>
      wss.on('connection', (ws) => {
        ws.on('message', (d: Buffer) => {
          received.push(d.toString());
          ws.send(`echo:${d}`);
        });
        ws.on('close', (code) => resolve(code));
      }),
    );
    const ws = new WebSocket(url);
    const duplex = createWebSocketStream(ws, { encoding: 'utf8' });
    // Writes before 'open' wait for it.
    duplex.write('a');
    duplex.write(Buffer.from('b'));
    const chunks: string[] = [];
    duplex.on('data', (c: string) => chunks.push(c));
    while (chunks.length < 2) await once(duplex, 'data');
    expect(chunks).toEqual(['echo:a', 'echo:b']);
    expect(received).toEqual(['a', 'b']);
    duplex.end();
    expect(await serverClosed).toBe(1005);
    await once(duplex, 'close');
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('backpressure: a slow reader pauses the WebSocket and loses nothing', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss as WebSocketServer);
    const total = 200;
    wss.on('connection', (ws) => {
      for (let i = 0; i < total; i++) ws.send(Buffer.alloc(10_000, i & 0xff));
      ws.close();
    });
    const ws = new WebSocket(url);
    const duplex = createWebSocketStream(ws, { highWaterMark: 16 * 1024 });
    let bytes = 0;
    let pauses = 0;
    const pause = ws.pause.bind(ws);
    ws.pause = () => {
      pauses++;
      pause();
    };
    await pipeline(
      duplex,
      new Writable({
        highWaterMark: 1,
        write(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          setTimeout(cb, 1);
        },
      }),
    );
    expect(bytes).toBe(total * 10_000);
    expect(pauses).toBeGreaterThan(0);
  });

  it('readableObjectMode gives strings for text and Buffers for binary', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss as WebSocketServer);
    wss.on('connection', (ws) => {
      ws.send('text');
      ws.send(Buffer.from([1]));
    });
    const ws = new WebSocket(url);
    const duplex = createWebSocketStream(ws, { readableObjectMode: true });
    const got: unknown[] = [];
    for await (const chunk of duplex) {
      got.push(chunk);
      if (got.length === 2) break;
    }
    expect(got[0]).toBe('text');
    expect(Buffer.isBuffer(got[1])).toBe(true);
  });

  it('destroy() terminates the connection; a connection error destroys the stream', async () => {
    const { wss, url } = await wsServer();
    servers.push(wss);
    const serverSide = once<[WS]>(wss, 'connection');
    const ws = new WebSocket(url);
    const duplex = createWebSocketStream(ws);
    await once(ws, 'open');
    const [peer] = await serverSide;
    const peerClosed = once<[number]>(peer, 'close');
    duplex.destroy();
    expect((await peerClosed)[0]).toBe(1006);

    const ws2 = new WebSocket('ws://127.0.0.1:1');
    const d2 = createWebSocketStream(ws2);
    const [err] = await once<[Error & { code: string }]>(d2, 'error');
    expect(err.code).toBe('ECONNREFUSED');
  });
});

describe('ws 8 parity: createWebSocketStream', () => {
  it.each([
    ['ws 8', () => wsCreateWebSocketStream, WsClient],
    ['riptide', () => createWebSocketStream, WebSocket],
  ] as const)(
    '%s: a write after the WebSocket closed destroys the stream before its error',
    async (_n, make, Client) => {
      const { wss, url } = await riptideServer();
      servers.push(wss);
      const ws = new (Client as unknown as new (url: string) => WebSocket)(url);
      const duplex = make()(ws as never);
      await once(ws, 'open');
      ws.close();
      await once(ws, 'close');
      const [err] = await new Promise<[Error]>((resolve) => {
        duplex.on('error', (e: Error) => resolve([e]));
        duplex.write('too late');
      });
      expect(err.message).toBe('WebSocket is not open: readyState 3 (CLOSED)');
      expect(duplex.destroyed).toBe(true);
    },
  );
});

describe('ws 8 parity: createWebSocketStream event order', () => {
  type Make = () => typeof createWebSocketStream;
  const libs = [
    ['ws 8', wsServer, () => wsCreateWebSocketStream as unknown as typeof createWebSocketStream, WsClient],
    ['riptide', riptideServer, () => createWebSocketStream, WebSocket],
  ] as const;

  /**
   * The stream's 'finish', 'end', 'close' and 'error' and its WebSocket's 'close', in one list.
   * The WebSocket's listener is added first, as a 'connection' handler that wraps the socket
   * later would have it: the order must not hang on whose listener came first.
   */
  function record(
    ws: WebSocket,
    make: Make,
  ): { duplex: ReturnType<typeof createWebSocketStream>; events: string[] } {
    const events: string[] = [];
    ws.on('close', (code: number) => events.push(`ws close ${code}`));
    const duplex = make()(ws);
    for (const name of ['finish', 'end', 'close', 'error']) duplex.on(name, () => events.push(name));
    duplex.resume();
    return { duplex, events };
  }

  it.each(libs)(
    "%s: a server stream's end() gives 'finish' (before the WebSocket's 'close'), then 'end', then 'close'",
    async (_n, serve, make) => {
      // A riptide server closes its descriptor as soon as the close frames are exchanged, so its
      // socket has no 'finish': the stream's 'finish' used to come from the WebSocket's 'close',
      // after the listeners that were there first.
      const { wss, url } = await serve();
      servers.push(wss);
      const connected = once<[WebSocket]>(wss, 'connection');
      const client = new WsClient(url);
      const [serverSide] = await connected;
      const { duplex, events } = record(serverSide, make);
      const clientClosed = once<[number]>(client, 'close');
      duplex.end();
      await once(duplex, 'close');
      expect(events).toEqual(['finish', 'ws close 1005', 'end', 'close']);
      expect((await clientClosed)[0]).toBe(1005);
    },
  );

  it.each(libs)(
    "%s: a client stream's end() gives 'finish' (before the WebSocket's 'close'), then 'end', then 'close'",
    async (_n, _serve, make, Client) => {
      const { wss, url } = await wsServer();
      servers.push(wss);
      const ws = new (Client as unknown as new (url: string) => WebSocket)(url);
      await once(ws, 'open');
      const { duplex, events } = record(ws, make);
      duplex.end();
      await once(duplex, 'close');
      expect(events).toEqual(['finish', 'ws close 1005', 'end', 'close']);
    },
  );

  it.each(libs)(
    "%s: the peer's close ends the readable side only; end() then finishes and closes the stream",
    async (_n, serve, make) => {
      const { wss, url } = await serve();
      servers.push(wss);
      const connected = once<[WebSocket]>(wss, 'connection');
      const client = new WsClient(url);
      const [serverSide] = await connected;
      const { duplex, events } = record(serverSide, make);
      if (client.readyState !== WsClient.OPEN) await once(client, 'open');
      client.close(4000);
      await once(duplex, 'end');
      // A turn for what the 'end' might set off (ws 8: nothing, the writable side is still open).
      await new Promise((resolve) => setImmediate(resolve));
      expect(events).toEqual(['ws close 4000', 'end']);
      expect([duplex.writable, duplex.destroyed]).toEqual([true, false]);
      duplex.end();
      await once(duplex, 'close');
      expect(events).toEqual(['ws close 4000', 'end', 'finish', 'close']);
    },
  );
});

describe('createWebSocketStream: riptide on purpose (docs/node-layer.md)', () => {
  it('end() to a peer that never answers the close frame: the close timeout destroys the stream with its error', async () => {
    // ws 8 reports nothing: its stream ends ('end') but never finishes, so pipeline() waits for good.
    const { wss, port } = await riptideServer({ closeTimeout: 50 });
    servers.push(wss);
    const connected = once<[WebSocket]>(wss, 'connection');
    const { socket } = await rawClient(port);
    const [serverSide] = await connected;
    const duplex = createWebSocketStream(serverSide);
    duplex.resume();
    const events: string[] = [];
    for (const name of ['finish', 'end']) duplex.on(name, () => events.push(name));
    const failed = once<[Error & { code: string }]>(duplex, 'error');
    const closed = once(duplex, 'close');
    duplex.end();
    expect((await failed)[0].code).toBe('WS_ERR_CLOSE_TIMEOUT');
    await closed;
    expect(events).toEqual([]);
    socket.destroy();
  });
});
