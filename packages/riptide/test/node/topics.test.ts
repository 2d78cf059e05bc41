import type { Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import WS from 'ws';
import { WebSocket, type WebSocketServer } from '../../src/index.js';
import { once, rawClient, recordHandleWrites, riptideServer, shutdown, until } from './helpers.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await shutdown(s);
});

async function setup(options = {}) {
  const { wss, url, port } = await riptideServer(options);
  servers.push(wss);
  // Clients ask for topics with "sub:<topic>" / "unsub:<topic>" and get "ok" back.
  wss.on('connection', (ws) => {
    ws.on('message', (d: Buffer) => {
      const [cmd, topic] = d.toString().split(':');
      if (cmd === 'sub') ws.send(String(ws.subscribe(topic)));
      if (cmd === 'unsub') ws.send(String(ws.unsubscribe(topic)));
    });
  });
  async function client(...topics: string[]) {
    const ws = new WS(url);
    await once(ws, 'open');
    for (const t of topics) {
      const ok = once<[Buffer]>(ws, 'message');
      ws.send(`sub:${t}`);
      expect((await ok)[0].toString()).toBe('true');
    }
    return ws;
  }
  /** A ws client connected, and the server's side of it. */
  async function pair(): Promise<{ ws: WebSocket; client: WS }> {
    const conn = once<[WebSocket]>(wss, 'connection');
    const client = new WS(url);
    await once(client, 'open');
    const [ws] = await conn;
    return { ws, client };
  }
  return { wss, client, pair, port };
}

function collect(ws: WS, n: number): Promise<[string, boolean][]> {
  return new Promise((resolve) => {
    const got: [string, boolean][] = [];
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      got.push([d.toString(), isBinary]);
      if (got.length === n) resolve(got);
    });
  });
}

