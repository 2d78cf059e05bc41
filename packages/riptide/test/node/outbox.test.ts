import type { Socket } from 'node:net';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WS from 'ws';
import { WebSocket, type WebSocketServer } from '../../src/index.js';
import { once, recordHandleWrites, riptideServer, shutdown, until, wsServer } from './helpers.js';

const servers: { close(cb?: () => void): void; clients?: Set<{ terminate(): void }> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await shutdown(s);
});

/** A riptide server-side socket whose writes (at its handle: what the kernel is asked to take) are counted. */
async function countedPair() {
  const { wss, url } = await riptideServer();
  servers.push(wss);
  const conn = once<[WebSocket]>(wss, 'connection');
  const client = new WS(url);
  await once(client, 'open');
  const [server] = await conn;
  const socket = server._socket as Socket;
  const writes = recordHandleWrites(socket);
  return { server, client, writes, socket };
}

function collect(ws: WS, n: number): Promise<string[]> {
  return new Promise((resolve) => {
    const got: string[] = [];
    ws.on('message', (d: Buffer) => {
      got.push(d.toString());
      if (got.length === n) resolve(got);
    });
  });
}

describe('outbox: one write per socket per tick', () => {
  it('sends made in one tick leave in a single write', async () => {
    const { server, client, writes } = await countedPair();
    const got = collect(client, 100);
    for (let i = 0; i < 100; i++) server.send(`m${i}`);
    expect(writes).toEqual([]); // nothing written synchronously
    await new Promise((r) => process.nextTick(r));
    expect(writes.length).toBe(1);
    expect(await got).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
  });

  it("answers from inside a 'message' handler (and the auto pong) are flushed with one write per chunk", async () => {
    const { server, client, writes } = await countedPair();
    server.on('message', (d: Buffer) => {
      server.send(`a:${d}`);
      server.send(`b:${d}`);
    });
    const got = collect(client, 4);
    // One TCP chunk from the client carrying a ping and two messages (ws corks them together).
    client.ping('p');
    client.send('1');
    client.send('2');
    expect(await got).toEqual(['a:1', 'b:1', 'a:2', 'b:2']);
    expect(writes.length).toBeLessThanOrEqual(2);
  });

  it('a large payload goes out as separate vectors under cork, in order with small frames', async () => {
    const { server, client, socket } = await countedPair();
    let writev = 0;
    const original = (socket as unknown as { _writev: (...a: unknown[]) => void })._writev.bind(socket);
    (socket as unknown as { _writev: (...a: unknown[]) => void })._writev = (...a: unknown[]) => {
      writev++;
      return original(...a);
    };
    const big = Buffer.alloc(200_000, 1);
    const got = collect(client, 3);
    server.send('before');
    server.send(big);
    server.send('after');
    const messages = await got;
    expect(messages[0]).toBe('before');
    expect(messages[1].length).toBe(200_000);
    expect(messages[2]).toBe('after');
    expect(writev).toBe(1);
  });

  it('many sockets flushed by one nextTick', async () => {
    const { wss, url } = await riptideServer();
    servers.push(wss);
    const clients = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const c = new WebSocket(url);
        await once(c, 'open');
        return c;
      }),
    );
    const got = clients.map((c) => once<[Buffer]>(c, 'message'));
    for (const ws of wss.clients) ws.send('all');
    for (const g of got) expect((await g)[0].toString()).toBe('all');
    for (const c of clients) c.terminate();
  });
});

