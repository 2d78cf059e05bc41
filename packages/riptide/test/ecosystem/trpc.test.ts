/**
 * tRPC on riptide, unchanged: `applyWSSHandler` from '@trpc/server/adapters/ws' on a riptide
 * WebSocketServer, and `createWSClient` from '@trpc/client' with its documented `WebSocket` option
 * set to riptide's WebSocket (the browser's standard API). Every wait is on an event or a result;
 * everything is closed after each test.
 */
import type { AddressInfo } from 'node:net';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';

const t = initTRPC.create();

/** Resolved by the `ticks` subscription's teardown, so a test can wait for the server to stop it. */
let stopped: () => void = () => {};

const appRouter = t.router({
  greet: t.procedure.input((v) => String(v)).query(({ input }) => `hello ${input}`),
  add: t.procedure
    .input((v) => v as { a: number; b: number })
    .mutation(({ input }) => ({ sum: input.a + input.b })),
  count: t.procedure
    .input((v) => Number(v))
    .subscription(async function* ({ input }) {
      for (let n = 1; n <= input; n++) yield n;
    }),
  /**
   * Three values, then waits for the client to stop it: its `signal` aborts and its `finally`
   * runs. (An endless loop of yields would never leave the microtask queue for the socket.)
   */
  ticks: t.procedure.subscription(async function* ({ signal }) {
    try {
      yield* [1, 2, 3];
      await new Promise((resolve) => signal?.addEventListener('abort', resolve));
    } finally {
      stopped();
    }
  }),
});
type AppRouter = typeof appRouter;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function trpcServer(): Promise<{ url: string; wss: WebSocketServer }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  // The adapter types `wss` as @types/ws's WebSocketServer (docs/node-layer.md, TypeScript and
  // @types/ws): the one cast. Its run-time use of it is ws's API, which is the claim under test.
  applyWSSHandler({ wss: wss as never, router: appRouter });
  cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, wss };
}

function trpcClient(url: string) {
  const wsClient = createWSClient({
    url,
    // The standard's type: riptide's binaryType and send() are ws's (docs/node-layer.md).
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    // Reconnect at once (the default backs off on timers); tests wait on events, not on time.
    retryDelayMs: () => 0,
  });
  cleanups.push(() => wsClient.close());
  return { wsClient, client: createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] }) };
}

describe('tRPC: applyWSSHandler on a riptide WebSocketServer, createWSClient on riptide WebSocket', () => {
  it('answers a query and a mutation', async () => {
    const { url } = await trpcServer();
    const { client, wsClient } = trpcClient(url);
    expect(await client.greet.query('riptide')).toBe('hello riptide');
    expect(wsClient.connection?.ws).toBeInstanceOf(WebSocket);
    expect(await client.add.mutate({ a: 2, b: 3 })).toEqual({ sum: 5 });
  });

  it('streams a subscription of three values, then completes', async () => {
    const { url } = await trpcServer();
    const { client } = trpcClient(url);
    const values: number[] = [];
    await new Promise<void>((resolve, reject) => {
      client.count.subscribe(3, { onData: (n) => values.push(n), onComplete: resolve, onError: reject });
    });
    expect(values).toEqual([1, 2, 3]);
  });

  it('a subscription the client stops after three values is stopped on the server', async () => {
    const { url } = await trpcServer();
    const { client } = trpcClient(url);
    const serverStopped = new Promise<void>((resolve) => {
      stopped = resolve;
    });
    const values: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const sub = client.ticks.subscribe(undefined, {
        onData: (n) => {
          values.push(n);
          if (values.length === 3) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: reject,
      });
    });
    await serverStopped;
    expect(values).toEqual([1, 2, 3]);
    // The connection outlives the subscription: a query still gets its answer.
    expect(await client.greet.query('after')).toBe('hello after');
  });

  it("the client's close() closes the connection on the server with a clean close", async () => {
    const { url, wss } = await trpcServer();
    const connected = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    const { client, wsClient } = trpcClient(url);
    expect(await client.greet.query('x')).toBe('hello x');
    const socket = await connected;
    const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
    await wsClient.close();
    expect(await closed).toBe(1005);
    expect(wss.clients.size).toBe(0);
  });

  it('after the server terminates the connection, the client reconnects and its queries are answered', async () => {
    const { url, wss } = await trpcServer();
    const connections: WebSocket[] = [];
    const second = new Promise<WebSocket>((resolve) =>
      wss.on('connection', (ws) => {
        connections.push(ws);
        if (connections.length === 2) resolve(ws);
      }),
    );
    const { client, wsClient } = trpcClient(url);
    expect(await client.greet.query('before')).toBe('hello before');
    const reconnected = new Promise<void>((resolve) =>
      wsClient.connectionState.subscribe({
        next: (state) => {
          if (state.state === 'connecting' && state.error !== null) resolve();
        },
      }),
    );
    connections[0]!.terminate();
    await reconnected;
    expect(await client.greet.query('after')).toBe('hello after');
    expect(await second).not.toBe(connections[0]);
  });
});
