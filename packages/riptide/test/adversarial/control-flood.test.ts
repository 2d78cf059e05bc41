/**
 * Control-frame floods from a peer that never reads (issue 12, hole 2). RFC 6455 5.5.2 makes
 * every ping owe a pong; a peer that sends pings and never reads the pongs makes the library
 * queue them without end unless it bounds what it queues on its own (`maxPendingAutoPongs`, ws
 * 8's option and default: 60 automatic pongs not yet handed to the kernel).
 *
 * Floods are bounded by bytes written: the peer must be terminated before the attacker has
 * written FLOOD_CAP bytes (the kernel's socket buffers take a few MiB of pongs first).
 */
import type * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import {
  fdCount,
  floodUntilClosed,
  healthyRoundTrip,
  MiB,
  MODES,
  maliciousServer,
  once,
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
    for (let round = 1; round <= 400; round++) {
      socket.write(burst);
      while (pongBytes < round * 50 * 127 && !socket.destroyed) {
        await Promise.race([once(socket, 'data'), once(socket, 'close')]);
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
