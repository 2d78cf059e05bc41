/**
 * Hono's Node WebSocket helper on riptide, unchanged: @hono/node-ws constructs
 * `new (require('ws')).WebSocketServer({ noServer: true })`, answers the HTTP server's 'upgrade'
 * through the Hono app (its middleware can refuse) and calls `handleUpgrade`; here its
 * `require('ws')` gets riptide (ws-redirect.ts: the package has no option for it). The app is
 * served by @hono/node-server. Clients are riptide's WebSocket. Every wait is on an event; the
 * server and the clients are closed after each test.
 */

import type { Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { queuedMessages } from './queued-messages.js';
import { requireOnRiptide, riptideCjsEntry } from './ws-redirect.js';

type NodeWs = typeof import('@hono/node-ws');
type Hono = typeof import('hono');
type NodeServer = typeof import('@hono/node-server');

const { createNodeWebSocket } = requireOnRiptide<NodeWs>('@hono/node-ws', ['@hono/node-ws']).module;
// Hono and its server as @hono/node-ws loads them (CommonJS): one copy of hono/ws's helper.
const { Hono } = requireOnRiptide<Hono>('hono', []).module;
const { serve } = requireOnRiptide<NodeServer>('@hono/node-server', []).module;
const riptideCjs = createRequire(import.meta.url)(riptideCjsEntry) as typeof import('../../src/index.js');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Closed = { code: number; reason: string };

/**
 * An app with a ws route `/rooms/:room` (greets, echoes text and binary, records its close) behind
 * a middleware that refuses a request without `?token=secret` with 401.
 */
async function honoServer(): Promise<{ host: string; closes: Promise<Closed>; wss: unknown }> {
  const app = new Hono();
  const { injectWebSocket, upgradeWebSocket, wss } = createNodeWebSocket({ app });
  let closed: (c: Closed) => void = () => {};
  const closes = new Promise<Closed>((resolve) => {
    closed = resolve;
  });
  app.use('/rooms/*', async (c, next) => {
    if (c.req.query('token') !== 'secret') return c.text('no', 401);
    await next();
  });
  app.get(
    '/rooms/:room',
    upgradeWebSocket((c) => ({
      onOpen: (_event, ws) => ws.send(`joined ${c.req.param('room')}`),
      onMessage: (event, ws) => {
        if (typeof event.data === 'string') ws.send(`echo ${event.data}`);
        else ws.send(new Uint8Array(event.data as ArrayBuffer).reverse());
      },
      onClose: (event) => closed({ code: event.code, reason: event.reason }),
    })),
  );
  app.get('/plain', (c) => c.text('plain http still works'));
  let server: HttpServer | undefined;
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve()) as HttpServer;
  });
  injectWebSocket(server!);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server!.closeAllConnections();
        server!.close(() => resolve());
      }),
  );
  return { host: `127.0.0.1:${(server!.address() as AddressInfo).port}`, closes, wss };
}

describe('@hono/node-ws with its ws require answered by riptide', () => {
  it('runs on a riptide WebSocketServer', async () => {
    const { wss } = await honoServer();
    expect(wss).toBeInstanceOf(riptideCjs.WebSocketServer);
  });

  it('upgrades through the app: greets, echoes text and binary, sees the client close', async () => {
    const { host, closes } = await honoServer();
    const ws = new WebSocket(`ws://${host}/rooms/lobby?token=secret`);
    cleanups.push(() => ws.terminate());
    const next = queuedMessages(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(await next()).toBe('joined lobby');
    ws.send('hi');
    expect(await next()).toBe('echo hi');

    const binary = new Promise<Buffer>((resolve) =>
      ws.once('message', (data: Buffer, isBinary: boolean) => isBinary && resolve(data)),
    );
    ws.send(new Uint8Array([1, 2, 3]));
    expect([...(await binary)]).toEqual([3, 2, 1]);

    ws.close(4001, 'bye');
    expect(await closes).toEqual({ code: 4001, reason: 'bye' });
    expect(await (await fetch(`http://${host}/plain`)).text()).toBe('plain http still works');
  });

  it("a request the app's middleware refuses gets its status, not a WebSocket", async () => {
    const { host } = await honoServer();
    const ws = new WebSocket(`ws://${host}/rooms/lobby`);
    cleanups.push(() => ws.terminate());
    const error = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(error.message).toBe('Unexpected server response: 401');
  });
});
