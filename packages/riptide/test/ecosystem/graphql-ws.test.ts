/**
 * graphql-ws on riptide, unchanged: its ws adapter (`useServer` from 'graphql-ws/use/ws') on a
 * riptide WebSocketServer, and its client with `webSocketImpl` set to riptide's WebSocket (its
 * documented option for Node). Every wait is on an event or a result; everything is disposed
 * after each test.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  type Client,
  CloseCode,
  createClient,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  type ServerOptions,
} from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';

// graphql as Node loads it for graphql-ws (its CommonJS main): vite would resolve the test's own
// import to graphql's .mjs, a second copy whose schema graphql-ws's copy refuses.
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const schema = buildSchema(`
  type Query { hello(name: String!): String! }
  type Subscription { countdown(from: Int!): Int! }
`);

const roots = {
  query: { hello: ({ name }: { name: string }) => `hello ${name}` },
  subscription: {
    countdown: async function* ({ from }: { from: number }) {
      for (let n = from; n > 0; n--) yield { countdown: n };
    },
  },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A riptide WebSocketServer on a free port with graphql-ws's ws adapter on it. */
async function graphqlServer(
  options: Omit<ServerOptions, 'schema' | 'roots'> = {},
  keepAlive?: number,
): Promise<{ url: string; wss: WebSocketServer }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  // graphql-ws types its parameter as @types/ws's WebSocketServer, which declares a `path` field
  // ws itself lacks (docs/node-layer.md, TypeScript and @types/ws): the one cast left. The run
  // time API is ws's, which is the claim under test.
  const server = useServer({ schema, roots, ...options }, wss as never, keepAlive);
  cleanups.push(() => server.dispose());
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/graphql`, wss };
}

function graphqlClient(url: string, options: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, ...options });
  cleanups.push(() => client.dispose());
  return client;
}

describe('graphql-ws: useServer on a riptide WebSocketServer, the client on riptide WebSocket', () => {
  it('answers a query', async () => {
    const { url } = await graphqlServer();
    const client = graphqlClient(url);
    const results = [];
    for await (const result of client.iterate({ query: 'query { hello(name: "riptide") }' })) {
      results.push(result);
    }
    expect(results).toEqual([{ data: { hello: 'hello riptide' } }]);
  });

  it('streams a subscription of three events, then completes', async () => {
    const { url } = await graphqlServer();
    const client = graphqlClient(url);
    const events = [];
    for await (const result of client.iterate({ query: 'subscription { countdown(from: 3) }' })) {
      events.push(result);
    }
    expect(events).toEqual([
      { data: { countdown: 3 } },
      { data: { countdown: 2 } },
      { data: { countdown: 1 } },
    ]);
  });

  it('selects the graphql-transport-ws subprotocol (set by useServer on the server options)', async () => {
    const { url } = await graphqlServer();
    // A client offering another protocol first: graphql-ws's handleProtocols must pick its own.
    const ws = new WebSocket(url, ['chat', GRAPHQL_TRANSPORT_WS_PROTOCOL]);
    cleanups.push(() => ws.terminate());
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(ws.protocol).toBe(GRAPHQL_TRANSPORT_WS_PROTOCOL);
    ws.send(JSON.stringify({ type: 'connection_init' }));
    const [reply] = await new Promise<[Buffer]>((resolve) => ws.once('message', (d: Buffer) => resolve([d])));
    expect(JSON.parse(String(reply))).toEqual({ type: 'connection_ack' });
  });

  it("useServer's keep-alive: its ping()s are answered by the client's pongs, the connection stays", async () => {
    // Only setInterval is faked: each advance runs useServer's ping; its wait for the pong is a
    // real one-minute timer, so a slow machine cannot make it terminate the connection.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { url, wss } = await graphqlServer({}, 60_000);
      const connected = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
      const client = graphqlClient(url, { lazy: false });
      const socket = await connected;
      for (let i = 0; i < 3; i++) {
        const pong = new Promise((resolve) => socket.once('pong', resolve));
        vi.advanceTimersByTime(60_000);
        await pong;
      }
      expect(socket.readyState).toBe(WebSocket.OPEN);
      const results = [];
      for await (const result of client.iterate({ query: 'query { hello(name: "still") }' })) {
        results.push(result);
      }
      expect(results).toEqual([{ data: { hello: 'hello still' } }]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a connection_init refused by onConnect closes with graphql-ws's 4403 Forbidden", async () => {
    const { url } = await graphqlServer({ onConnect: () => false });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      const client = graphqlClient(url, {
        on: { closed: (event) => resolve(event as { code: number; reason: string }) },
      });
      client.subscribe({ query: 'query { hello(name: "x") }' }, { next() {}, error() {}, complete() {} });
    });
    const event = await closed;
    expect(event.code).toBe(CloseCode.Forbidden);
    expect(event.reason).toBe('Forbidden');
  });
});
