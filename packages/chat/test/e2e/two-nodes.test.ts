/**
 * The real page against two chat nodes sharing one Redis (README-redis.md), in chromium: the nodes
 * are child processes of the built server (test/redis/helpers.ts), behind one TCP proxy written
 * here, so both pages see one origin (the session cookie and the Origin check work) while the test
 * chooses the node each new connection goes to.
 *
 *   alice's page ──┐                 ┌──▶ node A ──┐
 *                  ├──▶ NodeSwitch ──┤             ├──▶ redis-server
 *   bob's page   ──┘   (one port)    └──▶ node B ──┘
 *
 * Messages, presence and typing cross the nodes; node A killed with SIGKILL while alice's message is
 * in flight (its request held back, or its acknowledgement held back after it was stored): alice's
 * page reconnects through the proxy to B by itself, and her message is shown exactly once on both
 * pages. No sleeps: every wait is on the DOM or on the proxy's record of connections.
 */
import { EventEmitter, once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatNode, redisServerForThisFile, SimClient } from '../redis/helpers.js';
import { messageTexts, openRoom, sendMessage, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();
const redis = redisServerForThisFile();

/** One connection through the proxy: where it went, its request line, and whether it is held. */
interface Route {
  readonly node: number;
  /** The first line the client sent (`GET /ws HTTP/1.1` for a WebSocket), once it arrived. */
  request: string;
  /** Bytes from the page kept back (never reach the node) while true. */
  holdRequests: boolean;
  /** Bytes from the node kept back (never reach the page) while true. */
  holdReplies: boolean;
  readonly client: Socket;
}

/**
 * A TCP proxy on one port that sends each new connection to the node chosen at that moment
 * (`target`); connections already open stay where they are. Emits `route` (a Route, once its request
 * line is known) and `held` (a Route whose page bytes were kept back).
 */
class NodeSwitch extends EventEmitter {
  readonly #server: Server;
  readonly routes: Route[] = [];
  target = 0;
  port = 0;

  constructor(readonly nodePorts: readonly number[]) {
    super();
    this.#server = createServer((client) => {
      const route: Route = {
        node: this.target,
        request: '',
        holdRequests: false,
        holdReplies: false,
        client,
      };
      const upstream = connect(this.nodePorts[route.node], '127.0.0.1');
      for (const s of [client, upstream]) s.on('error', () => {});
      client.on('data', (chunk: Buffer) => {
        if (route.request === '') {
          route.request = chunk.toString('latin1').split('\r\n')[0];
          this.routes.push(route);
          this.emit('route', route);
        }
        if (route.holdRequests) this.emit('held', route);
        else upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!route.holdReplies) client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    const address = this.#server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return `http://127.0.0.1:${this.port}`;
  }

  /** The WebSocket connections routed so far to `node`. */
  sockets(node: number): Route[] {
    return this.routes.filter((r) => r.node === node && r.request.startsWith('GET /ws'));
  }

  /** Resolves with the next event `name` whose route matches `where` (from now on). */
  next(name: 'route' | 'held', where: (r: Route) => boolean): Promise<Route> {
    return new Promise((resolve) => {
      const listener = (r: Route) => {
        if (!where(r)) return;
        this.off(name, listener);
        resolve(r);
      };
      this.on(name, listener);
    });
  }

  close(): Promise<void> {
    for (const r of this.routes) r.client.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const started: { nodes: ChatNode[]; proxies: NodeSwitch[]; clients: SimClient[] } = {
  nodes: [],
  proxies: [],
  clients: [],
};
afterEach(async () => {
  for (const c of started.clients.splice(0)) c.close();
  for (const p of started.proxies.splice(0)) await p.close();
  for (const n of started.nodes.splice(0))
    if (n.proc.exitCode === null && n.proc.signalCode === null) await n.kill();
});

/** Two nodes on the test's Redis under their own key prefix, and the proxy in front of them. */
async function twoNodes(prefix: string): Promise<{ nodes: ChatNode[]; proxy: NodeSwitch; origin: string }> {
  const nodes = await ChatNode.startMany(2, redis().url, {
    redis: { url: redis().url, prefix, presenceTtlMs: 3000 },
  });
  started.nodes.push(...nodes);
  const proxy = new NodeSwitch(nodes.map((n) => Number(new URL(n.origin).port)));
  started.proxies.push(proxy);
  return { nodes, proxy, origin: await proxy.listen() };
}

/** Texts of the messages in the open room, delivered or pending, in order. */
const allTexts = (page: Page) =>
  page.$$eval('#message-list li.message .text', (nodes) => nodes.map((n) => n.textContent ?? ''));

const onlineNames = (page: Page) =>
  page.$$eval('#online-list li:not(.offline)', (items) =>
    items.map((li) => (li as HTMLElement).dataset.user),
  );

/** Waits until the open room's online list is exactly `names`; on a timeout, says what it shows. */
const waitForOnline = (page: Page, names: string[]) =>
  page
    .waitForFunction(
      (want) =>
        [...document.querySelectorAll<HTMLElement>('#online-list li:not(.offline)')]
          .map((li) => li.dataset.user)
          .join(',') === want.join(','),
      names,
    )
    .catch(async (error: unknown) => {
      const shown = await onlineNames(page);
      throw new Error(`waited for online ${JSON.stringify(names)}, the page shows ${JSON.stringify(shown)}`, {
        cause: error,
      });
    });

/**
 * Waits until the open room shows `texts` delivered (none pending), in this order; on a timeout,
 * says what it shows (a duplicate, a message lost, one still pending).
 */
const waitForTexts = (page: Page, texts: string[]) =>
  page
    .waitForFunction(
      (want) =>
        document.querySelectorAll('#message-list li.message.pending').length === 0 &&
        [...document.querySelectorAll('#message-list li.message .text')]
          .map((n) => n.textContent)
          .join('\n') === want.join('\n'),
      texts,
    )
    .catch(async (error: unknown) => {
      const shown = await allTexts(page);
      const pending = await page.locator('#message-list li.message.pending').count();
      throw new Error(
        `waited for ${JSON.stringify(texts)}, the page shows ${JSON.stringify(shown)} (${pending} pending)`,
        { cause: error },
      );
    });

describe('the page on two nodes sharing Redis', () => {
  it('carries messages, presence and typing from a page on one node to a page on the other', async () => {
    const { proxy, origin } = await twoNodes('e2e-live:');
    proxy.target = 0;
    const alice = await signIn(chrome.browser, origin, 'alice');
    proxy.target = 1;
    const bob = await signIn(chrome.browser, origin, 'bob');
    // The pages' WebSockets went where the test sent them.
    expect(proxy.sockets(0)).toHaveLength(1);
    expect(proxy.sockets(1)).toHaveLength(1);

    // Presence: each sees the other, who is on the other node.
    await waitForOnline(alice.page, ['alice', 'bob']);
    await waitForOnline(bob.page, ['alice', 'bob']);

    // Typing, both ways.
    await bob.page.fill('#composer-input', 'Hel');
    await bob.page.locator('#composer-input').press('l');
    await alice.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'bob is typing…',
    );
    await bob.page.fill('#composer-input', '');
    await alice.page.fill('#composer-input', 'Yo');
    await alice.page.locator('#composer-input').press('u');
    await bob.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'alice is typing…',
    );
    await alice.page.fill('#composer-input', '');

    // A message each way, shown once on both pages.
    await sendMessage(alice.page, 'from alice on A');
    await waitForTexts(bob.page, ['from alice on A']);
    await sendMessage(bob.page, 'from bob on B');
    await waitForTexts(alice.page, ['from alice on A', 'from bob on B']);
    await waitForTexts(bob.page, ['from alice on A', 'from bob on B']);
    expect(await messageTexts(alice.page)).toEqual(['from alice on A', 'from bob on B']);

    // A room created on one node is joined from the other, and carries messages too.
    await openRoom(alice.page, 'across');
    await openRoom(bob.page, 'across');
    await waitForOnline(alice.page, ['alice', 'bob']);
    await sendMessage(bob.page, 'in a new room');
    await waitForTexts(alice.page, ['in a new room']);
    await waitForTexts(bob.page, ['in a new room']);
    await alice.context.close();
    await bob.context.close();
  });

  for (const lost of ['request', 'reply'] as const) {
    it(`shows alice's message once on both pages when her node is killed with the ${lost} in flight`, async () => {
      const { nodes, proxy, origin } = await twoNodes(`e2e-kill-${lost}:`);
      proxy.target = 0;
      const alice = await signIn(chrome.browser, origin, 'alice');
      // carol is on A too, outside the proxy, and does not come back: her leaving bob's list says
      // that A's presence entries (alice's among them) have expired and been swept.
      const carol = await SimClient.connect(nodes[0].origin, 'carol');
      started.clients.push(carol);
      proxy.target = 1;
      const bob = await signIn(chrome.browser, origin, 'bob');
      await waitForOnline(bob.page, ['alice', 'bob', 'carol']);
      await sendMessage(bob.page, 'before');
      await waitForTexts(alice.page, ['before']);

      const [aliceOnA] = proxy.sockets(0);
      if (lost === 'request') {
        // The page's frame never reaches A: nothing is stored until the page resends it.
        aliceOnA.holdRequests = true;
        const held = proxy.next('held', (r) => r === aliceOnA);
        await sendMessage(alice.page, 'in flight');
        await held;
      } else {
        // A stores it (bob, on B, sees it) but its acknowledgement never reaches the page.
        aliceOnA.holdReplies = true;
        await sendMessage(alice.page, 'in flight');
        await waitForTexts(bob.page, ['before', 'in flight']);
      }
      await alice.page.locator('#message-list li.message.pending').waitFor();

      // New connections go to B from now on; A dies without a word.
      const back = proxy.next('route', (r) => r.node === 1 && r.request.startsWith('GET /ws'));
      await nodes[0].kill();
      await back;
      await alice.page.waitForSelector('#status[data-state="online"]');

      // Exactly once on both pages, none pending.
      await waitForTexts(alice.page, ['before', 'in flight']);
      await waitForTexts(bob.page, ['before', 'in flight']);
      // Barrier: a message alice sends now is stored after her resend was handled, so a duplicate
      // of "in flight" would reach bob before it.
      await sendMessage(alice.page, 'after');
      await waitForTexts(bob.page, ['before', 'in flight', 'after']);
      await waitForTexts(alice.page, ['before', 'in flight', 'after']);
      expect(await allTexts(bob.page)).toEqual(['before', 'in flight', 'after']);
      expect(await allTexts(alice.page)).toEqual(['before', 'in flight', 'after']);

      // A's entries expire and are swept (carol goes); alice, back on B, stays online for bob.
      await waitForOnline(bob.page, ['alice', 'bob']);
      expect(await onlineNames(bob.page)).toEqual(['alice', 'bob']);
      await waitForOnline(alice.page, ['alice', 'bob']);
      await alice.context.close();
      await bob.context.close();
    });
  }
});
