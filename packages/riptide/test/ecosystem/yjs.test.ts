/**
 * Yjs on riptide, unchanged: `setupWSConnection` from '@y/websocket-server/utils' (the server
 * utilities that left the y-websocket package) on a riptide WebSocketServer, and y-websocket's
 * `WebsocketProvider` clients with their documented `WebSocketPolyfill` option set to riptide's
 * WebSocket. Sync and awareness are binary messages (lib0 encodings) both ways; the server sets
 * `binaryType = 'arraybuffer'` on riptide's server-side socket, the provider on the client's.
 * `disableBc` keeps two providers in one process from syncing through a BroadcastChannel instead of
 * the wire. Every wait is on an event; everything is destroyed after each test.
 */
import type { AddressInfo } from 'node:net';
import { setupWSConnection } from '@y/websocket-server/utils';
import { afterEach, describe, expect, it } from 'vitest';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { whenDoc } from './y-doc.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let rooms = 0;
/** A room name no other test uses: the server utilities keep their documents in a module-wide map. */
function room(): string {
  return `room-${process.pid}-${++rooms}`;
}

async function yjsServer(): Promise<{ url: string; wss: WebSocketServer }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  // No cast: riptide's server-side socket is assignable to the ws.WebSocket that setupWSConnection
  // declares, and it uses ws's API on it (binaryType, send(data, {}, callback), ping(), 'pong').
  wss.on('connection', (conn, req) => setupWSConnection(conn, req));
  cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, wss };
}

/** A provider on its own document, resolved once its first sync with the server is done. */
async function provider(url: string, name: string): Promise<{ doc: Y.Doc; provider: WebsocketProvider }> {
  const doc = new Y.Doc();
  const p = new WebsocketProvider(url, name, doc, {
    // The standard's type: riptide's binaryType and send() are ws's (docs/node-layer.md).
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    // Reconnect at once (the default backs off on timers); tests wait on events, not on time.
    maxBackoffTime: 0,
  });
  cleanups.push(() => {
    p.destroy();
    doc.destroy();
  });
  await new Promise<void>((resolve) => {
    const onSync = (synced: boolean) => {
      if (!synced) return;
      p.off('sync', onSync);
      resolve();
    };
    p.on('sync', onSync);
  });
  return { doc, provider: p };
}

/** Resolves when `check()` holds, tested now and after each change of `p`'s awareness. */
function whenAwareness(p: WebsocketProvider, check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (check()) return resolve();
    const onChange = () => {
      if (!check()) return;
      p.awareness.off('change', onChange);
      resolve();
    };
    p.awareness.on('change', onChange);
  });
}

describe('Yjs: setupWSConnection on a riptide WebSocketServer, WebsocketProvider on riptide WebSocket', () => {
  it('an edit on one document reaches the other, both ways', async () => {
    const { url, wss } = await yjsServer();
    const name = room();
    const a = await provider(url, name);
    const b = await provider(url, name);
    expect(a.provider.ws).toBeInstanceOf(WebSocket);
    expect([...wss.clients].map((c) => c.binaryType)).toEqual(['arraybuffer', 'arraybuffer']);

    const textB = b.doc.getText('t');
    const reachedB = whenDoc(b.doc, () => textB.toString() === 'hello');
    a.doc.getText('t').insert(0, 'hello');
    await reachedB;

    const textA = a.doc.getText('t');
    const reachedA = whenDoc(a.doc, () => textA.toString() === 'hello, riptide');
    textB.insert(5, ', riptide');
    await reachedA;
    expect(b.doc.getText('t').toString()).toBe('hello, riptide');
  });

  it('a client that joins later is synced with what the room already holds', async () => {
    const { url } = await yjsServer();
    const name = room();
    const a = await provider(url, name);
    const map = a.doc.getMap<number>('m');
    map.set('x', 1);
    map.set('y', 2);
    // A second provider's 'sync' comes after the server's state: both entries are there.
    const b = await provider(url, name);
    await whenDoc(b.doc, () => b.doc.getMap('m').size === 2);
    expect(b.doc.getMap('m').toJSON()).toEqual({ x: 1, y: 2 });
  });

  it("awareness: one client's state reaches the other, and is removed when that client leaves", async () => {
    const { url } = await yjsServer();
    const name = room();
    const a = await provider(url, name);
    const b = await provider(url, name);
    const aId = a.doc.clientID;
    const seen = whenAwareness(
      b.provider,
      () => (b.provider.awareness.getStates().get(aId) as { user?: string } | undefined)?.user === 'ana',
    );
    a.provider.awareness.setLocalStateField('user', 'ana');
    await seen;
    // The server removes a closed connection's awareness states and tells the others.
    const gone = whenAwareness(b.provider, () => !b.provider.awareness.getStates().has(aId));
    a.provider.destroy();
    await gone;
  });

  it('after the server terminates its connection, a provider reconnects and edits flow again', async () => {
    const { url, wss } = await yjsServer();
    const name = room();
    const a = await provider(url, name);
    const b = await provider(url, name);
    const closedA = new Promise<number | undefined>((resolve) =>
      a.provider.once('connection-close', (event) => resolve(event?.code)),
    );
    const resynced = new Promise<void>((resolve) => {
      const onSync = (synced: boolean) => {
        if (!synced) return;
        a.provider.off('sync', onSync);
        resolve();
      };
      a.provider.on('sync', onSync);
    });
    // A's connection is the first one the server accepted.
    [...wss.clients][0]!.terminate();
    // RFC 6455 7.1.5: no close frame was received, so the close code is 1006.
    expect(await closedA).toBe(1006);
    await resynced;
    const textB = b.doc.getText('t');
    const reachedB = whenDoc(b.doc, () => textB.toString() === 'back');
    a.doc.getText('t').insert(0, 'back');
    await reachedB;
  });
});
