import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WS from 'ws';
import { WebSocket, type WebSocketServer } from '../../src/index.js';
import { once, recordHandleWrites, riptideServer, shutdown } from './helpers.js';

const servers: WebSocketServer[] = [];
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
