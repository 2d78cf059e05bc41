/**
 * Outgoing compression is bounded per event-loop turn (core/protocol.ts DEFLATE_SLICE): a
 * compressed message above 256 KiB is compressed one slice per turn and sent as a fragmented
 * message, over real sockets, to ws 8 and to riptide, from the server and from the client.
 * Every "the loop turned" assertion counts setImmediate callbacks or round trips completed
 * before a send callback fired: request/reply barriers, no clock.
 */
import { describe, expect, it } from 'vitest';
import WS from 'ws';
import { DEFLATE_SLICE } from '../../src/core/protocol.js';
import { pooledZlibContexts } from '../../src/deflate/codec.js';
import { liveZlibContexts } from '../../src/deflate/zlib-sync.js';
import { type RawData, WebSocket, type WebSocketServer } from '../../src/index.js';
import { cleanupsAfterEachTest, once, riptideServer, shutdown, wsServer } from '../node/helpers.js';
import { expectBytes } from './helpers.js';

const cleanups = cleanupsAfterEachTest();

const MiB = 1024 * 1024;
/** 20 MiB of compressible JSON-like text (80 slices). */
const BIG = Buffer.alloc(20 * MiB);
{
  const line = Buffer.from('{"id":12345,"user":"ada","text":"a large and very compressible message"}\n');
  for (let at = 0; at < BIG.length; at += line.length) line.copy(BIG, at);
}
/** The deflate budget is 256 KiB (the inflate side's figure): 80 slices. */
const SLICES = Math.ceil(BIG.length / (256 * 1024));

it('the deflate budget is 256 KiB of input per turn', () => {
  expect(DEFLATE_SLICE).toBe(256 * 1024);
});

/** zlib contexts held by connections (the idle pooled ones are the pool's, kept for reuse). */
function heldContexts(): number {
  return liveZlibContexts() - pooledZlibContexts();
}

/** Counts setImmediate callbacks (event-loop turns) until stop() is called. */
function turnCounter(): { readonly turns: number; stop(): number } {
  const state = { turns: 0, stopped: false };
  const tick = () => {
    if (state.stopped) return;
    state.turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return state.turns;
    },
    stop() {
      state.stopped = true;
      return state.turns;
    },
  };
}

async function server(perMessageDeflate: object = {}, options: object = {}) {
  const s = await riptideServer({ perMessageDeflate: { threshold: 0, ...perMessageDeflate }, ...options });
  cleanups.push(() => shutdown(s.wss));
  return s;
}

/** A riptide server (deflate options, server options) and a riptide client connected to it. */
async function connection(perMessageDeflate: object = {}, options: object = {}) {
  const { wss, url } = await server(perMessageDeflate, options);
  const connected = nextConnection(wss);
  const client = await riptideClient(url);
  return { wss, url, client, ws: await connected };
}

function nextConnection(wss: WebSocketServer): Promise<WebSocket> {
  return once<[WebSocket]>(wss, 'connection').then(([ws]) => ws);
}

async function riptideClient(url: string, perMessageDeflate: object = {}): Promise<WebSocket> {
  const client = new WebSocket(url, { perMessageDeflate: { threshold: 0, ...perMessageDeflate } });
  cleanups.push(() => client.terminate());
  await once(client, 'open');
  return client;
}

async function wsClient(url: string): Promise<WS> {
  const client = new WS(url, { perMessageDeflate: { threshold: 0 } });
  cleanups.push(() => client.terminate());
  await once(client, 'open');
  return client;
}

function nextMessage(client: { once(event: 'message', fn: (data: RawData) => void): unknown }) {
  return new Promise<Buffer>((resolve) => client.once('message', (data: RawData) => resolve(data as Buffer)));
}

/** Collects `n` messages as strings (Buffers above 1 KiB are kept as Buffers). */
function messages(client: WebSocket | WS, n: number): Promise<Array<string | Buffer>> {
  const got: Array<string | Buffer> = [];
  return new Promise((resolve) => {
    client.on('message', (data: RawData) => {
      const buf = data as Buffer;
      got.push(buf.length > 1024 ? buf : buf.toString());
      if (got.length === n) resolve(got);
    });
  });
}

