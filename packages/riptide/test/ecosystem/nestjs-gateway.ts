/**
 * A NestJS gateway on @nestjs/platform-ws's WsAdapter, and the tests it must pass; run on riptide
 * by nestjs-ws.test.ts and on ws by nestjs-ws-on-ws.test.ts, so both must give the same results.
 * Nest 12 is ESM; its WsAdapter loads ws in its constructor with
 * `createRequire(import.meta.url)('ws')` and keeps what it got for the whole process (Nest's
 * loadPackageSync caches it), hence one file per library: vitest runs each file in its own process.
 *
 * The app is a real Nest application on @nestjs/platform-express; the gateway shares its HTTP
 * server (no port in the gateway's metadata: the adapter makes a `noServer` server per path and
 * calls `handleUpgrade` itself). The tests' TypeScript setup has no `experimentalDecorators`, so
 * Nest's decorator functions are applied by hand, which is what the `@` syntax compiles to.
 * Clients are riptide's WebSocket; every wait is on an event or on a reply.
 */
import 'reflect-metadata';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { SubscribeMessage, WebSocketGateway, WebSocketServer as WsServerProperty } from '@nestjs/websockets';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { queuedMessages } from './queued-messages.js';
import { riptideCjsEntry } from './ws-redirect.js';

const riptideCjs = createRequire(import.meta.url)(riptideCjsEntry) as typeof import('../../src/index.js');

type RiptideServer = import('../../src/index.js').WebSocketServer;

/** The gateway: `echo` answers its sender, `shout` goes to every client, disconnects are kept. */
class ChatGateway {
  /** The server the adapter made (riptide's or ws's: the tests use the API both have). */
  server!: RiptideServer;
  readonly connected: string[] = [];
  readonly disconnected: string[] = [];
  private readonly names = new WeakMap<object, string>();
  private readonly onDisconnect: ((name: string) => void)[] = [];

  handleConnection(client: WebSocket, request: { url?: string }): void {
    const name = new URL(request.url ?? '/', 'ws://x').searchParams.get('name') ?? '?';
    this.names.set(client, name);
    this.connected.push(name);
  }

  handleDisconnect(client: WebSocket): void {
    const name = this.names.get(client) ?? '?';
    this.disconnected.push(name);
    for (const f of this.onDisconnect.splice(0)) f(name);
  }

  /** Resolves with the name of the next client that disconnects. */
  nextDisconnect(): Promise<string> {
    return new Promise((resolve) => this.onDisconnect.push(resolve));
  }

  echo(client: WebSocket, data: { text: string }): { event: string; data: string } {
    return { event: 'echo', data: `${this.names.get(client)}: ${data.text}` };
  }

  shout(client: WebSocket, data: { text: string }): void {
    const message = JSON.stringify({ event: 'shout', data: `${this.names.get(client)}: ${data.text}` });
    for (const c of this.server.clients) c.send(message);
  }
}

// What `@WebSocketGateway({ path: '/chat' }) class ChatGateway { @WebSocketServer() server; ... }`
// with `@SubscribeMessage('echo')` and `@SubscribeMessage('shout')` on the methods compiles to.
function method(name: 'echo' | 'shout'): [object, string, PropertyDescriptor] {
  return [ChatGateway.prototype, name, Object.getOwnPropertyDescriptor(ChatGateway.prototype, name)!];
}
SubscribeMessage('echo')(...method('echo'));
SubscribeMessage('shout')(...method('shout'));
WsServerProperty()(ChatGateway.prototype, 'server');
WebSocketGateway({ path: '/chat' })(ChatGateway);

class ChatModule {}
Module({ providers: [ChatGateway] })(ChatModule);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function nestApp(): Promise<{ app: INestApplication; gateway: ChatGateway; host: string }> {
  const app = await NestFactory.create(ChatModule, { logger: false });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  cleanups.push(() => app.close());
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, gateway: app.get(ChatGateway), host: `127.0.0.1:${port}` };
}

async function client(host: string, name: string): Promise<{ ws: WebSocket; next: () => Promise<string> }> {
  const ws = new WebSocket(`ws://${host}/chat?name=${name}`);
  cleanups.push(() => ws.terminate());
  const next = queuedMessages(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, next };
}

/** The tests; `library` is the ws the adapter is expected to have loaded. */
export function gatewaySuite(library: 'riptide' | 'ws'): void {
  describe(`@nestjs/platform-ws WsAdapter on ${library}`, () => {
    it(`the gateway runs on a ${library} WebSocketServer at its path`, async () => {
      const { gateway } = await nestApp();
      expect(gateway.server instanceof riptideCjs.WebSocketServer).toBe(library === 'riptide');
      expect((gateway.server as unknown as { path: string }).path).toBe('/chat');
    });

    it('a message in, its reply out to the sender only; what no handler takes is dropped', async () => {
      const { gateway, host } = await nestApp();
      const a = await client(host, 'ana');
      const b = await client(host, 'bo');
      // Not JSON, and an event no handler subscribes to: the adapter drops both without a reply.
      a.ws.send('not json');
      a.ws.send(JSON.stringify({ event: 'nobody', data: {} }));
      a.ws.send(JSON.stringify({ event: 'echo', data: { text: 'hi' } }));
      expect(JSON.parse(await a.next())).toEqual({ event: 'echo', data: 'ana: hi' });
      // B's own echo is the barrier: nothing of A's reached B before it.
      b.ws.send(JSON.stringify({ event: 'echo', data: { text: 'me' } }));
      expect(JSON.parse(await b.next())).toEqual({ event: 'echo', data: 'bo: me' });
      expect(gateway.connected).toEqual(['ana', 'bo']);
    });

    it('a broadcast through the injected server reaches both clients', async () => {
      const { host } = await nestApp();
      const a = await client(host, 'ana');
      const b = await client(host, 'bo');
      a.ws.send(JSON.stringify({ event: 'shout', data: { text: 'all' } }));
      const shout = { event: 'shout', data: 'ana: all' };
      expect(JSON.parse(await a.next())).toEqual(shout);
      expect(JSON.parse(await b.next())).toEqual(shout);
    });

    it('a client that closes is seen by handleDisconnect, and broadcasts go on to the others', async () => {
      const { gateway, host } = await nestApp();
      const a = await client(host, 'ana');
      const b = await client(host, 'bo');
      const gone = gateway.nextDisconnect();
      a.ws.close(1000, 'bye');
      expect(await gone).toBe('ana');
      expect(gateway.server.clients.size).toBe(1);
      b.ws.send(JSON.stringify({ event: 'shout', data: { text: 'alone' } }));
      expect(JSON.parse(await b.next())).toEqual({ event: 'shout', data: 'bo: alone' });
      expect(gateway.disconnected).toEqual(['ana']);
    });

    it('a path no gateway serves is refused without a WebSocket', async () => {
      const { host } = await nestApp();
      const ws = new WebSocket(`ws://${host}/elsewhere`);
      cleanups.push(() => ws.terminate());
      const error = await new Promise<Error>((resolve) => ws.once('error', resolve));
      expect(error.message).toBe('socket hang up');
    });
  });
}
