/**
 * MQTT over WebSockets on riptide, both ends unchanged. The broker is aedes run as its own
 * docs show it on ws (docs/Examples.md: a `WebSocketServer` whose connections go through
 * `createWebSocketStream` into `aedes.handle`), here with riptide's two; the clients are mqtt.js,
 * whose Node stream builder does `new (require('ws'))(url, ['mqtt'], wsOptions)` and then
 * `require('ws').createWebSocketStream(socket)`: loaded through ws-redirect.ts, both are riptide's.
 * An MQTT packet travels as a stream chunk, so it may be cut across WebSocket frames or share one.
 *
 * Every flow runs against the same broker on ws too: what riptide must give is what ws gives.
 * Every wait is on an MQTT acknowledgement, a delivered message or a broker event; brokers,
 * servers and clients are closed after each test.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import type * as Mqtt from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as realWs from 'ws';
import { createWebSocketStream, WebSocketServer } from '../../src/index.js';
import { requireOnRiptide } from './ws-redirect.js';

const { module: mqtt, riptide } = requireOnRiptide<typeof Mqtt>('mqtt', ['mqtt']);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The two WebSocket layers the broker can run on: riptide's and ws's, with the same API. */
const layers = {
  riptide: { WebSocketServer, createWebSocketStream },
  ws: { WebSocketServer: realWs.WebSocketServer, createWebSocketStream: realWs.createWebSocketStream },
} as const;
type Layer = keyof typeof layers;

interface ServerSocket {
  terminate(): void;
  once(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
}

/** aedes behind a WebSocketServer of `layer`, as in aedes' docs; its server-side sockets in order. */
async function broker(layer: Layer): Promise<{ aedes: Aedes; url: string; sockets: ServerSocket[] }> {
  const { WebSocketServer: Server, createWebSocketStream: toStream } = layers[layer];
  const aedes = await Aedes.createBroker();
  const wss = new Server({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const sockets: ServerSocket[] = [];
  wss.on('connection', (websocket: ServerSocket, req: IncomingMessage) => {
    sockets.push(websocket);
    aedes.handle((toStream as (ws: unknown) => Duplex)(websocket), req);
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) (ws as ServerSocket).terminate();
        wss.close(() => aedes.close(() => resolve()));
      }),
  );
  return { aedes, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, sockets };
}

/** An mqtt.js client (on riptide), connected: resolves on its CONNACK. */
async function client(url: string, options: Mqtt.IClientOptions = {}): Promise<Mqtt.MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, ...options });
  cleanups.push(() => new Promise<void>((resolve) => c.end(true, {}, () => resolve())));
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** The next `n` messages a client receives, as [topic, payload, packet]. */
function messages(c: Mqtt.MqttClient, n: number): Promise<[string, Buffer, Mqtt.IPublishPacket][]> {
  const got: [string, Buffer, Mqtt.IPublishPacket][] = [];
  return new Promise((resolve) => {
    const on = (topic: string, payload: Buffer, packet: Mqtt.IPublishPacket) => {
      got.push([topic, payload, packet]);
      if (got.length === n) {
        c.off('message', on);
        resolve(got);
      }
    };
    c.on('message', on);
  });
}

describe("mqtt.js's client is on riptide", () => {
  it('its stream comes from riptide.createWebSocketStream over a riptide WebSocket', async () => {
    const { url } = await broker('ws');
    const spy = vi.spyOn(
      riptide as unknown as { createWebSocketStream: (ws: unknown) => Duplex },
      'createWebSocketStream',
    );
    cleanups.push(() => spy.mockRestore());
    const c = await client(url);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0][0]).toBeInstanceOf(riptide);
    expect((spy.mock.calls[0][0] as unknown as InstanceType<typeof riptide>).protocol).toBe('mqtt');
    expect(c.connected).toBe(true);
  });
});