describe('a 20 MiB compressed send does not hold the event loop (server side)', () => {
  for (const kind of ['ws 8', 'riptide'] as const) {
    it(`test_server_sends_20MiB_compressible_to_${kind.replace(' ', '')}_client: intact, one slice per turn`, async () => {
      const { wss, url } = await server();
      const connected = nextConnection(wss);
      const client = kind === 'ws 8' ? await wsClient(url) : await riptideClient(url);
      const ws = await connected;
      const received = nextMessage(client as WebSocket);
      const counter = turnCounter();
      const sent = new Promise<number>((resolve, reject) =>
        ws.send(BIG, (err) => (err ? reject(err) : resolve(counter.turns))),
      );
      // Right after send() only the first slice is compressed: the rest waits for later turns.
      expect(ws._proto!.compressPending).toBe(BIG.length - DEFLATE_SLICE);
      const turnsBeforeWritten = await sent;
      counter.stop();
      // One slice per turn: the loop turned at least once per slice before the last was written.
      // (Compressed in one call, the callback would come a turn or two after send().)
      expect(turnsBeforeWritten).toBeGreaterThanOrEqual(SLICES - 1);
      expectBytes(await received, BIG);
    });
  }

  it('test_other_connections_round_trips_complete_while_a_20MiB_message_compresses', async () => {
    const { wss, url } = await server();
    let connected = nextConnection(wss);
    const big = await riptideClient(url);
    const bigSide = await connected;
    connected = nextConnection(wss);
    const chatty = await riptideClient(url);
    const chattySide = await connected;
    chattySide.on('message', (data) => chattySide.send(data as Buffer));
    // The chatty client asks and waits for each answer: a count of completed round trips.
    let roundTrips = 0;
    let stop = false;
    chatty.on('message', () => {
      roundTrips++;
      if (!stop) chatty.send('again');
    });
    const received = nextMessage(big);
    const tripsWhenWritten = new Promise<number>((resolve) =>
      bigSide.send(BIG, () => {
        stop = true;
        resolve(roundTrips);
      }),
    );
    chatty.send('first');
    const trips = await tripsWhenWritten;
    // Compressed in one call, no round trip could complete before the message was written.
    expect(trips).toBeGreaterThanOrEqual(5);
    expectBytes(await received, BIG);
  });
});

describe('order: what is sent after a sliced message waits for it', () => {
  it('test_following_send_and_publish_arrive_after_the_sliced_message_callbacks_in_order', async () => {
    // The 20 MiB waiting to be compressed count as backpressure: above the default 16 MiB
    // maxBackpressure, publish() would close this subscriber.
    const { wss, client, ws } = await connection({}, { maxBackpressure: 64 * MiB });
    ws.subscribe('news');
    const got = messages(client, 5);
    const calls: string[] = [];
    const record = (name: string) => (err?: Error) => calls.push(err ? `${name}: ${err.message}` : name);
    ws.send('before', record('before'));
    expect(ws.send(BIG, record('big'))).toBe(false);
    expect(ws.send('after-1', record('after-1'))).toBe(false);
    expect(wss.publish('news', 'published')).toBe(1);
    ws.send(Buffer.from('after-2'), { binary: false }, record('after-2'));
    // Everything waiting counts in bufferedAmount (maxBackpressure reads it).
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(BIG.length + 'after-1published-after-2'.length);
    const [before, big, after1, published, after2] = await got;
    expect([before, after1, published, after2]).toEqual(['before', 'after-1', 'published', 'after-2']);
    expectBytes(big, BIG);
    expect(calls).toEqual(['before', 'big', 'after-1', 'after-2']);
  });

  it('test_publish_sees_the_uncompressed_input_as_backpressure: above maxBackpressure the subscriber is closed', async () => {
    const { wss, client, ws } = await connection({}, { maxBackpressure: 4 * MiB });
    ws.subscribe('news');
    const errors: string[] = [];
    ws.on('error', (err) => errors.push((err as { code?: string }).code ?? ''));
    const received = nextMessage(client);
    const closed = once<[number]>(client, 'close');
    ws.send(BIG);
    // 20 MiB not compressed yet count, though they will compress to a few KiB.
    expect(wss.publish('news', 'too much')).toBe(0);
    expect(errors).toEqual(['WS_ERR_BACKPRESSURE']);
    // The close waits for the message: it still arrives whole, then 1008.
    expectBytes(await received, BIG);
    const [code] = await closed;
    expect(code).toBe(1008);
  });

  it('test_drain_is_emitted_once_after_the_whole_sliced_message_not_between_slices', async () => {
    const { client, ws } = await connection();
    const received = nextMessage(client);
    let drains = 0;
    ws.on('drain', () => drains++);
    expect(ws.send(BIG)).toBe(false);
    await once(ws, 'drain');
    expect(ws._proto!.compressing).toBe(false);
    expectBytes(await received, BIG);
    // A round trip later, still one drain.
    const echo = nextMessage(ws);
    client.send('ping');
    await echo;
    expect(drains).toBe(1);
  });

  it('test_ping_goes_between_the_fragments_of_a_sliced_message', async () => {
    const { client, ws } = await connection();
    const events: string[] = [];
    client.on('ping', () => events.push('ping'));
    const received = nextMessage(client).then((data) => {
      events.push('message');
      return data;
    });
    ws.send(BIG);
    ws.ping();
    expectBytes(await received, BIG);
    // RFC 6455 5.4: a control frame may be injected between fragments; it does not wait.
    expect(events).toEqual(['ping', 'message']);
  });
});

