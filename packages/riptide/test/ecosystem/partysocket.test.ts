/**
 * partysocket's ReconnectingWebSocket (a browser-API client library: it takes a WebSocket
 * constructor through its documented `WebSocket` option and drives it with addEventListener,
 * binaryType, readyState and the OPEN/CONNECTING constants) on riptide's WebSocket, unchanged.
 * Its backoff waits on setTimeout: the delays are configured to 0 and every wait is on an event
 * (the library's, or the server's 'connection'), never on time.
 */
import type { AddressInfo } from 'node:net';
import ReconnectingWebSocket from 'partysocket/ws';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An echo server; its connections in order, awaited one at a time. */
async function echoServer(): Promise<{ url: string; nextConnection: () => Promise<WebSocket> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const queued: WebSocket[] = [];
  const waiting: ((ws: WebSocket) => void)[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo: ${data}`, { binary: isBinary }));
    const w = waiting.shift();
    if (w) w(ws);
    else queued.push(ws);
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    nextConnection: () =>
      queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((resolve) => waiting.push(resolve)),
  };
}

function reconnecting(url: string): ReconnectingWebSocket {
  const rws = new ReconnectingWebSocket(url, undefined, {
    WebSocket,
    minReconnectionDelay: 0,
    maxReconnectionDelay: 0,
    minUptime: 0,
    maxRetries: 3,
  });
  cleanups.push(() => rws.close());
  return rws;
}

function nextEvent<K extends 'open' | 'close' | 'message'>(rws: ReconnectingWebSocket, type: K) {
  return new Promise<Parameters<NonNullable<ReconnectingWebSocket[`on${K}`]>>[0]>((resolve) =>
    rws.addEventListener(type, resolve as never, { once: true }),
  );
}

describe("partysocket's ReconnectingWebSocket on riptide's WebSocket", () => {
  it('connects, sends and receives text and binary', async () => {
    const { url } = await echoServer();
    const rws = reconnecting(url);
    await nextEvent(rws, 'open');
    expect(rws.readyState).toBe(WebSocket.OPEN);
    const text = nextEvent(rws, 'message');
    rws.send('hi');
    expect((await text).data).toBe('echo: hi');

    // partysocket sets the browser's default binaryType, 'blob', on each socket it makes.
    expect(rws.binaryType).toBe('blob');
    const blob = nextEvent(rws, 'message');
    rws.send(new Uint8Array([4, 5]));
    const blobData = (await blob).data;
    expect(blobData).toBeInstanceOf(Blob);
    expect([...new Uint8Array(await (blobData as Blob).arrayBuffer())]).toEqual([4, 5]);

    rws.binaryType = 'arraybuffer';
    const binary = nextEvent(rws, 'message');
    rws.send(new Uint8Array([1, 2, 3]));
    const { data } = await binary;
    expect(data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(data as ArrayBuffer)]).toEqual([1, 2, 3]);
  });

  it('reconnects after the server terminates the connection, and sends what was queued meanwhile', async () => {
    const { url, nextConnection } = await echoServer();
    const rws = reconnecting(url);
    await nextEvent(rws, 'open');
    const first = await nextConnection();

    const closed = nextEvent(rws, 'close');
    first.terminate();
    const event = await closed;
    // RFC 6455 7.1.5: no close frame was received, so the close code is 1006.
    expect(event.code).toBe(1006);
    expect(rws.readyState).not.toBe(WebSocket.OPEN);

    // Sent while disconnected: partysocket queues it and sends it once the new socket opens.
    rws.send('while away');
    const reopened = nextEvent(rws, 'open');
    const reply = nextEvent(rws, 'message');
    const second = await nextConnection();
    await reopened;
    expect(second).not.toBe(first);
    expect((await reply).data).toBe('echo: while away');

    const again = nextEvent(rws, 'message');
    rws.send('after');
    expect((await again).data).toBe('echo: after');
  });

  it('close(code, reason) reaches the server and stops reconnecting', async () => {
    const { url, nextConnection } = await echoServer();
    const rws = reconnecting(url);
    await nextEvent(rws, 'open');
    const server = await nextConnection();
    const serverClosed = new Promise<[number, string]>((resolve) =>
      server.once('close', (code: number, reason: Buffer) => resolve([code, String(reason)])),
    );
    rws.close(4000, 'bye');
    expect(await serverClosed).toEqual([4000, 'bye']);
    expect(rws.readyState).toBe(WebSocket.CLOSED);
  });
});