for (const layer of ['riptide', 'ws'] as const) {
  describe(`aedes on ${layer === 'riptide' ? "riptide's" : "ws's"} WebSocketServer and createWebSocketStream, mqtt.js on riptide`, () => {
    it('delivers QoS 0, 1 and 2 publications to a subscriber, in order, payloads intact', async () => {
      const { url } = await broker(layer);
      const [sub, pub] = [await client(url), await client(url)];
      const granted = await sub.subscribeAsync('room/#', { qos: 2 });
      expect(granted.map((g) => g.qos)).toEqual([2]);
      const got = messages(sub, 3);
      // Each resolves on the broker's acknowledgement (none for QoS 0, PUBACK, PUBCOMP).
      await pub.publishAsync('room/a', 'zero', { qos: 0 });
      await pub.publishAsync('room/b', 'one', { qos: 1 });
      await pub.publishAsync('room/c', Buffer.from('twó'), { qos: 2 });
      expect((await got).map(([t, p, packet]) => [t, String(p), packet.qos])).toEqual([
        ['room/a', 'zero', 0],
        ['room/b', 'one', 1],
        ['room/c', 'twó', 2],
      ]);
    });

    it('carries a 300 KiB binary payload and a burst of 500 QoS 1 messages', async () => {
      const { url } = await broker(layer);
      const [sub, pub] = [await client(url), await client(url)];
      await sub.subscribeAsync('big', { qos: 1 });
      await sub.subscribeAsync('burst', { qos: 1 });
      const payload = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7) % 256));
      const big = messages(sub, 1);
      await pub.publishAsync('big', payload, { qos: 1 });
      expect((await big)[0][1].equals(payload)).toBe(true);

      const burst = messages(sub, 500);
      await Promise.all(
        Array.from({ length: 500 }, (_, i) => pub.publishAsync('burst', `m${i}`, { qos: 1 })),
      );
      expect((await burst).map(([, p]) => String(p))).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
    });

    it('hands a retained message to a later subscriber', async () => {
      const { url } = await broker(layer);
      const pub = await client(url);
      await pub.publishAsync('config/mode', 'night', { qos: 1, retain: true });
      const late = await client(url);
      const got = messages(late, 1);
      await late.subscribeAsync('config/#', { qos: 1 });
      const [[topic, payload, packet]] = await got;
      expect([topic, String(payload), packet.retain]).toEqual(['config/mode', 'night', true]);
    });

    it("publishes a client's last will when the server drops its WebSocket", async () => {
      const { url, sockets } = await broker(layer);
      const watcher = await client(url);
      await watcher.subscribeAsync('status/#', { qos: 1 });
      const doomed = await client(url, {
        will: { topic: 'status/doomed', payload: Buffer.from('gone'), qos: 1 },
      });
      const lost = new Promise<void>((resolve) => doomed.once('close', () => resolve()));
      const will = messages(watcher, 1);
      sockets[1].terminate();
      const [[topic, payload]] = await will;
      expect([topic, String(payload)]).toEqual(['status/doomed', 'gone']);
      await lost;
      expect(doomed.connected).toBe(false);
    });

    it('end() sends DISCONNECT and closes the WebSocket: the broker sees the client leave, no will', async () => {
      const { aedes, url, sockets } = await broker(layer);
      const watcher = await client(url);
      await watcher.subscribeAsync('status/#', { qos: 1 });
      let received = 0;
      watcher.on('message', () => received++);
      const leaving = await client(url, {
        clientId: 'leaving',
        will: { topic: 'status/leaving', payload: Buffer.from('gone'), qos: 1 },
      });
      const left = new Promise<string>((resolve) => aedes.once('clientDisconnect', (c) => resolve(c.id)));
      const closed = new Promise<number>((resolve) => sockets[1].once('close', (code) => resolve(code)));
      await new Promise<void>((resolve) => leaving.end(false, {}, () => resolve()));
      expect(await left).toBe('leaving');
      // The client's stream ends with ws's close() without a code: the server reads 1005.
      expect(await closed).toBe(1005);
      // A round trip through the broker after the disconnect: a will would have come before it.
      const echo = messages(watcher, 1);
      await watcher.publishAsync('status/ping', 'after', { qos: 1 });
      expect((await echo).map(([t]) => t)).toEqual(['status/ping']);
      // Only the ping itself.
      expect(received).toBe(1);
    });
  });
}
