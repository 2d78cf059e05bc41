/**
 * ethers' WebSocketProvider on riptide, unchanged. Given a URL, it makes `new WebSocket(url)` with
 * ws's named export (`require('ws').WebSocket`, its own pinned copy of ws), which ws-redirect.ts
 * answers with riptide's; it then drives the socket through the `onopen` / `onmessage` properties
 * alone, a part of ws's browser-style API that no other ecosystem test leans on.
 *
 * The peer is a small JSON-RPC node on riptide's WebSocketServer: it answers the few methods the
 * flows need and pushes `eth_subscription` notifications when a test says so. Each flow also runs
 * with the provider's documented other form, a function that makes the socket, given ws's own
 * WebSocket: the flow must come out the same.
 *
 * Every wait is on a reply, a provider event or a server event; everything is closed after each test.
 */
import type { AddressInfo } from 'node:net';
import type * as Ethers from 'ethers';
import { afterEach, describe, expect, it } from 'vitest';
import * as realWs from 'ws';
import { type WebSocket, WebSocketServer } from '../../src/index.js';
import { requireOnRiptide } from './ws-redirect.js';

const { module: ethers, riptide } = requireOnRiptide<typeof Ethers>('ethers', ['ethers']);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Rpc = { jsonrpc: '2.0'; id: number; method: string; params: unknown[] };

/**
 * A JSON-RPC node: chain 1337 at block 16, a balance per address (its last byte, in wei), and
 * newHeads subscriptions. `push(n)` notifies every subscriber of block n.
 */
async function node() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const subscribers = new Map<string, WebSocket>();
  const methods: string[] = [];
  const waiting: { method: string; resolve: () => void }[] = [];
  let nextSub = 1;
  const answer = (ws: WebSocket, { id, method, params }: Rpc) => {
    methods.push(method);
    let result: unknown;
    switch (method) {
      case 'eth_chainId':
        result = '0x539';
        break;
      case 'eth_blockNumber':
        result = '0x10';
        break;
      case 'eth_getBalance':
        result = `0x${String(params[0]).slice(-2)}`;
        break;
      case 'eth_subscribe': {
        result = `0x${(nextSub++).toString(16)}`;
        subscribers.set(result as string, ws);
        break;
      }
      case 'eth_unsubscribe':
        result = subscribers.delete(String(params[0]));
        break;
      default:
        return { jsonrpc: '2.0', id, error: { code: -32601, message: `no method ${method}` } };
    }
    for (const w of waiting.filter((w) => w.method === method)) {
      waiting.splice(waiting.indexOf(w), 1);
      queueMicrotask(w.resolve);
    }
    return { jsonrpc: '2.0', id, result };
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const request = JSON.parse(String(data)) as Rpc | Rpc[];
      ws.send(
        JSON.stringify(Array.isArray(request) ? request.map((r) => answer(ws, r)) : answer(ws, request)),
      );
    });
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    wss,
    methods,
    /** Resolves once the node has answered a call of `method` (after the calls so far). */
    answered: (method: string) => new Promise<void>((resolve) => waiting.push({ method, resolve })),
    push(block: number) {
      for (const [subscription, ws] of subscribers) {
        ws.send(
          JSON.stringify({
            jsonrpc: '2.0',
            method: 'eth_subscription',
            params: {
              subscription,
              result: { number: `0x${block.toString(16)}`, hash: `0x${'ab'.repeat(32)}` },
            },
          }),
        );
      }
    },
    subscriberCount: () => subscribers.size,
  };
}

/** The two ways a WebSocketProvider gets its socket. */
const sockets = {
  'a URL (its own ws import, answered by riptide)': (url: string) => url,
  "a function making ws's own WebSocket": (url: string) => () => new realWs.WebSocket(url) as never,
} as const;

function provider(target: string | (() => never)): Ethers.WebSocketProvider {
  // staticNetwork would skip the eth_chainId probe: the flows want it, so none is given.
  const p = new ethers.WebSocketProvider(target);
  cleanups.push(() => p.destroy());
  return p;
}

it("a WebSocketProvider given a URL makes riptide's WebSocket", async () => {
  const { url } = await node();
  const p = provider(url);
  await p.getBlockNumber();
  expect(p.websocket).toBeInstanceOf(riptide);
  expect(p.websocket.readyState).toBe(riptide.OPEN);
});

for (const [name, target] of Object.entries(sockets)) {
  describe(`ethers' WebSocketProvider with ${name}`, () => {
    it('detects the network and answers calls, several in flight at once', async () => {
      const { url, methods } = await node();
      const p = provider(target(url));
      expect((await p.getNetwork()).chainId).toBe(1337n);
      expect(await p.getBlockNumber()).toBe(16);
      const addresses = Array.from({ length: 20 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`);
      const balances = await Promise.all(addresses.map((a) => p.getBalance(a)));
      expect(balances).toEqual(addresses.map((a) => BigInt(`0x${a.slice(-2)}`)));
      expect(methods[0]).toBe('eth_chainId');
      expect(methods.filter((m) => m === 'eth_getBalance').length).toBe(20);
    });

    it('subscribes to new blocks (eth_subscribe), gets the pushed ones, and unsubscribes', async () => {
      const n = await node();
      const p = provider(target(n.url));
      const subscribed = n.answered('eth_subscribe');
      const blocks: number[] = [];
      let third: () => void = () => {};
      const threeBlocks = new Promise<void>((resolve) => {
        third = resolve;
      });
      const onBlock = (b: number) => {
        blocks.push(b);
        if (blocks.length === 3) third();
      };
      await p.on('block', onBlock);
      await subscribed;
      expect(n.subscriberCount()).toBe(1);
      for (const b of [17, 18, 19]) n.push(b);
      await threeBlocks;
      expect(blocks).toEqual([17, 18, 19]);

      const unsubscribed = n.answered('eth_unsubscribe');
      await p.off('block', onBlock);
      await unsubscribed;
      expect(n.subscriberCount()).toBe(0);
      // ethers does not wait for the unsubscribe's reply: one more round trip on the same socket
      // brings it in first, so that destroy() after the test cancels nothing.
      expect(await p.getBlockNumber()).toBe(16);
      expect(n.methods.slice(-2)).toEqual(['eth_unsubscribe', 'eth_blockNumber']);
    });

    it("destroy() closes the socket: the node sees a close without a code (1005), as ws's close() sends", async () => {
      const n = await node();
      const p = provider(target(n.url));
      await p.getBlockNumber();
      const [client] = n.wss.clients;
      const closed = new Promise<number>((resolve) => client.once('close', (code: number) => resolve(code)));
      await p.destroy();
      expect(await closed).toBe(1005);
    });
  });
}