describe('closing during a sliced compression', () => {
  it('test_close_during_compression_sends_the_close_after_the_message', async () => {
    const { client, ws } = await connection();
    const received = nextMessage(client);
    const closed = once<[number, Buffer]>(client, 'close');
    const calls: string[] = [];
    ws.send(BIG, (err) => calls.push(err ? `big: ${(err as { code?: string }).code}` : 'big'));
    ws.send('queued before close', (err) => calls.push(err ? 'queued: error' : 'queued'));
    ws.close(1000, 'done');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    // Sends after close() are refused (their callback gets the error at once, as in ws).
    ws.send('after close', (err) => calls.push(`after close: ${(err as { code?: string }).code}`));
    expectBytes(await received, BIG);
    const [code, reason] = await closed;
    expect(code).toBe(1000);
    expect(reason.toString()).toBe('done');
    expect(calls).toEqual(['after close: WS_ERR_NOT_OPEN', 'big', 'queued']);
  });

  it('test_close_with_an_invalid_code_during_compression_throws_and_changes_nothing', async () => {
    const { client, ws } = await connection();
    const received = nextMessage(client);
    ws.send(BIG);
    expect(() => ws.close(1005)).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_CLOSE_CODE' }));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expectBytes(await received, BIG);
  });

  for (const [takeover, how] of [
    [true, 'destroy'],
    [false, 'destroy'],
    [true, 'end'],
  ] as const) {
    const label = `context takeover ${takeover ? 'on' : 'off'}, the peer's socket ${how === 'end' ? 'half-closed' : 'destroyed'}`;
    it(`test_peer_disconnect_during_compression_releases_the_context_and_errors_the_callbacks (${label})`, async () => {
      const before = heldContexts();
      const { wss, url } = await server({ serverNoContextTakeover: !takeover });
      const connected = nextConnection(wss);
      const client = await wsClient(url);
      const ws = await connected;
      const errors: string[] = [];
      const serverClosed = once(ws, 'close');
      ws.on('message', () => {
        ws.send(BIG, (err) => errors.push(`big: ${(err as { code?: string } | undefined)?.code}`));
        ws.send('behind', (err) => errors.push(`behind: ${(err as { code?: string } | undefined)?.code}`));
        // The peer goes away while the first slices are on their way.
        if (how === 'end') (client as unknown as { _socket: { end(): void } })._socket.end();
        else client.terminate();
      });
      client.send('go');
      await serverClosed;
      expect(ws._proto!.compressing).toBe(false);
      await new Promise((resolve) => process.nextTick(resolve));
      expect(errors).toEqual(['big: WS_ERR_SOCKET_CLOSED', 'behind: WS_ERR_SOCKET_CLOSED']);
      // The deflater is freed (own) or back in the pool (borrowed); no connection holds one.
      expect(heldContexts()).toBe(before);
    });
  }

  it('test_terminate_during_compression_drops_the_message_and_releases_the_context', async () => {
    const before = heldContexts();
    const { client, ws } = await connection({ serverNoContextTakeover: false });
    const clientClosed = once<[number]>(client, 'close');
    const serverClosed = once(ws, 'close');
    let messages = 0;
    client.on('message', () => messages++);
    const result = new Promise<string>((resolve) =>
      ws.send(BIG, (err) => resolve((err as { code?: string } | undefined)?.code ?? 'written')),
    );
    ws.terminate();
    expect(await result).toBe('WS_ERR_SOCKET_CLOSED');
    const [code] = await clientClosed;
    expect(code).toBe(1006);
    expect(messages).toBe(0);
    await serverClosed;
    expect(heldContexts()).toBe(before);
  });
});

describe('the client side slices too (masked fragments)', () => {
  for (const takeover of [true, false]) {
    const label = takeover ? 'on' : 'off';
    it(`test_riptide_client_sends_20MiB_to_riptide_server_then_a_small_message (context takeover ${label})`, async () => {
      const { wss, url } = await server({ serverNoContextTakeover: !takeover });
      const connected = nextConnection(wss);
      const client = await riptideClient(url, { clientNoContextTakeover: !takeover });
      const ws = await connected;
      const got = messages(ws, 2);
      const counter = turnCounter();
      const turns = new Promise<number>((resolve) => client.send(BIG, () => resolve(counter.turns)));
      client.send('and then this, compressed with the same window');
      expect(await turns).toBeGreaterThanOrEqual(SLICES - 1);
      counter.stop();
      const [big, small] = await got;
      expectBytes(big, BIG);
      expect(small).toBe('and then this, compressed with the same window');
    });
  }

  it('test_riptide_client_sends_20MiB_to_ws_server_intact', async () => {
    const { wss, url } = await wsServer({ perMessageDeflate: { threshold: 0 } });
    cleanups.push(() => shutdown(wss));
    const connected = once<[WS]>(wss, 'connection');
    const client = await riptideClient(url);
    const [peer] = await connected;
    expect(client.extensions).toBe('permessage-deflate');
    const got = messages(peer, 2);
    client.send(BIG);
    client.send('small after');
    const [big, small] = await got;
    expectBytes(big, BIG);
    expect(small).toBe('small after');
  });
});
