/**
 * Hocuspocus (a Yjs collaboration backend) on riptide. Its `Server` (version 3; version 4 moved
 * to crossws and needs Node 22) builds `new (require('ws')).WebSocketServer({ noServer: true })`
 * beside its own HTTP server and calls `handleUpgrade` after its `onUpgrade` hooks. The CommonJS
 * build loaded through ws-redirect.ts gets riptide; the ESM build this file imports keeps the real
 * ws. The same conversation (authentication refused and accepted, sync both ways, a stateless
 * round trip, a reconnect after the server drops a connection) runs on both, with
 * @hocuspocus/provider clients on riptide's WebSocket (its `WebSocketPolyfill` option), and the
 * two transcripts must be equal.
 *
 * The provider reconnects on a backoff timer: its delays are set to 0 here. Every wait is on an
 * event of the provider or of a document.
 *
 * Yjs warns once that it "was already imported": the CommonJS server loads yjs's CommonJS build,
 * the rest of this file its ESM build. Each document lives in one copy (the server's in the
 * CommonJS one, the providers' in the ESM one) and only bytes cross between them, so the
 * constructor checks that warning is about never meet an object of the other copy.
 */
import { createRequire } from 'node:module';
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import * as onWs from '@hocuspocus/server';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { WebSocket } from '../../src/index.js';
import { requireOnRiptide, riptideCjsEntry } from './ws-redirect.js';
import { whenDoc } from './y-doc.js';

type Hocuspocus = typeof onWs;
type HocuspocusServer = InstanceType<Hocuspocus['Server']>;

const onRiptide = requireOnRiptide<Hocuspocus>('@hocuspocus/server', ['@hocuspocus/server']).module;
const riptideCjs = createRequire(import.meta.url)(riptideCjsEntry) as typeof import('../../src/index.js');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server that takes the token 'secret' only and answers a stateless `ping x` with `pong x`. */
async function hocuspocusServer(h: Hocuspocus): Promise<{ server: HocuspocusServer; url: string }> {
  const server = new h.Server({
    port: 0,
    address: '127.0.0.1',
    quiet: true,
    stopOnSignals: false,
    async onAuthenticate({ token }) {
      // No message: Hocuspocus logs a hook's error message to the console.
      if (token !== 'secret') throw new Error();
    },
    async onStateless({ payload, connection }) {
      connection.sendStateless(payload.replace('ping', 'pong'));
    },
  });
  await server.listen();
  cleanups.push(() => {
    for (const ws of server.webSocketServer.clients) ws.terminate();
    return server.destroy();
  });
  return { server, url: `ws://127.0.0.1:${server.address.port}` };
}

/**
 * A provider on its own socket: a HocuspocusProviderWebsocket on riptide's WebSocket, attached by
 * hand as the provider's documentation says for a socket it does not own.
 */
function provider(url: string, name: string, token: string): HocuspocusProvider {
  const socket = new HocuspocusProviderWebsocket({
    url,
    WebSocketPolyfill: WebSocket,
    // Reconnect at once: the default backs off on timers, and tests wait on events, not on time.
    delay: 0,
    minDelay: 0,
    maxDelay: 0,
    jitter: false,
  });
  const p = new HocuspocusProvider({ websocketProvider: socket, name, token, document: new Y.Doc() });
  p.attach();
  cleanups.push(() => {
    p.destroy();
    socket.destroy();
    p.document.destroy();
  });
  return p;
}

function once<T>(p: HocuspocusProvider, event: string): Promise<T> {
  return new Promise((resolve) => {
    const f = (payload: T) => {
      p.off(event, f);
      resolve(payload);
    };
    p.on(event, f);
  });
}

/** The conversation; what the clients saw, in order. */
async function conversation(h: Hocuspocus): Promise<unknown[]> {
  const { server, url } = await hocuspocusServer(h);
  const seen: unknown[] = [];

  const intruder = provider(url, 'notes', 'guess');
  const refused = await once<{ reason: string }>(intruder, 'authenticationFailed');
  seen.push(['refused', refused.reason]);
  intruder.destroy();
  intruder.configuration.websocketProvider.destroy();

  const a = provider(url, 'notes', 'secret');
  const b = provider(url, 'notes', 'secret');
  await Promise.all([once(a, 'synced'), once(b, 'synced')]);
  seen.push(['authenticated', a.isAuthenticated, b.isAuthenticated]);

  const textB = b.document.getText('t');
  const reachedB = whenDoc(b.document, () => textB.toString() === 'hello');
  a.document.getText('t').insert(0, 'hello');
  await reachedB;
  const textA = a.document.getText('t');
  const reachedA = whenDoc(a.document, () => textA.toString() === 'hello, riptide');
  textB.insert(5, ', riptide');
  await reachedA;
  seen.push(['text', textA.toString(), textB.toString()]);

  const pong = once<{ payload: string }>(a, 'stateless');
  a.sendStateless('ping 1');
  seen.push(['stateless', (await pong).payload]);

  // The server drops both connections (no close frame): both reconnect and sync again, and
  // edits flow again.
  const closed = [a, b].map((p) => once<{ event: { code: number } }>(p, 'close'));
  const resynced = [a, b].map((p) => once(p, 'synced'));
  for (const ws of server.webSocketServer.clients) ws.terminate();
  seen.push(['dropped', ...(await Promise.all(closed)).map((c) => c.event.code)]);
  await Promise.all(resynced);
  const back = whenDoc(b.document, () => textB.toString() === 'back: hello, riptide');
  textA.insert(0, 'back: ');
  await back;
  // Hocuspocus counts the connections that passed authentication and are open.
  seen.push(['after reconnect', textB.toString(), server.hocuspocus.getConnectionsCount()]);
  return seen;
}

const expected = [
  ['refused', 'permission-denied'],
  ['authenticated', true, true],
  ['text', 'hello, riptide', 'hello, riptide'],
  ['stateless', 'pong 1'],
  // RFC 6455 7.1.5: no close frame was received, so the close code is 1006.
  ['dropped', 1006, 1006],
  ['after reconnect', 'back: hello, riptide', 2],
];

describe('@hocuspocus/server with its ws require answered by riptide', () => {
  it("runs on a riptide WebSocketServer; its ESM build on ws's", async () => {
    expect((await hocuspocusServer(onRiptide)).server.webSocketServer).toBeInstanceOf(
      riptideCjs.WebSocketServer,
    );
    expect((await hocuspocusServer(onWs)).server.webSocketServer).not.toBeInstanceOf(
      riptideCjs.WebSocketServer,
    );
  });

  it('the conversation on riptide is the one ws gives', async () => {
    const onRiptideSeen = await conversation(onRiptide);
    expect(onRiptideSeen).toEqual(expected);
    expect(onRiptideSeen).toEqual(await conversation(onWs));
  });
});
