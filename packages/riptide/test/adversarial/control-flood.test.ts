/**
 * Control-frame floods from a peer that never reads (issue 12, hole 2). RFC 6455 5.5.2 makes
 * every ping owe a pong; a peer that sends pings and never reads the pongs makes the library
 * queue them without end unless it bounds what it queues on its own (`maxPendingAutoPongs`, ws
 * 8's option and default: 60 automatic pongs not yet handed to the kernel).
 *
 * Floods are bounded by bytes written: the peer must be terminated before the attacker has
 * written FLOOD_CAP bytes (the kernel's socket buffers take a few MiB of pongs first).
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import {
  acceptFor,
  fdCount,
  floodUntilClosed,
  healthyRoundTrip,
  MiB,
  MODES,
  maliciousServer,
  once,
  parseFrames,
  perTestServers,
  rawClient,
  rss,
  type Served,
  serverFrame,
  trapCrashes,
  waitFor,
  zeroMaskedFrame,
} from './helpers.js';

const FLOOD_CAP = 96 * MiB;
/** What the process may grow by during a flood (the unbounded queue grew by more than the cap). */
const RSS_BOUND = 80 * MiB;

const crashes = trapCrashes();
const { cleanups, serve } = perTestServers();

/** Many 125-byte pings per write (the largest control frame; each owes a 127-byte pong). */
function pingBurst(masked: boolean): Buffer {
  const payload = Buffer.alloc(125, 0x70);
  const ping = masked ? zeroMaskedFrame(0x9, payload) : serverFrame(0x9, payload);
  return Buffer.concat(Array.from({ length: 512 }, () => ping));
}

describe.each(MODES)('{ %s } server: a ping flood from a client that never reads', (mode) => {
  let served: Served;

  it('terminates the client before it has written the cap, with bounded memory', async () => {
    served = await serve(mode);
    const closed = new Promise<number>((resolve) =>
      served.wss.on('connection', (ws) => ws.on('close', (code) => resolve(code))),
    );
    const fds = fdCount();
    const { socket } = await rawClient(served.port);
    socket.on('error', () => {});
    socket.pause(); // never read a pong
    const before = rss();
    const { written, closedByPeer } = await floodUntilClosed(socket, pingBurst(true), FLOOD_CAP);
    const grown = rss() - before;
    expect(closedByPeer).toBe(true);
    expect(written).toBeLessThan(FLOOD_CAP);
    expect(await closed).toBe(1006); // terminated: a close frame could never be read
    expect(grown).toBeLessThan(RSS_BOUND);
    socket.destroy();
    await waitFor(() => fdCount() <= fds, "the terminated client's descriptor to be released");
    await healthyRoundTrip(served.url);
    expect(crashes.errors).toEqual([]);
  });
});