describe('pub/sub', () => {
  it('several publishes in one tick leave as one write per subscriber, the frame built once', async () => {
    const { wss, client } = await setup();
    const clients = [await client('t'), await client('t'), await client('t')];
    const writes = [...wss.clients].map((ws) => recordHandleWrites(ws._socket as unknown as Socket));
    const got = clients.map((c) => collect(c, 3));
    wss.publish('t', 'p1');
    wss.publish('t', 'p2');
    wss.publish('t', 'p3');
    for (const g of got) expect((await g).map(([d]) => d)).toEqual(['p1', 'p2', 'p3']);
    // What each socket's handle was asked to take: one write with the three frames.
    for (const w of writes) expect(w).toEqual([['\x81\x02p1\x81\x02p2\x81\x02p3']]);
  });

  it('publish reaches only subscribers, in publish order, text and binary', async () => {
    const { wss, client } = await setup();
    const a = await client('news');
    const b = await client('news', 'sport');
    const c = await client('sport');
    expect(wss.subscriberCount('news')).toBe(2);
    const atA = collect(a, 3);
    const atB = collect(b, 4);
    const atC = collect(c, 1);
    expect(wss.publish('news', 'n1')).toBe(2);
    expect(wss.publish('sport', Buffer.from('s1'))).toBe(2);
    wss.publish('news', Buffer.from('n2'), { binary: false });
    wss.publish('news', 'n3', { binary: true });
    expect(await atA).toEqual([
      ['n1', false],
      ['n2', false],
      ['n3', true],
    ]);
    expect(await atB).toEqual([
      ['n1', false],
      ['s1', true],
      ['n2', false],
      ['n3', true],
    ]);
    expect(await atC).toEqual([['s1', true]]);
    expect(wss.publish('nobody', 'x')).toBe(0);
  });

  it("publish takes a 'fragments' message (Buffer[]) as its buffers' bytes, as a listener got it", async () => {
    const { wss, client } = await setup();
    const a = await client('f');
    const got = collect(a, 2);
    expect(wss.publish('f', [Buffer.from('ab'), Buffer.from('cd')])).toBe(1);
    expect(wss.publish('f', [])).toBe(1);
    expect(await got).toEqual([
      ['abcd', true],
      ['', true],
    ]);
    // A Blob is read asynchronously: refused (publish() frames once, synchronously, for every
    // subscriber; send() holds one socket's later sends while it reads one).
    expect(() => wss.publish('f', new Blob(['x']))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_INVALID_DATA' }),
    );
  });

  it('publish takes any ArrayBuffer as send() does: a SharedArrayBuffer, one of another realm', async () => {
    const { wss, client } = await setup();
    const a = await client('ab');
    const got = collect(a, 2);
    const shared = new SharedArrayBuffer(2);
    new Uint8Array(shared).set([0x68, 0x69]);
    const foreign = runInNewContext('new Uint8Array([0x79, 0x6f]).buffer') as ArrayBuffer;
    expect(foreign instanceof ArrayBuffer).toBe(false);
    expect(wss.publish('ab', shared)).toBe(1);
    expect(wss.publish('ab', foreign)).toBe(1);
    expect(await got).toEqual([
      ['hi', true],
      ['yo', true],
    ]);
  });

  it('publish refuses a bad topic or data whether or not anyone is subscribed', async () => {
    const { wss, client } = await setup();
    const bad: [unknown, unknown, string][] = [
      ['', 'x', 'WS_ERR_INVALID_TOPIC'],
      [42, 'x', 'WS_ERR_INVALID_TOPIC'],
      ['t', new Blob(['x']), 'WS_ERR_INVALID_DATA'],
      ['t', { a: 1 }, 'WS_ERR_INVALID_DATA'],
      ['t', undefined, 'WS_ERR_INVALID_DATA'],
      ['nobody', 7, 'WS_ERR_INVALID_DATA'],
    ];
    const publish = wss.publish.bind(wss) as (topic: unknown, data: unknown) => number;
    const check = () => {
      for (const [topic, data, code] of bad) {
        expect(() => publish(topic, data), String(topic)).toThrow(expect.objectContaining({ code }));
      }
      // Good data to a topic nobody has: nothing sent, nothing refused.
      expect(wss.publish('nobody', [Buffer.from('a')])).toBe(0);
      expect(wss.publish('nobody', new Uint16Array(2))).toBe(0);
    };
    check(); // no subscription on the server yet
    const c = await client('t');
    check(); // one subscriber to 't', none to 'nobody'
    c.terminate();
  });

  it('publish reads options.binary by truthiness, as send() does', async () => {
    const { wss, client } = await setup();
    const c = await client('t');
    const got = collect(c, 2);
    const publish = wss.publish.bind(wss) as (t: string, d: unknown, o: unknown) => number;
    expect(publish('t', 'as binary', { binary: 1 })).toBe(1);
    expect(publish('t', Buffer.from('as text'), { binary: 0 })).toBe(1);
    expect(await got).toEqual([
      ['as binary', true],
      ['as text', false],
    ]);
    c.terminate();
  });

  it('a large published message is the same bytes for every subscriber', async () => {
    const { wss, client } = await setup();
    const a = await client('big');
    const b = await client('big');
    const payload = Buffer.alloc(300_000, 7);
    const pa = once<[Buffer]>(a, 'message');
    const pb = once<[Buffer]>(b, 'message');
    wss.publish('big', payload);
    expect((await pa)[0].equals(payload)).toBe(true);
    expect((await pb)[0].equals(payload)).toBe(true);
  });

  it('unsubscribe, isSubscribed, and closed sockets leave their topics', async () => {
    const { wss } = await setup();
    const { url } = { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}` };
    const conn = once<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url);
    await once(client, 'open');
    const [ws] = await conn;
    expect(ws.subscribe('t')).toBe(true);
    expect(ws.subscribe('t')).toBe(false);
    expect(ws.isSubscribed('t')).toBe(true);
    expect(ws.topics).toEqual(['t']);
    expect(ws.unsubscribe('t')).toBe(true);
    expect(ws.unsubscribe('t')).toBe(false);
    expect(ws.isSubscribed('t')).toBe(false);
    ws.subscribe('t');
    ws.subscribe('u');
    expect(wss.subscriberCount('u')).toBe(1);
    ws.close();
    // Leaves as soon as it starts closing.
    expect(wss.subscriberCount('t')).toBe(0);
    expect(wss.subscriberCount('u')).toBe(0);
    expect(ws.subscribe('t')).toBe(false);
    await once(client, 'close');
    expect(() => client.subscribe('t')).toThrow(expect.objectContaining({ code: 'WS_ERR_NO_SERVER' }));
    expect(() => ws.subscribe('' as string)).toThrow(
      expect.objectContaining({ code: 'WS_ERR_INVALID_TOPIC' }),
    );
  });

  it('isSubscribed, subscriberCount and unsubscribe refuse a topic that is not a non-empty string, as subscribe does', async () => {
    const { wss, pair } = await setup();
    const { ws, client } = await pair();
    const thrown = (f: () => unknown): unknown => {
      try {
        f();
      } catch (err) {
        return err;
      }
      throw new Error('did not throw');
    };
    const loose = ws as unknown as Record<
      'subscribe' | 'unsubscribe' | 'isSubscribed',
      (t: unknown) => unknown
    >;
    const count = wss.subscriberCount.bind(wss) as (t: unknown) => number;
    const check = () => {
      for (const topic of [42, '', undefined, null, { toString: () => 't' }]) {
        const reference = thrown(() => loose.subscribe(topic)) as Error & { code: string };
        expect(reference).toBeInstanceOf(TypeError);
        expect(reference.code).toBe('WS_ERR_INVALID_TOPIC');
        for (const call of [
          () => loose.isSubscribed(topic),
          () => loose.unsubscribe(topic),
          () => count(topic),
        ]) {
          const err = thrown(call) as Error & { code: string };
          expect(err.constructor).toBe(reference.constructor);
          expect(err.code).toBe(reference.code);
          expect(err.message).toBe(reference.message);
        }
      }
    };
    check(); // nobody has subscribed to anything on this server yet
    expect(ws.subscribe('t')).toBe(true);
    check();
    expect(wss.subscriberCount('t')).toBe(1);
    expect(ws.isSubscribed('t')).toBe(true);
    // A client socket has no topics, but a bad topic is still a bad call.
    const local = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    await once(local, 'open');
    expect(local.isSubscribed('t')).toBe(false);
    expect(() => local.isSubscribed(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'WS_ERR_INVALID_TOPIC' }),
    );
    local.terminate();
    client.terminate();
  });

  /**
   * A publish to 't' whose walk closes `slow` (above maxBackpressure: a send it made just before
   * is still queued), calling its 'error' listener in the middle of the walk.
   */
  async function walkWithListener(during: () => void) {
    const s = await setup({ maxBackpressure: 1024 });
    const slow = await s.pair();
    // Once: a publish started from the listener finds `slow` above the limit too.
    slow.ws.once('error', during);
    return { ...s, slow };
  }

  it('a socket that subscribes during a publish of the topic gets the next publish, not that one', async () => {
    let late!: { ws: WebSocket; client: WS };
    const { wss, pair, slow } = await walkWithListener(() => {
      expect(late.ws.subscribe('t')).toBe(true);
      expect(late.ws.isSubscribed('t')).toBe(true);
      expect(wss.subscriberCount('t')).toBe(2); // slow (closed just after this listener) and late
    });
    late = await pair();
    const got = collect(late.client, 1);
    expect(slow.ws.subscribe('t')).toBe(true);
    slow.ws.send(Buffer.alloc(4096)); // queued: bufferedAmount above 1024
    expect(wss.publish('t', 'first')).toBe(0); // slow closed, late not given 'first'
    expect(slow.ws.readyState).toBe(WebSocket.CLOSING);
    expect(wss.subscriberCount('t')).toBe(1);
    expect(wss.publish('t', 'second')).toBe(1);
    expect(await got).toEqual([['second', false]]);
  });

  it('a publish started from inside another reaches those that subscribed before it started', async () => {
    let late!: { ws: WebSocket; client: WS };
    let inner = -1;
    const { wss, pair, slow } = await walkWithListener(() => {
      late.ws.subscribe('t');
      inner = wss.publish('t', 'inner');
    });
    late = await pair();
    const got = collect(late.client, 2);
    slow.ws.subscribe('t');
    slow.ws.send(Buffer.alloc(4096));
    expect(wss.publish('t', 'outer')).toBe(0);
    expect(inner).toBe(1);
    expect(wss.publish('t', 'next')).toBe(1);
    expect(await got).toEqual([
      ['inner', false],
      ['next', false],
    ]);
  });

  it('unsubscribing during a publish: one it has reached and that subscribes again gets it once, one not reached yet none', async () => {
    let early!: { ws: WebSocket; client: WS };
    let after!: { ws: WebSocket; client: WS };
    let passer!: { ws: WebSocket; client: WS };
    const { wss, pair, slow } = await walkWithListener(() => {
      // `early` was reached before `slow`, `after` comes after it; `passer` subscribes and
      // unsubscribes within the walk.
      expect(early.ws.unsubscribe('t')).toBe(true);
      expect(early.ws.subscribe('t')).toBe(true);
      expect(after.ws.unsubscribe('t')).toBe(true);
      expect(passer.ws.subscribe('t')).toBe(true);
      expect(passer.ws.unsubscribe('t')).toBe(true);
      expect(wss.subscriberCount('t')).toBe(2); // slow (closed just after this listener) and early
    });
    early = await pair();
    after = await pair();
    passer = await pair();
    const atEarly = collect(early.client, 2);
    const atAfter = collect(after.client, 1);
    const atPasser = collect(passer.client, 1);
    early.ws.subscribe('t');
    slow.ws.subscribe('t');
    after.ws.subscribe('t');
    slow.ws.send(Buffer.alloc(4096));
    expect(wss.publish('t', 'first')).toBe(1);
    expect(wss.subscriberCount('t')).toBe(1);
    expect([early, after, passer].map((p) => p.ws.isSubscribed('t'))).toEqual([true, false, false]);
    expect(wss.publish('t', 'second')).toBe(1);
    expect(await atEarly).toEqual([
      ['first', false],
      ['second', false],
    ]);
    // Neither of the others was sent anything: a message sent to each directly comes first.
    after.ws.send('direct');
    passer.ws.send('direct');
    expect(await atAfter).toEqual([['direct', false]]);
    expect(await atPasser).toEqual([['direct', false]]);
    // Everyone leaves: the topic goes.
    early.ws.unsubscribe('t');
    expect(wss.subscriberCount('t')).toBe(0);
    expect(wss.publish('t', 'nobody')).toBe(0);
  });

  it('a subscriber in the middle of a fragmented send gets published frames after its message', async () => {
    const { wss, pair } = await setup();
    const { ws, client } = await pair();
    ws.subscribe('t');
    const got = collect(client, 2);
    ws.send('frag', { fin: false });
    wss.publish('t', 'published');
    ws.send('ment', { fin: true });
    expect(await got).toEqual([
      ['fragment', false],
      ['published', false],
    ]);
  });

  it('published frames held behind a fragmented send, then a Blob ending it: bufferedAmount returns to 0', async () => {
    const { wss, pair } = await setup();
    const { ws, client } = await pair();
    ws.subscribe('t');
    const got = collect(client, 3);
    ws.send('frag', { fin: false });
    wss.publish('t', 'pub'); // held behind the fragmented message (3 bytes)
    ws.send(new Blob(['ment'])); // its last fragment, read asynchronously (4 bytes)
    ws.send('after'); // held behind the Blob (5 bytes)
    expect(await got).toEqual([
      ['fragment', false],
      ['pub', false],
      ['after', false],
    ]);
    // Each held byte counted once in and once out (not reset while others still wait).
    await until(() => ws.bufferedAmount <= 0);
    expect(ws.bufferedAmount).toBe(0);
  });

  it('by default a subscriber more than 16 MiB behind is closed (WS_ERR_BACKPRESSURE); 0 lifts the limit', async () => {
    for (const maxBackpressure of [undefined, 0]) {
      const { wss, port } = await setup(maxBackpressure === undefined ? {} : { maxBackpressure });
      const connected = once<[WebSocket]>(wss, 'connection');
      const { socket: slow } = await rawClient(port);
      slow.pause(); // never reads
      const [ws] = await connected;
      ws.subscribe('flood');
      const errors: Error[] = [];
      ws.on('error', (e) => errors.push(e));
      // Published in one tick: the frames wait in the connection's output, counted in
      // bufferedAmount, whatever the kernel's buffers would have taken.
      const chunk = Buffer.alloc(64 * 1024);
      const counts: number[] = [];
      for (let i = 0; i < 300; i++) counts.push(wss.publish('flood', chunk));
      if (maxBackpressure === undefined) {
        // 256 frames of 64 KiB (and their 10-byte headers) are just above 16 MiB: the 257th
        // publish finds the socket above the limit.
        expect(counts.slice(0, 256)).toEqual(Array(256).fill(1));
        expect(counts[256]).toBe(0);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ code: 'WS_ERR_BACKPRESSURE' });
        expect(ws.readyState).toBe(WebSocket.CLOSING);
        expect(ws.isSubscribed('flood')).toBe(false);
      } else {
        expect(counts).toEqual(Array(300).fill(1));
        expect(errors).toEqual([]);
        expect(ws.readyState).toBe(WebSocket.OPEN);
      }
      const closed = once(ws, 'close');
      slow.destroy();
      await closed;
    }
  });

  for (const policy of ['skip', 'close'] as const) {
    it(`maxBackpressure with onBackpressure: '${policy}'`, async () => {
      const { wss, port } = await setup({
        maxBackpressure: 256 * 1024,
        onBackpressure: policy,
        ...(policy === 'close' ? { backpressureCloseCode: 1013, closeTimeout: 300 } : {}),
      });
      const conns: WebSocket[] = [];
      wss.on('connection', (ws) => {
        conns.push(ws);
        ws.subscribe('flood');
      });
      const { socket: slow } = await rawClient(port);
      slow.pause(); // never reads
      const fast = new WS(`ws://127.0.0.1:${port}`);
      let fastCount = 0;
      fast.on('message', () => fastCount++);
      await once(fast, 'open');
      await until(() => conns.length === 2);
      const [slowWs] = conns;
      const errors: Error[] = [];
      slowWs.on('error', (e) => errors.push(e));
      const closed = policy === 'close' ? once<[number]>(slowWs, 'close') : null;
      const chunk = Buffer.alloc(64 * 1024);
      let lastCount = 0;
      for (let i = 0; i < 400; i++) {
        lastCount = wss.publish('flood', chunk);
        // The fast reader gets each message before the next is published, so only the slow
        // one ever has a backlog, however loaded the machine is.
        await until(() => fastCount === i + 1);
      }
      // The slow socket is no longer sent to; its buffer stays bounded near the limit.
      expect(lastCount).toBe(1);
      if (policy === 'skip') {
        expect(slowWs.readyState).toBe(WebSocket.OPEN);
        expect(slowWs.bufferedAmount).toBeLessThan(256 * 1024 + 2 * 65 * 1024);
      } else {
        expect(errors[0]).toMatchObject({ code: 'WS_ERR_BACKPRESSURE' });
        expect((await closed!)[0]).toBe(1006); // the close frame never got through
      }
      expect(fastCount).toBe(400);
      slow.destroy();
      fast.terminate();
    });
  }
});
