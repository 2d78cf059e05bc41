/**
 * rpc-websockets (the JSON-RPC 2.0 layer @solana/web3.js talks to its RPC node through) on
 * riptide. Its `Server` constructs `new (require('ws')).WebSocketServer(options)`; the CommonJS
 * build loaded through ws-redirect.ts gets riptide for it, while the ESM build this file imports
 * keeps the real ws. One conversation (a method call, a notification, an event subscription, two
 * error replies, a reconnect after the server drops the connection) runs on both, and the two
 * transcripts must be equal.
 *
 * Its `Client` hands its own options (`autoconnect`, `reconnect`, `reconnect_interval`,
 * `max_reconnects`) to `new WebSocket(url, options)`; riptide treats unknown keys as ws does
 * (passed to http.request, which ignores them: docs/node-layer.md), so its real `Client` runs on
 * riptide too, as does its `CommonClient` with a WebSocket factory of our own.
 *
 * Reconnects wait `reconnect_interval` on a timer, set to 0 here; every wait is on an event or on
 * a reply (a call is the barrier that proves a notification arrived before it).
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as onWs from 'rpc-websockets';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { requireOnRiptide, riptideCjsEntry } from './ws-redirect.js';

type Rpc = typeof onWs;
type RpcServer = InstanceType<Rpc['Server']>;
type RpcClient = InstanceType<Rpc['CommonClient']>;

const onRiptide = requireOnRiptide<Rpc>('rpc-websockets', ['rpc-websockets']).module;
const riptideCjs = createRequire(import.meta.url)(riptideCjsEntry) as typeof import('../../src/index.js');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** rpc-websockets' own client options, which the WebSocket constructor must not see. */
type OwnOptions = {
  autoconnect?: boolean;
  reconnect?: boolean;
  reconnect_interval?: number;
  max_reconnects?: number;
};

/** A CommonClient whose sockets are riptide's: rpc-websockets' options stay with it. */
function riptideClient(url: string): RpcClient {
  const factory = (address: string, options: OwnOptions) => {
    const { autoconnect, reconnect, reconnect_interval, max_reconnects, ...wsOptions } = options;
    return new WebSocket(address, wsOptions) as unknown as ReturnType<onWs.ICommonWebSocketFactory>;
  };
  return new onRiptide.CommonClient(factory, url, { reconnect_interval: 0 });
}

/**
 * rpc-websockets' own Client from the CommonJS build loaded on riptide: its sockets are riptide's
 * WebSockets, given `autoconnect`, `reconnect`, `reconnect_interval` and `max_reconnects`.
 */
function riptideOwnClient(url: string): RpcClient {
  const c = new onRiptide.Client(url, { reconnect_interval: 0 });
  expect((c as unknown as { socket: unknown }).socket).toBeInstanceOf(riptideCjs.WebSocket);
  return c;
}

/** rpc-websockets' own Client (on the real ws, as the ESM build imports it). */
function wsClient(url: string): RpcClient {
  return new onWs.Client(url, { reconnect_interval: 0 });
}

async function rpcServer(rpc: Rpc): Promise<{ server: RpcServer; url: string; noted: unknown[] }> {
  const server = new rpc.Server({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const noted: unknown[] = [];
  server.register('sum', (params) => (params as number[]).reduce((a, b) => a + b, 0));
  server.register('note', (params: unknown) => {
    noted.push(params);
  });
  server.register('notes', () => noted);
  server.register('fail', () => {
    throw new Error('out of gas');
  });
  server.event('slot');
  cleanups.push(async () => {
    for (const ws of server.wss.clients) ws.terminate();
    await server.close();
  });
  return { server, url: `ws://127.0.0.1:${(server.wss.address() as AddressInfo).port}`, noted };
}

function opened(client: RpcClient): Promise<void> {
  return new Promise((resolve) => client.once('open', () => resolve()));
}

/** The conversation; what the client saw, in order. */
async function conversation(rpc: Rpc, client: (url: string) => RpcClient): Promise<unknown[]> {
  const { server, url } = await rpcServer(rpc);
  const c = client(url);
  cleanups.push(() => {
    c.setAutoReconnect(false);
    c.close();
  });
  const seen: unknown[] = [];
  await opened(c);
  seen.push(['sum', await c.call('sum', [1, 2, 39])]);

  // A notification has no reply; the call after it is the barrier that proves it arrived.
  await c.notify('note', { slot: 7 });
  seen.push(['notes', await c.call('notes')]);

  seen.push(['subscribe', await c.subscribe('slot')]);
  seen.push(['subscribe unknown', await c.subscribe('nope')]);
  const slot = new Promise((resolve) => c.once('slot', resolve));
  server.emit('slot', { slot: 8 });
  seen.push(['slot event', await slot]);

  seen.push(['fail', await c.call('fail').catch((e: unknown) => e)]);
  seen.push(['missing', await c.call('missing', []).catch((e: unknown) => e)]);

  // The server drops the connection (no close frame, 1006): the client reconnects by itself.
  const dropped = new Promise((resolve) => c.once('close', (code: number) => resolve(code)));
  const reopened = opened(c);
  const disconnected = new Promise((resolve) => server.once('disconnection', () => resolve('disconnection')));
  for (const ws of server.wss.clients) ws.terminate();
  seen.push(['dropped', await dropped, await disconnected]);
  await reopened;
  seen.push(['sum after reconnect', await c.call('sum', [2, 3])]);
  seen.push(['clients', server.wss.clients.size]);
  return seen;
}

const expected = [
  ['sum', 42],
  ['notes', [{ slot: 7 }]],
  ['subscribe', { slot: 'ok' }],
  ['subscribe unknown', { nope: 'provided event invalid' }],
  ['slot event', { slot: 8 }],
  ['fail', { code: -32000, message: 'Error', data: 'out of gas' }],
  ['missing', { code: -32601, message: 'Method not found' }],
  ['dropped', 1006, 'disconnection'],
  ['sum after reconnect', 5],
  ['clients', 1],
];

describe('rpc-websockets', () => {
  it("its Server runs on a riptide WebSocketServer, its ESM build on ws's", async () => {
    const a = await rpcServer(onRiptide);
    const b = await rpcServer(onWs);
    expect(a.server.wss).toBeInstanceOf(riptideCjs.WebSocketServer);
    expect(b.server.wss).not.toBeInstanceOf(riptideCjs.WebSocketServer);
  });

  it('Server and CommonClient on riptide: the conversation ws gives', async () => {
    const onBoth = await conversation(onRiptide, riptideClient);
    expect(onBoth).toEqual(expected);
    expect(onBoth).toEqual(await conversation(onWs, wsClient));
  });

  it('the Server on riptide with its own Client on ws, and the reverse', async () => {
    expect(await conversation(onRiptide, wsClient)).toEqual(expected);
    expect(await conversation(onWs, riptideClient)).toEqual(expected);
  });

  it("its own Client on riptide (its options reach riptide's WebSocket): the conversation ws gives", async () => {
    const seen = await conversation(onRiptide, riptideOwnClient);
    expect(seen).toEqual(expected);
    expect(seen).toEqual(await conversation(onWs, wsClient));
    // And against the Server on ws.
    expect(await conversation(onWs, riptideOwnClient)).toEqual(expected);
  });
});
