/**
 * Outgoing compression is bounded per event-loop turn (core/protocol.ts DEFLATE_SLICE): a
 * compressed message above 256 KiB is compressed one slice per turn and sent as a fragmented
 * message, over real sockets, to ws 8 and to riptide, from the server and from the client.
 * Every "the loop turned" assertion counts setImmediate callbacks or round trips completed
 * before a send callback fired: request/reply barriers, no clock.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import WS from 'ws';
import { DEFLATE_SLICE } from '../../src/core/protocol.js';
import { pooledZlibContexts } from '../../src/deflate/codec.js';
import { liveZlibContexts } from '../../src/deflate/zlib-sync.js';
import { HandshakeError, type RawData, WebSocket, type WebSocketServer } from '../../src/index.js';
import {
  cleanupsAfterEachTest,
  clientFrame,
  collectUntilClose,
  once,
  parseFrames,
  riptideServer,
  shutdown,
  until,
  wsServer,
} from '../node/helpers.js';
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

/** Every message `client` receives, as Buffers, in order. */
function collect(client: WebSocket | WS): Buffer[] {
  const got: Buffer[] = [];
  client.on('message', (data: RawData) => got.push(data as Buffer));
  return got;
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

  it('test_close_then_the_peers_close_during_compression: the message, then our close frame as the answer', async () => {
    // Both sides close at once: our close() waits behind the message; the peer's close frame
    // comes while it is compressed. Our queued close frame is the answer (with our code, as
    // ws 8 sends its queued close()), after the whole message.
    const { client, ws } = await connection();
    const got = collect(client);
    const clientClosed = once<[number, Buffer]>(client, 'close');
    const serverClosed = once<[number, Buffer]>(ws, 'close');
    ws.on('message', () => {
      ws.send(BIG);
      ws.close(1001, 'away');
    });
    client.send('go');
    client.close(4001, 'bye');
    await until(() => ws._proto!.closeReceived);
    expect(ws._proto!.closeOwed).toBe(true);
    const [code, reason] = await clientClosed;
    expect(code).toBe(1001);
    expect(reason.toString()).toBe('away');
    expect(got).toHaveLength(1);
    expectBytes(got[0], BIG);
    const [serverCode] = await serverClosed;
    expect(serverCode).toBe(4001);
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
        ws.ping('p', undefined, (err) =>
          errors.push(`ping: ${(err as { code?: string } | undefined)?.code}`),
        );
        ws.send('behind', (err) => errors.push(`behind: ${(err as { code?: string } | undefined)?.code}`));
        // The peer goes away while the first slices are on their way.
        if (how === 'end') (client as unknown as { _socket: { end(): void } })._socket.end();
        else client.terminate();
      });
      client.send('go');
      await serverClosed;
      expect(ws._proto!.compressing).toBe(false);
      await new Promise((resolve) => process.nextTick(resolve));
      // The ping's frame went between the fragments, its callback keeps its place (as in ws).
      expect(errors).toEqual([
        'big: WS_ERR_SOCKET_CLOSED',
        'ping: WS_ERR_SOCKET_CLOSED',
        'behind: WS_ERR_SOCKET_CLOSED',
      ]);
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
    const result = new Promise<Error | undefined>((resolve) => ws.send(BIG, resolve));
    ws.terminate();
    const err = await result;
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ code: 'WS_ERR_SOCKET_CLOSED', status: 0, name: 'Error' });
    // ws 8's message for the same moment (lib/sender.js).
    expect(err?.message).toBe('The socket was closed while data was being compressed');
    const [code] = await clientClosed;
    expect(code).toBe(1006);
    expect(messages).toBe(0);
    await serverClosed;
    expect(heldContexts()).toBe(before);
  });
});