/** Resolves once `condition()` holds, checking on every turn (setImmediate: never faked here). */
async function untilTurn(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe.each(MODES)('{ %s } server: a close-frame flood from a client that never reads', (mode) => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const close = zeroMaskedFrame(0x8, Buffer.from([0x03, 0xe8]));
  const burst = Buffer.concat(Array.from({ length: 4096 }, () => close));

  it('answers the first close once and closes the connection at once: the rest is refused', async () => {
    // RFC 6455 7.1.1: "The server MUST close the underlying TCP connection immediately" once
    // the close frames are exchanged. Our close frame is in the kernel at once, so the server
    // closes its descriptor then: what the peer sends after its close frame is never read, and
    // the flood ends in a reset long before the cap. No close timer is involved.
    const served = await serve(mode);
    const errors: string[] = [];
    const closed = new Promise<number>((resolve) =>
      served.wss.on('connection', (ws) => {
        ws.on('error', (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
        ws.on('close', (code) => resolve(code));
      }),
    );
    const { socket } = await rawClient(served.port);
    socket.on('error', () => {});
    socket.pause(); // never read the answer
    const before = rss();
    const { written, closedByPeer } = await floodUntilClosed(socket, burst, 32 * MiB);
    expect(closedByPeer).toBe(true);
    expect(written).toBeLessThan(32 * MiB);
    expect(await closed).toBe(1000); // the peer's code, from its first close frame
    expect(errors).toEqual([]);
    expect(rss() - before).toBeLessThan(RSS_BOUND);
    socket.destroy();
    await healthyRoundTrip(served.url);
    expect(crashes.errors).toEqual([]);
  });

  it('behind a backlog: discards the rest of the flood unbuffered and destroys the socket at closeTimeout', async () => {
    // With our close frame queued behind data the peer has not read, closing the descriptor
    // would drop that data: the server half-closes instead and reads on. RFC 6455 5.5.1: after
    // a close frame the peer sends nothing more; what it sends anyway is discarded unbuffered
    // (the parser's DISCARD phase). The close timer is faked: the peer never reads nor closes
    // its side, so only closeTimeout can end it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const served = await serve(mode, { closeTimeout: 30_000 });
    let server: WebSocket | null = null;
    const errors: string[] = [];
    const connected = new Promise<WebSocket>((resolve) => served.wss.on('connection', resolve));
    const { socket } = await rawClient(served.port);
    socket.on('error', () => {});
    socket.pause(); // never read the answer
    server = await connected;
    server.on('error', (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
    const closed = new Promise<number>((resolve) => server!.on('close', (code) => resolve(code)));
    const backlog = 24 * MiB; // more than the loopback socket buffers take
    server.send(Buffer.alloc(backlog));
    const queued = server.bufferedAmount;
    expect(queued).toBeGreaterThan(0);
    const before = rss();
    const { written, closedByPeer } = await floodUntilClosed(socket, burst, 32 * MiB);
    expect(closedByPeer).toBe(false); // every byte was read (and discarded)
    expect(written).toBeGreaterThanOrEqual(32 * MiB);
    await untilTurn(() => server!.readyState === WebSocket.CLOSING);
    expect(rss() - before).toBeLessThan(RSS_BOUND);
    // Nothing of the flood was buffered: the backlog holds the message, its frame header and
    // our one close frame (4 bytes), not 4,096 answers.
    expect(server.bufferedAmount).toBeLessThanOrEqual(queued + 14 + 4);
    vi.advanceTimersByTime(30_000);
    expect(await closed).toBe(1000);
    expect(errors).toEqual(['WS_ERR_CLOSE_TIMEOUT']);
    socket.destroy();
    vi.useRealTimers();
    await healthyRoundTrip(served.url);
    expect(crashes.errors).toEqual([]);
  });
});

describe('{ port } server: an application sending to a client that never reads', () => {
  it('send() turns false at the high-water mark and bufferedAmount counts every byte queued', async () => {
    // The library bounds what it queues on its own (pongs, one close frame); what the
    // application queues with send() is the application's to bound: it is told, not capped.
    const served = await serve('port');
    const connected = new Promise<WebSocket>((resolve) => served.wss.on('connection', resolve));
    const { socket } = await rawClient(served.port);
    socket.on('error', () => {});
    socket.pause();
    const ws = await connected;
    const chunk = Buffer.alloc(64 * 1024, 0x42);
    let queued = 0;
    let firstFalse = -1;
    for (let i = 0; i < 512; i++) {
      const below = ws.send(chunk);
      queued += chunk.length;
      if (!below && firstFalse === -1) firstFalse = queued;
    }
    expect(firstFalse).toBeGreaterThan(0);
    expect(firstFalse).toBeLessThanOrEqual(ws._socket!.writableHighWaterMark + chunk.length);
    // Once written to the socket, the kernel takes a few MiB; the rest stays counted.
    await new Promise((resolve) => setImmediate(resolve));
    expect(ws.bufferedAmount).toBeGreaterThan(queued - 16 * MiB);
    expect(ws.bufferedAmount).toBeLessThanOrEqual(queued + 512 * 10); // + the frame headers once written
    socket.destroy();
  });
});

describe('{ port } server: publish() to a subscriber in the middle of a fragmented send', () => {
  it('counts the frames held for after the message in bufferedAmount, so maxBackpressure skips it', async () => {
    // RFC 6455 5.4: published frames wait for the fragmented message to end. They were held
    // outside bufferedAmount, so maxBackpressure never saw them: an application streaming a
    // file in fragments to a peer that stopped reading (waiting for a 'drain' that never
    // comes) held every broadcast for good, however low it had set maxBackpressure.
    const served = await serve('port', { maxBackpressure: 64 * 1024 });
    const connected = new Promise<WebSocket>((resolve) => served.wss.on('connection', resolve));
    const { socket } = await rawClient(served.port);
    socket.on('error', () => {});
    socket.pause();
    const ws = await connected;
    ws.subscribe('news');
    ws.send(Buffer.alloc(1024, 0x61), { fin: false }); // a message begun, not finished
    const item = Buffer.alloc(1024, 0x62);
    let delivered = 0;
    for (let i = 0; i < 10_000; i++) delivered += served.wss.publish('news', item);
    // Delivered (held) until the held frames pass 64 KiB, then skipped.
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThanOrEqual(64 + 1);
    expect(ws.bufferedAmount).toBeGreaterThan(64 * 1024);
    expect(ws.bufferedAmount).toBeLessThan(72 * 1024);
    // The message ends: the held frames follow it, still counted until written.
    ws.send(Buffer.alloc(1024, 0x63), { fin: true });
    expect(ws.bufferedAmount).toBeGreaterThan(64 * 1024);
    socket.destroy();
  });
});

describe('a ping flood from a client that reads its pongs', () => {
  it('is answered in full and never terminated, however many pings it sends', async () => {
    const served = await serve('port');
    const { socket } = await rawClient(served.port);
    let pongBytes = 0;
    socket.on('data', (chunk: Buffer) => (pongBytes += chunk.length));
    // Bursts of 50 pings (under the bound of 60), each answered before the next: 20,000 pings.
    const burst = Buffer.concat(
      Array.from({ length: 50 }, () => zeroMaskedFrame(0x9, Buffer.alloc(125, 0x70))),
    );
    // One 'close' listener for the whole test (one per wait piled up: MaxListenersExceededWarning).
    const closed = once(socket, 'close');
    for (let round = 1; round <= 400; round++) {
      socket.write(burst);
      while (pongBytes < round * 50 * 127 && !socket.destroyed) {
        await Promise.race([once(socket, 'data'), closed]);
      }
    }
    expect(pongBytes).toBe(400 * 50 * 127);
    expect(socket.destroyed).toBe(false);
    expect(served.wss.clients.size).toBe(1);
    socket.destroy();
  });
});

describe('client: a ping flood from a malicious server that never reads', () => {
  it('terminates the connection before the server has written the cap', async () => {
    const flood: { result?: Promise<{ written: number; closedByPeer: boolean }> } = {};
    const server = await maliciousServer((socket: net.Socket) => {
      socket.pause();
      flood.result = floodUntilClosed(socket, pingBurst(false), FLOOD_CAP);
    });
    cleanups.push(() => server.close());
    const ws = new WebSocket(server.url, { perMessageDeflate: false });
    const errors: string[] = [];
    ws.on('error', (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
    const closed = once<[number]>(ws, 'close');
    await once(ws, 'open');
    const before = rss();
    await waitFor(() => flood.result !== undefined, 'the flood to start');
    const { written, closedByPeer } = await flood.result!;
    const grown = rss() - before;
    expect(closedByPeer).toBe(true);
    expect(written).toBeLessThan(FLOOD_CAP);
    expect(grown).toBeLessThan(RSS_BOUND);
    const [code] = await closed;
    expect(code).toBe(1006);
    expect(errors).toEqual(['WS_ERR_PENDING_PONGS']);
  });
});

describe('client: a malicious server that closes first and then keeps its TCP side open', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gets its close echoed and a FIN, and is destroyed at closeTimeout', async () => {
    // RFC 6455 7.1.1: the server should close the TCP connection once the close frames are
    // exchanged. This one sends its close frame, reads our answer and our FIN, and never closes:
    // only the client's closeTimeout (faked here) can free the socket.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let serverSocket: net.Socket | null = null;
    let got = Buffer.alloc(0);
    let finReceived = false;
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      serverSocket = socket;
      socket.on('error', () => {});
      let head = '';
      const onHead = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.removeListener('data', onHead);
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
        );
        socket.write(serverFrame(0x8, Buffer.from([0x0f, 0xa0]))); // 4000
        socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
        socket.on('end', () => (finReceived = true)); // and never end our side
      };
      socket.on('data', onHead);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      serverSocket?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`, {
      perMessageDeflate: false,
      closeTimeout: 30_000,
    });
    const errors: string[] = [];
    ws.on('error', (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
    const closed = once<[number]>(ws, 'close');
    await untilTurn(() => finReceived);
    expect(parseFrames(got).map((f) => [f.opcode, f.payload.readUInt16BE(0)])).toEqual([[0x8, 4000]]);
    expect(ws.readyState).toBe(WebSocket.CLOSING); // until the TCP connection is gone
    expect(errors).toEqual([]);
    vi.advanceTimersByTime(30_000);
    const [code] = await closed;
    expect(code).toBe(4000); // the server's code: its close frame was received
    expect(errors).toEqual(['WS_ERR_CLOSE_TIMEOUT']);
    expect(crashes.errors).toEqual([]);
  });
});

describe('the maxPendingAutoPongs option (ws 8: default 60, 0 for no limit)', () => {
  it('is accepted by servers and clients and validated like every count', () => {
    new WebSocketServer({ noServer: true, maxPendingAutoPongs: 0 }).close();
    new WebSocketServer({ noServer: true, maxPendingAutoPongs: 1000 }).close();
    for (const bad of [-1, 1.5, '60']) {
      expect(() => new WebSocketServer({ noServer: true, maxPendingAutoPongs: bad as number })).toThrow(
        expect.objectContaining({
          code: 'WS_ERR_INVALID_OPTION',
          message: expect.stringMatching(/maxPendingAutoPongs/),
        }),
      );
      expect(() => new WebSocket('ws://127.0.0.1:1', { maxPendingAutoPongs: bad as number })).toThrow(
        expect.objectContaining({
          code: 'WS_ERR_INVALID_OPTION',
          message: expect.stringMatching(/maxPendingAutoPongs/),
        }),
      );
    }
  });
});
