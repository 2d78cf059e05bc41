/**
 * express-ws on riptide, unchanged: express-ws constructs `new (require('ws')).Server({ server })`
 * on the app's HTTP server and routes each connection through Express's router; here its
 * `require('ws')` gets riptide (ws-redirect.ts). Clients are riptide's WebSocket. Every wait is
 * on an event; the server and the clients are closed after each test.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { queuedMessages } from './queued-messages.js';
import { requireOnRiptide } from './ws-redirect.js';

type Handler = (
  ws: WebSocket,
  req: { params: Record<string, string>; query: Record<string, string> },
  next: () => void,
) => void;
type WsApp = {
  ws(route: string, ...handlers: Handler[]): WsApp;
  use(path: string, router: unknown): void;
  get(route: string, handler: (req: unknown, res: { send(s: string): void }) => void): void;
  listen(port: number, host: string, cb: () => void): HttpServer;
};
type ExpressWs = (app: unknown) => { app: WsApp; getWss(): WebSocketServer; applyTo(router: WsApp): void };

const { module: expressWs } = requireOnRiptide<ExpressWs>('express-ws', ['express-ws']);
// Express itself, as express-ws loads it (the same copy: it patches its Router).
const express = requireOnRiptide<(() => unknown) & { Router(): WsApp }>('express', []).module;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(app: WsApp): Promise<string> {
  let server: HttpServer | undefined;
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve);
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server!.closeAllConnections();
        server!.close(() => resolve());
      }),
  );
  return `127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

/** A connected client, and its messages in order: queued from the start (one may come with the 101). */
async function open(
  url: string,
): Promise<{ ws: WebSocket; next: () => Promise<string>; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  cleanups.push(() => ws.terminate());
  const next = queuedMessages(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, next, closed };
}

describe('express-ws with its ws require answered by riptide', () => {
  it('runs on a riptide WebSocketServer', () => {
    const { getWss } = expressWs(express());
    expect(getWss()).toBeInstanceOf(WebSocketServer);
    getWss().close();
  });

  it('routes a connection by path, params and query to its handler, which echoes', async () => {
    const { app } = expressWs(express());
    app.ws('/rooms/:room', (ws, req) => {
      ws.send(`joined ${req.params.room} as ${req.query.user}`);
      ws.on('message', (data) => ws.send(`${req.params.room}: ${data}`));
    });
    app.get('/plain', (_req, res) => res.send('plain http still works'));
    const host = await listen(app);
    const { ws, next } = await open(`ws://${host}/rooms/lobby?user=ana`);
    expect(await next()).toBe('joined lobby as ana');
    ws.send('hi');
    expect(await next()).toBe('lobby: hi');
    expect(await (await fetch(`http://${host}/plain`)).text()).toBe('plain http still works');
  });

  it("runs Express middleware before the handler; a Router's ws route works", async () => {
    const { app, applyTo } = expressWs(express());
    const router = express.Router();
    // express-ws patches express 4's Router factory; on express 5 a router gets .ws from applyTo.
    applyTo(router);
    router.ws('/echo', (ws) => ws.on('message', (data) => ws.send(String(data))));
    app.use('/api', router);
    // express-ws hands every middleware of a ws route (ws, req, next).
    app.ws(
      '/private',
      (ws, req, next) => {
        if (req.query.token !== 'secret') return ws.close(4403, 'Forbidden');
        (req as { user?: string }).user = 'ana';
        next();
      },
      (ws, req) => ws.send(`welcome ${(req as { user?: string }).user}`),
    );
    const host = await listen(app);
    const refused = await open(`ws://${host}/private`);
    expect(await refused.closed).toBe(4403);
    const welcomed = await open(`ws://${host}/private?token=secret`);
    expect(await welcomed.next()).toBe('welcome ana');
    const { ws, next } = await open(`ws://${host}/api/echo`);
    ws.send('through the router');
    expect(await next()).toBe('through the router');
  });

  it('closes a connection no ws route matches', async () => {
    const { app } = expressWs(express());
    const host = await listen(app);
    expect(await (await open(`ws://${host}/nowhere`)).closed).toBe(1005);
  });
});