describe('RFC 6455 5.5.1 Close: the peer closes while a message is compressed in slices', () => {
  // RFC 6455 5.5.1: "An endpoint MAY delay sending a Close frame until its current message is
  // sent". ws 8 queues its answer behind what its sender is compressing, so the peer gets the
  // message and what was sent before its close, then the answer; riptide does the same.
  for (const [kind, code, reason] of [
    ['ws 8', 1000, 'done'],
    ['riptide', 4001, 'bye'],
  ] as const) {
    it(`test_server_receives_close_during_compression: a ${kind.replace(' ', '')} client gets the whole message, the send queued before its close, then ${code} echoed`, async () => {
      const { wss, url } = await server();
      const connected = nextConnection(wss);
      const client = kind === 'ws 8' ? await wsClient(url) : await riptideClient(url);
      const ws = await connected;
      const got = collect(client);
      const calls: string[] = [];
      const record = recorder(calls);
      const clientClosed = once<[number, Buffer]>(client as unknown as WebSocket, 'close');
      const serverClosed = once<[number, Buffer]>(ws, 'close');
      ws.on('message', () => {
        ws.send(BIG, record('big'));
        ws.send('queued before the close', record('queued'));
      });
      // Both clients have these two methods with the same meaning (the union's send overloads
      // do not combine into one callable signature).
      const peer = client as WS;
      peer.send('go');
      peer.close(code, reason);
      // The close arrives while the 80 slices are being compressed: the answer is owed.
      await until(() => ws.readyState === WebSocket.CLOSING);
      expect(ws._proto!.closeOwed).toBe(true);
      expect(ws._proto!.compressing).toBe(true);
      // Sends after the peer's close are refused, as before (ws 8 too: readyState CLOSING).
      ws.send('too late', record('too late'));
      const [clientCode, clientReason] = await clientClosed;
      expect(clientCode).toBe(code);
      expect(clientReason.toString()).toBe(reason);
      expect(got).toHaveLength(2);
      expectBytes(got[0], BIG);
      expect(got[1].toString()).toBe('queued before the close');
      const [serverCode, serverReason] = await serverClosed;
      expect([serverCode, serverReason.toString()]).toEqual([code, reason]);
      expect(calls).toEqual(['too late: WS_ERR_NOT_OPEN', 'big', 'queued']);
    });
  }

  it('test_server_receives_close_during_compression: on the wire, the rest of the fragments, the queued send, then the answer; then the server closes the TCP connection', async () => {
    const { ws, socket, wire } = await rawPeer();
    let ended = false;
    socket.on('end', () => {
      ended = true;
    });
    ws.send(BIG);
    ws.send('queued before the close', { compress: false }); // readable on the wire
    // The raw peer closes at once (4001 "bye") and goes on reading.
    socket.write(clientFrame(8, Buffer.from([0x0f, 0xa1, 0x62, 0x79, 0x65])));
    const frames = parseFrames(await wire);
    // RFC 7692 6.1: RSV1 on the first fragment only; every fragment before the close frame.
    expect(frames.map((f) => [f.opcode, f.fin, f.rsv1])).toEqual([
      [2, false, true],
      ...Array(SLICES - 2).fill([0, false, false]),
      [0, true, false],
      [1, true, false],
      [8, true, false],
    ]);
    const inflated = zlib.inflateRawSync(
      Buffer.concat([...frames.slice(0, SLICES).map((f) => f.payload), Buffer.from([0, 0, 0xff, 0xff])]),
      { finishFlush: zlib.constants.Z_SYNC_FLUSH },
    );
    expectBytes(inflated, BIG);
    expect(frames[SLICES].payload.toString()).toBe('queued before the close');
    expect(frames[SLICES + 1].payload.toString('hex')).toBe('0fa1627965');
    // The server closed the connection after its answer (RFC 6455 7.1.1), not before.
    expect(ended).toBe(true);
  });

  it('test_server_receives_close_and_FIN_during_compression: the message is given up, the close still answered before the FIN', async () => {
    const { ws, socket, wire } = await rawPeer();
    const calls: string[] = [];
    const record = recorder(calls);
    const serverClosed = once<[number]>(ws, 'close');
    ws.send(BIG, record('big'));
    ws.send('queued before the close', record('queued'));
    // The raw peer closes (4001 "bye") and ends its side at once; it goes on reading.
    socket.end(clientFrame(8, Buffer.from([0x0f, 0xa1, 0x62, 0x79, 0x65])));
    const frames = parseFrames(await wire);
    // The peer will send nothing more: what waited is given up (as ws 8 does at the FIN), but the
    // answer goes out before our FIN (regression: the peer got the FIN alone, 1006 to it).
    const last = frames[frames.length - 1];
    expect([last.opcode, last.payload.toString('hex')]).toEqual([8, '0fa1627965']);
    expect(frames.slice(0, -1).every((f) => f.opcode !== 8 && !f.fin)).toBe(true);
    expect((await serverClosed)[0]).toBe(4001);
    expect(calls).toEqual(['big: WS_ERR_SOCKET_CLOSED', 'queued: WS_ERR_SOCKET_CLOSED']);
  });

  it('test_server_receives_close_during_compression with a second large message queued before it: both whole, then the answer', async () => {
    // The second message is compressed in slices too, after the first: the answer waits for it.
    const { wss, url } = await server();
    const connected = nextConnection(wss);
    const client = await wsClient(url);
    const ws = await connected;
    const got = collect(client);
    const clientClosed = once<[number]>(client as unknown as WebSocket, 'close');
    const second = Buffer.from(BIG.subarray(0, 2 * MiB)).fill('b', 0, 1);
    ws.on('message', () => {
      ws.send(BIG);
      ws.send(second);
    });
    client.send('go');
    client.close(1000);
    await until(() => ws.readyState === WebSocket.CLOSING);
    expect(ws._proto!.closeOwed).toBe(true);
    const [code] = await clientClosed;
    expect(code).toBe(1000);
    expect(got).toHaveLength(2);
    expectBytes(got[0], BIG);
    expectBytes(got[1], second);
  });

  it('test_closeTimeout_still_bounds_a_peer_that_closes_then_stops_reading', async () => {
    // Incompressible: the slices outgrow the kernel's buffers, so the message cannot be finished
    // while the peer does not read. The close timer, armed when the peer's close arrived, ends it.
    const RANDOM = randomBytes(16 * MiB);
    const { client, ws } = await connection({}, { closeTimeout: 200 });
    const proto = ws._proto!;
    const events: string[] = [];
    ws.on('error', (err) => events.push(`error: ${(err as { code?: string }).code}`));
    const record = recorder(events);
    const closed = once<[number]>(ws, 'close');
    ws.on('message', () => ws.send(RANDOM, record('big')));
    client.send('go');
    client.close(4001, 'bye');
    client.pause();
    await until(() => ws.readyState === WebSocket.CLOSING);
    // The answer waits behind the message, which waits for a peer that does not read.
    expect(proto.closeOwed).toBe(true);
    expect(proto.compressPending).toBeGreaterThan(0);
    const [code] = await closed;
    // Its close frame was received: its code is the 'close' event's (RFC 6455 7.1.5).
    expect(code).toBe(4001);
    expect(proto.closeSent).toBe(false);
    // The message was given up by the timer, not when the peer's close came in.
    expect(events).toEqual(['error: WS_ERR_CLOSE_TIMEOUT', 'big: WS_ERR_SOCKET_CLOSED']);
  });

  it('test_terminate_while_the_answer_is_owed: the message is dropped, no answer, the context released', async () => {
    const before = heldContexts();
    const { client, ws } = await connection({ serverNoContextTakeover: false });
    const got = collect(client);
    const calls: string[] = [];
    const record = recorder(calls);
    const clientClosed = once<[number]>(client, 'close');
    const serverClosed = once<[number]>(ws, 'close');
    ws.on('message', () => {
      ws.send(BIG, record('big'));
      ws.send('queued', record('queued'));
    });
    client.send('go');
    client.close(4001, 'bye');
    await until(() => ws.readyState === WebSocket.CLOSING);
    expect(ws._proto!.closeOwed).toBe(true);
    ws.terminate();
    const [code] = await clientClosed;
    expect(code).toBe(1006); // no close frame came back
    expect(got).toHaveLength(0);
    const [serverCode] = await serverClosed;
    expect(serverCode).toBe(4001);
    expect(ws._proto!.closeSent).toBe(false);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(calls).toEqual(['big: WS_ERR_SOCKET_CLOSED', 'queued: WS_ERR_SOCKET_CLOSED']);
    expect(heldContexts()).toBe(before);
  });

  it('test_client_receives_close_during_compression: a riptide client finishes its message before answering the server', async () => {
    const { client, ws } = await connection();
    const got = collect(ws);
    const clientClosed = once<[number, Buffer]>(client, 'close');
    const serverClosed = once<[number, Buffer]>(ws, 'close');
    client.send(BIG);
    client.send('queued before the close');
    ws.close(4001, 'bye');
    await until(() => client.readyState === WebSocket.CLOSING);
    expect(client._proto!.closeOwed).toBe(true);
    const [serverCode] = await serverClosed;
    expect(serverCode).toBe(4001);
    expect(got).toHaveLength(2);
    expectBytes(got[0], BIG);
    expect(got[1].toString()).toBe('queued before the close');
    const [clientCode, clientReason] = await clientClosed;
    expect([clientCode, clientReason.toString()]).toEqual([4001, 'bye']);
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

/**
 * A riptide server's connection to a raw deflate client: `ws` the server's side, `socket` the
 * client's, `wire` what the client receives until its socket closes.
 */
async function rawPeer(): Promise<{ ws: WebSocket; socket: net.Socket; wire: Promise<Buffer> }> {
  const { wss, port } = await server();
  const connected = nextConnection(wss);
  const { socket, rest } = await rawDeflateClient(port);
  cleanups.push(() => {
    socket.destroy();
  });
  const ws = await connected;
  return { ws, socket, wire: collectUntilClose(socket, rest) };
}

/** A raw client that offers permessage-deflate (a plain client, without context takeover). */
async function rawDeflateClient(port: number): Promise<{ socket: net.Socket; rest: Buffer }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n\r\n',
  );
  let buf = Buffer.alloc(0);
  while (buf.indexOf('\r\n\r\n') === -1) {
    const [chunk] = await once<[Buffer]>(socket, 'data');
    buf = Buffer.concat([buf, chunk]);
  }
  const head = buf.subarray(0, buf.indexOf('\r\n\r\n')).toString();
  expect(head).toMatch(/^HTTP\/1\.1 101/);
  expect(head).toMatch(/sec-websocket-extensions: permessage-deflate/i);
  return { socket, rest: buf.subarray(buf.indexOf('\r\n\r\n') + 4) };
}

/** One turn of the event loop (a setImmediate). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

type Recorded = (err?: Error) => void;

/** A callback recorder: `name`, or `name: code` when called with an error. */
function recorder(calls: string[]): (name: string) => Recorded {
  return (name) => (err) => calls.push(err ? `${name}: ${(err as { code?: string }).code}` : name);
}

describe('backpressure: the next slice waits for the transport to drain', () => {
  /**
   * Incompressible: every slice compresses to about its own size, so the output outgrows the
   * kernel's socket buffers (about 4 MiB on loopback for a peer that reads nothing).
   */
  const RANDOM = randomBytes(16 * MiB);

  for (const kind of ['ws 8', 'riptide'] as const) {
    it(`test_sliced_send_to_a_${kind.replace(' ', '')}_peer_that_does_not_read_stays_bounded_then_arrives_whole`, async () => {
      const { wss, url } = await server();
      const connected = nextConnection(wss);
      const client = kind === 'ws 8' ? await wsClient(url) : await riptideClient(url);
      const ws = await connected;
      // The peer stops reading: the kernel's buffers fill, then the server's socket's.
      client.pause();
      const socket = ws._socket as net.Socket;
      const proto = ws._proto!;
      const written = new Promise<Error | undefined>((resolve) => ws.send(RANDOM, resolve));
      // Compressed bytes held in this process (the socket's buffer and the core's queue), seen
      // every turn until compression makes no progress for 20 turns in a row, or ends.
      let maxHeld = 0;
      let last = -1;
      let still = 0;
      while (still < 20 && proto.compressPending > 0) {
        maxHeld = Math.max(maxHeld, socket.writableLength + proto.outputBytes);
        const pending = proto.compressPending;
        still = pending === last ? still + 1 : 0;
        last = pending;
        await turn();
      }
      // Stalled mid-message: the rest waits uncompressed for the peer, and what was compressed
      // but not taken by the kernel stays within the high-water mark plus one slice's output
      // (frame header and DEFLATE's stored-block overhead included). Without waiting for
      // 'drain', all 16 MiB would be compressed and about 12 MiB held here.
      expect(proto.compressPending).toBeGreaterThan(0);
      expect(proto.compressPending).toBeLessThan(RANDOM.length - DEFLATE_SLICE);
      expect(maxHeld).toBeGreaterThan(0);
      expect(maxHeld).toBeLessThanOrEqual(socket.writableHighWaterMark + DEFLATE_SLICE + 1024);
      // bufferedAmount still counts the input not compressed yet.
      expect(ws.bufferedAmount).toBeGreaterThanOrEqual(proto.compressPending);
      // The peer reads again: the message arrives whole and its callback succeeds.
      const received = nextMessage(client as WebSocket);
      client.resume();
      expectBytes(await received, RANDOM);
      expect(await written).toBeUndefined();
    });
  }

  it('test_close_during_a_stalled_sliced_send_arms_the_close_timer_at_once', async () => {
    // A peer that never reads holds the message, and the close frame queued behind it: the close
    // timer runs from close(), as in ws, and ends the connection.
    const { client, ws } = await connection({}, { closeTimeout: 200 });
    client.pause();
    const proto = ws._proto!;
    const errors: string[] = [];
    ws.on('error', (err) => errors.push((err as { code?: string }).code ?? ''));
    const calls: string[] = [];
    const record = recorder(calls);
    ws.send(RANDOM, record('big'));
    let last = -1;
    let still = 0;
    while (still < 20 && proto.compressPending > 0) {
      still = proto.compressPending === last ? still + 1 : 0;
      last = proto.compressPending;
      await turn();
    }
    expect(proto.compressPending).toBeGreaterThan(0);
    const closed = once<[number]>(ws, 'close');
    ws.close(1000, 'bye');
    const [code] = await closed;
    expect(code).toBe(1006);
    expect(errors).toEqual(['WS_ERR_CLOSE_TIMEOUT']);
    expect(calls).toEqual(['big: WS_ERR_SOCKET_CLOSED']);
  });
});

describe('callback order: ping() and pong() after a sliced message', () => {
  /** send, send (big), ping, send, pong with callbacks: the order the callbacks come in. */
  async function callbackOrder(sender: WS, peer: WS): Promise<string[]> {
    const calls: string[] = [];
    const record = recorder(calls);
    const got = messages(peer, 3);
    const done = new Promise<void>((resolve) => {
      sender.send('before', record('before'));
      sender.send(BIG, record('big'));
      sender.ping('p', undefined, record('ping'));
      sender.send('after', record('after'));
      sender.pong('q', undefined, (err?: Error) => {
        record('pong')(err);
        resolve();
      });
    });
    const [before, big, after] = await got;
    expect(before).toBe('before');
    expectBytes(big, BIG);
    expect(after).toBe('after');
    await done;
    return calls;
  }

  it('test_ws8_server_calls_back_in_call_order (the reference)', async () => {
    const { wss, url } = await wsServer({ perMessageDeflate: { threshold: 0 } });
    cleanups.push(() => shutdown(wss));
    const connected = once<[WS]>(wss, 'connection');
    const client = await riptideClient(url);
    const [peer] = await connected;
    expect(await callbackOrder(peer, client)).toEqual(['before', 'big', 'ping', 'after', 'pong']);
  });

  it('test_riptide_server_calls_back_in_call_order though the ping goes between the fragments', async () => {
    const { client, ws } = await connection();
    const wire: string[] = [];
    client.on('ping', () => wire.push('ping'));
    client.on('message', () => wire.push('message'));
    expect(await callbackOrder(ws, client)).toEqual(['before', 'big', 'ping', 'after', 'pong']);
    // On the wire the ping did not wait for the 80 slices (RFC 6455 5.4).
    expect(wire.slice(0, 3)).toEqual(['message', 'ping', 'message']);
  });

  it('test_riptide_client_calls_back_in_call_order too', async () => {
    const { client, ws } = await connection();
    expect(await callbackOrder(client, ws)).toEqual(['before', 'big', 'ping', 'after', 'pong']);
  });

  it('test_a_ping_callback_waits_for_a_second_sliced_message_sent_before_it', async () => {
    const { client, ws } = await connection();
    const calls: string[] = [];
    const record = recorder(calls);
    const got = messages(client, 2);
    const done = new Promise<void>((resolve) => {
      ws.send(BIG, record('big-1'));
      ws.send(BIG, record('big-2'));
      ws.ping(undefined, undefined, (err?: Error) => {
        record('ping')(err);
        resolve();
      });
    });
    const [one, two] = await got;
    expectBytes(one, BIG);
    expectBytes(two, BIG);
    await done;
    expect(calls).toEqual(['big-1', 'big-2', 'ping']);
  });
});

describe('zlib failing mid-message', () => {
  type Handle = {
    writeSync(...args: unknown[]): void;
    onerror(message: string, errno: number, code: string): void;
  };
  type Codec = { sliced: { offset: number; ctx: { handle: Handle } } | null };

  /**
   * Fault injection without a seam in the library: the native handle of the deflater that `ws`'s
   * message is being compressed with reports an error (as zlib does, through its onerror, e.g.
   * out of memory) when asked for slice `slice` (0 is the first) or later.
   */
  function failDeflateAtSlice(ws: WebSocket, slice: number): void {
    const codec = ws._proto!.extension as unknown as Codec;
    const sliced = codec.sliced!;
    const handle = sliced.ctx.handle;
    const writeSync = handle.writeSync;
    handle.writeSync = function (this: Handle, ...args: unknown[]) {
      if (codec.sliced !== null && codec.sliced.offset >= slice * DEFLATE_SLICE) {
        this.onerror('out of memory (injected)', -4, 'Z_MEM_ERROR');
        return;
      }
      return writeSync.apply(this, args);
    };
  }

  /** The server keeps serving: a connection made before the failure echoes a big compressed message. */
  async function stillServes(client: WebSocket, side: WebSocket): Promise<void> {
    side.on('message', (data) => side.send(data as Buffer));
    const echoed = nextMessage(client);
    client.send(BIG);
    expectBytes(await echoed, BIG);
  }

  for (const takeover of [true, false]) {
    it(`test_deflate_failing_after_3_slices_went_out: 1011 after the 3 fragments, callbacks get the error, nothing thrown (context takeover ${takeover ? 'on' : 'off'})`, async () => {
      const before = heldContexts();
      const { wss, port, url } = await server({ serverNoContextTakeover: !takeover });
      let connected = nextConnection(wss);
      const other = await riptideClient(url);
      const otherSide = await connected;
      connected = nextConnection(wss);
      const { socket, rest } = await rawDeflateClient(port);
      cleanups.push(() => {
        socket.destroy();
      });
      const ws = await connected;
      const wire = collectUntilClose(socket, rest);
      const errors: Error[] = [];
      ws.on('error', (err) => errors.push(err));
      const calls: string[] = [];
      const record = recorder(calls);
      const serverClosed = once<[number]>(ws, 'close');
      ws.send(BIG, record('big'));
      failDeflateAtSlice(ws, 3);
      ws.ping('p', undefined, record('ping'));
      ws.send('behind', record('behind'));
      ws.close(1000);
      // The peer answers the close frame; the server then closes the TCP connection.
      const answer = wire.then(() => undefined);
      socket.on('data', (chunk: Buffer) => {
        if (parseFrames(Buffer.concat([rest, chunk])).some((f) => f.opcode === 8)) socket.end();
      });
      await answer;
      const frames = parseFrames(await wire);
      // Three fragments (RSV1 on the first), the ping between them, then the close frame: 1011.
      const data = frames.filter((f) => f.opcode !== 9);
      expect(data.map((f) => [f.opcode, f.fin, f.rsv1])).toEqual([
        [2, false, true],
        [0, false, false],
        [0, false, false],
        [8, true, false],
      ]);
      expect(data[3].payload.readUInt16BE(0)).toBe(1011);
      expect(frames.filter((f) => f.opcode === 9)).toHaveLength(1);
      // The three slices inflate to the message's first 768 KiB.
      const inflated = zlib.inflateRawSync(Buffer.concat(data.slice(0, 3).map((f) => f.payload)), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      expectBytes(inflated, BIG.subarray(0, 3 * DEFLATE_SLICE));
      const [code] = await serverClosed;
      expect(code).toBe(1006); // the peer's close frame never came: the server failed the connection
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'WS_ERR_COMPRESSION_FAILED', closeCode: 1011 });
      // Every pending callback gets that error, in call order; the close() that waited is dropped.
      expect(calls).toEqual([
        'big: WS_ERR_COMPRESSION_FAILED',
        'ping: WS_ERR_COMPRESSION_FAILED',
        'behind: WS_ERR_COMPRESSION_FAILED',
      ]);
      // The failed deflater was freed, not pooled.
      expect(heldContexts()).toBe(before);
      await stillServes(other, otherSide);
    });
  }

  for (const kind of ['ws 8', 'riptide'] as const) {
    it(`test_deflate_failing_mid_message_to_a_${kind.replace(' ', '')}_client: it sees close 1011 and no message`, async () => {
      const { wss, url } = await server();
      const connected = nextConnection(wss);
      const client = kind === 'ws 8' ? await wsClient(url) : await riptideClient(url);
      const ws = await connected;
      let received = 0;
      client.on('message', () => received++);
      const errors: string[] = [];
      ws.on('error', (err) => errors.push((err as { code?: string }).code ?? ''));
      const clientClosed = once<[number]>(client, 'close');
      const result = new Promise<string>((resolve) =>
        ws.send(BIG, (err) => resolve((err as { code?: string } | undefined)?.code ?? 'written')),
      );
      failDeflateAtSlice(ws, 1);
      const [code] = await clientClosed;
      expect(code).toBe(1011);
      expect(received).toBe(0);
      expect(await result).toBe('WS_ERR_COMPRESSION_FAILED');
      expect(errors).toEqual(['WS_ERR_COMPRESSION_FAILED']);
    });
  }

  it('test_inflate_failing_mid_message: 1007, the pending sliced send errors, the server goes on', async () => {
    const before = heldContexts();
    const { wss, url } = await server();
    let connected = nextConnection(wss);
    const other = await riptideClient(url);
    const otherSide = await connected;
    connected = nextConnection(wss);
    const client = await wsClient(url);
    const ws = await connected;
    const errors: Error[] = [];
    ws.on('error', (err) => errors.push(err));
    let delivered = 0;
    ws.on('message', () => delivered++);
    const calls: string[] = [];
    const clientClosed = once<[number]>(client, 'close');
    const serverClosed = once(ws, 'close');
    // The server is sending a big message (80 slices) when the client's broken one arrives.
    ws.send(BIG, recorder(calls)('big'));
    // A fragmented compressed message: its first fragment inflates to 1 MiB (four turns of the
    // inflate budget), its second is not DEFLATE data (a block of the reserved type 3).
    const first = zlib.deflateRawSync(Buffer.alloc(MiB, 'a'), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const head = clientFrame(2, first, false);
    head[0] |= 0x40; // RSV1: compressed (RFC 7692 6.1)
    const raw = (client as unknown as { _socket: net.Socket })._socket;
    raw.write(Buffer.concat([head, clientFrame(0, Buffer.from([0xff, 0xff, 0xff]), true)]));
    const [code] = await clientClosed;
    expect(code).toBe(1007);
    await serverClosed;
    expect(delivered).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'Z_DATA_ERROR', closeCode: 1007 });
    // The message being compressed was cut short by the failure: its callback says so.
    expect(calls).toEqual(['big: WS_ERR_SOCKET_CLOSED']);
    expect(heldContexts()).toBe(before);
    await stillServes(other, otherSide);
  });
});