describe('send callbacks of a large batch', () => {
  type Sender = { send(data: unknown, cb: (err?: Error) => void): void; _socket: Socket };

  // ws writes each frame on its own, so Node completes (and calls back) each write the kernel
  // takes. Riptide's batch of a turn's frames was one write whose callbacks all waited for the
  // whole of it: with a burst larger than the kernel's buffers, none came until the peer read.
  // It is now cut between messages (outbox.ts writeCut). The barrier is the peer itself: it
  // reads nothing (paused before its first byte) until the callbacks are counted.
  it.each([
    ['ws 8', wsServer],
    ['riptide', riptideServer],
  ] as const)(
    '%s server: 1000 sends of 16 KiB to a peer that does not read call back those the kernel took, the rest once it reads, in order',
    async (_n, make) => {
      const { wss, port } = await make();
      servers.push(wss);
      const calls: number[] = [];
      const accepted = new Promise<Sender>((resolve) =>
        (wss as unknown as WebSocketServer).on('connection', (ws) => {
          const payload = Buffer.alloc(16 * 1024, 7);
          for (let i = 0; i < 1000; i++) ws.send(payload, (err) => calls.push(err ? -1 - i : i));
          resolve(ws as unknown as Sender);
        }),
      );
      const peer = net.connect(port, '127.0.0.1');
      peer.pause();
      peer.write(
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      const server = await accepted;
      // The writes the kernel took at once have completed; their callbacks run on the next ticks.
      await new Promise((resolve) => setImmediate(resolve));
      const before = calls.length;
      // The kernel's buffers are full: what is left waits in the socket for the peer to read.
      expect(server._socket.writableLength).toBeGreaterThan(0);
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(1000);
      expect(calls).toEqual(Array.from({ length: before }, (_, i) => i));
      peer.on('data', () => {});
      peer.resume();
      await until(() => calls.length === 1000);
      expect(calls).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      peer.destroy();
    },
  );

  // The cuts split the core's buffers (small frames share one): every byte still arrives, in
  // order, and each callback comes after its own message was written, whichever side sends.
  it.each([
    ['riptide server, ws client', 'server'],
    ['riptide client, ws server', 'client'],
  ] as const)(
    '%s: messages of every size with some callbacks arrive whole and in order',
    async (_n, side) => {
      const { wss: rs, url: rurl } = await riptideServer();
      const { wss: ws8, url: wurl } = await wsServer();
      servers.push(rs, ws8);
      let sender: WebSocket;
      let receiver: WS;
      if (side === 'server') {
        const accepted = once<[WebSocket]>(rs, 'connection');
        receiver = new WS(rurl);
        await once(receiver, 'open');
        [sender] = await accepted;
      } else {
        const accepted = once<[WS]>(ws8, 'connection');
        sender = new WebSocket(wurl);
        await once(sender, 'open');
        [receiver] = await accepted;
      }
      // Runs of small messages (the core packs them into shared buffers, which the cuts split),
      // then sizes from 2 bytes to 200 KB mixed, then small ones again.
      const sizes = [2, 100, 3000, 5000, 20_000, 70_000, 200_000];
      const plan: number[] = [];
      for (let i = 0; i < 1500; i++) plan.push(100 + (i % 7));
      for (let i = 0; i < 300; i++) plan.push(sizes[(i * 5) % sizes.length] + (i % 3));
      for (let i = 0; i < 1500; i++) plan.push(30 + (i % 5));
      const withCallback = (i: number) => i % 3 === 0 || plan[i] > 60_000;
      const sent: Buffer[] = [];
      const calls: number[] = [];
      const got: Buffer[] = [];
      receiver.on('message', (d: Buffer) => got.push(d));
      for (let i = 0; i < plan.length; i++) {
        const data = Buffer.alloc(plan[i], i & 0xff);
        data.writeUInt16BE(i & 0xffff, 0);
        sent.push(data);
        if (withCallback(i)) sender.send(data, (err) => calls.push(err ? -1 - i : i));
        else sender.send(data);
      }
      await until(() => got.length === plan.length);
      await until(() => calls.length === plan.filter((_, i) => withCallback(i)).length);
      expect(got.every((d, i) => d.equals(sent[i]))).toBe(true);
      expect(calls).toEqual([...calls].sort((a, b) => a - b));
      expect(calls.every((i) => i >= 0)).toBe(true);
      sender.terminate();
      receiver.terminate();
    },
  );
});
