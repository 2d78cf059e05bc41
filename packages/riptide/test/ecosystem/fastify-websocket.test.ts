/**
 * @fastify/websocket on riptide, unchanged: the plugin builds `new (require('ws')).Server({
 * noServer: true })`, routes each upgrade through Fastify (hooks, params) and hands it to
 * handleUpgrade; its `require('ws')` gets riptide here (ws-redirect.ts). Its documented test
 * helper, `fastify.injectWS()`, makes a client WebSocket over an in-memory stream pair with
 * ws's `new WebSocket(null, undefined, { isServer: false })` and `setSocket()`. Every wait is on
 * an event; the app and the clients are closed after each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { queuedMessages } from './queued-messages.js';
import { requireOnRiptide } from './ws-redirect.js';

type Handler = (
  socket: WebSocket,
  req: { params: Record<string, string>; query: Record<string, string> },
) => void;
type App = {
  register(plugin: unknown, options?: unknown): Promise<void>;
  addHook(
    name: 'preValidation',
    hook: (
      req: { query: Record<string, string> },
      reply: { code(n: number): { send(s: string): Promise<void> } },
    ) => Promise<void>,
  ): void;
  get(path: string, options: { websocket: true }, handler: Handler): void;
  listen(options: { port: number; host: string }): Promise<string>;
  ready(): Promise<void>;
  close(): Promise<void>;
  websocketServer: WebSocketServer;
  injectWS(path: string, context?: { headers: Record<string, string> }): Promise<WebSocket>;
};

const plugin = requireOnRiptide<{ default: unknown }>('@fastify/websocket', ['@fastify/websocket']).module;
const fastify = requireOnRiptide<{ default: () => App }>('fastify', []).module.default;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function app(): Promise<App> {
  const a = fastify();
  cleanups.push(() => a.close());
  await a.register(plugin.default);
  a.addHook('preValidation', async (req, reply) => {
    if (req.query.token === 'bad') await reply.code(401).send('no');
  });
  a.get('/echo/:name', { websocket: true }, (socket, req) => {
    socket.send(`hello ${req.params.name}`);
    socket.on('message', (data) => socket.send(`${req.params.name}: ${data}`));
  });
  // For injectWS: it reads the 101 as one chunk and drops what shares it, so a greeting sent
  // at once is lost (on ws as on riptide); this route speaks only when spoken to.
  a.get('/talk', { websocket: true }, (socket) => {
    socket.on('message', (data) => socket.send(`heard: ${data}`));
  });
  return a;
}

describe('@fastify/websocket with its ws require answered by riptide', () => {
  it('routes an upgrade through Fastify to the handler over a real socket; a hook can refuse it', async () => {
    const a = await app();
    expect(a.websocketServer).toBeInstanceOf(WebSocketServer);
    const address = await a.listen({ port: 0, host: '127.0.0.1' });
    const url = address.replace('http', 'ws');
    const ws = new WebSocket(`${url}/echo/ana`);
    cleanups.push(() => ws.terminate());
    const next = queuedMessages(ws);
    expect(await next()).toBe('hello ana');
    ws.send('hi');
    expect(await next()).toBe('ana: hi');
    const refused = new WebSocket(`${url}/echo/ana?token=bad`);
    const [err] = await new Promise<[Error]>((resolve) => refused.once('error', (e: Error) => resolve([e])));
    expect(err.message).toBe('Unexpected server response: 401');
  });

  it("injectWS(): a client over an in-memory stream pair, attached with ws's setSocket()", async () => {
    const a = await app();
    await a.ready();
    // injectWS's request has no Host header unless given one: riptide refuses such a handshake
    // (RFC 6455 4.2.1; ws accepts it), so the test gives one (docs/node-layer.md).
    const ws = await a.injectWS('/talk', { headers: { host: 'localhost' } });
    cleanups.push(() => ws.terminate());
    expect(ws).toBeInstanceOf(WebSocket);
    const next = queuedMessages(ws);
    ws.send('in memory');
    expect(await next()).toBe('heard: in memory');
    ws.send(Buffer.alloc(70_000, 1));
    expect(await next()).toBe(`heard: ${Buffer.alloc(70_000, 1)}`);
    await expect(a.injectWS('/talk')).rejects.toThrow('Unexpected server response: 400');
  });
});
