/**
 * Compressed floods and bombs (RFC 7692) against a server with permessage-deflate and, from a
 * malicious server, against the client (issue 12, hole 6). A 1 KiB frame can inflate to 1 MiB:
 * without a bound, one read of 64 KiB was 64 MiB of zlib work while every other connection
 * waited. The library inflates at most INFLATE_SLICE bytes per connection between turns of the
 * event loop; these tests count turns (a setImmediate ticker), never time.
 *
 * The latency this buys, against ws in the same run, is measured by
 * bench/attack-inflate-flood.mjs, not here.
 */
import type * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { PerMessageExtension } from '../../src/core/extension.js';
import { INFLATE_SLICE } from '../../src/core/receiver.js';
import { WebSocket } from '../../src/index.js';
import {
  closeCodeIn,
  collectUntilGone,
  deflatePayload,
  frameHeader,
  healthyRoundTrip,
  MiB,
  MODES,
  maliciousServer,
  once,
  perTestServers,
  rawDeflateClient,
  rss,
  trapCrashes,
  turnCounter,
  zeroBomb,
} from './helpers.js';

const crashes = trapCrashes();
const { cleanups, serve } = perTestServers();

/** A compressed binary frame (RSV1) inflating to 1 MiB of byte `fill`: about 1 KiB on the wire. */
function floodFrame(fill: number, masked: boolean): Buffer {
  const payload = deflatePayload(Buffer.alloc(MiB, fill));
  return Buffer.concat([frameHeader(0x2, payload.length, true, true, masked), payload]);
}

/**
 * The most a connection may inflate between two turns: INFLATE_SLICE (256 KiB), which zlib
 * overshoots by at most one output chunk (16 KiB, the default inflate chunkSize).
 */
const SLICE_BOUND = 272 * 1024;

/**
 * Meters the inflate work of a connection per turn of the event loop, through its extension
 * object (the core calls it for every compressed frame and every slice of one).
 */
function meterInflate(ws: WebSocket, turns: { readonly turn: number }) {
  const ext = (ws as unknown as { _proto: { extension: PerMessageExtension } })._proto.extension;
  const perTurn = new Map<number, number>();
  for (const name of ['decompress', 'resumeDecompress'] as const) {
    const call = ext[name].bind(ext) as (...args: unknown[]) => ReturnType<PerMessageExtension['decompress']>;
    Object.defineProperty(ext, name, {
      value: (...args: unknown[]) => {
        const result = call(...args);
        perTurn.set(turns.turn, (perTurn.get(turns.turn) ?? 0) + ext.inflated);
        return result;
      },
    });
  }
  return {
    /** The most inflated in one turn. */
    get most() {
      return Math.max(0, ...perTurn.values());
    },
    /** Bytes inflated in all. */
    get total() {
      let n = 0;
      for (const v of perTurn.values()) n += v;
      return n;
    },
    /** Turns in which this connection inflated anything. */
    get turns() {
      return [...perTurn.values()].filter((n) => n > 0).length;
    },
  };
}

/** Records the event-loop turn at which each message arrives; the most that share one turn. */
function perTurn(turns: { readonly turn: number }) {
  const seen: number[] = [];
  return {
    seen,
    record: () => seen.push(turns.turn),
    get most() {
      const counts = new Map<number, number>();
      for (const t of seen) counts.set(t, (counts.get(t) ?? 0) + 1);
      return Math.max(0, ...counts.values());
    },
  };
}

describe.each(MODES)('{ %s } server with permessage-deflate: a compressed flood', (mode) => {
  it('inflates at most one slice per connection per turn of the event loop', async () => {
    const served = await serve(mode, { perMessageDeflate: true });
    const turns = turnCounter();
    cleanups.push(() => turns.stop());
    const arrivals = perTurn(turns);
    let delivered = 0;
    let meter: ReturnType<typeof meterInflate> | null = null;
    served.wss.on('connection', (ws) => {
      meter = meterInflate(ws, turns);
      ws.on('message', (data: Buffer) => {
        arrivals.record();
        if (data.length === MiB) delivered++;
      });
    });
    const socket = await rawDeflateClient(served.port);
    // 16 MiB of inflate work in one 16 KiB write: one read on the server.
    socket.write(Buffer.concat(Array.from({ length: 16 }, (_, i) => floodFrame(i, true))));
    while (delivered < 16) await once(served.wss.clients.values().next().value!, 'message');
    expect(meter!.most).toBeLessThanOrEqual(SLICE_BOUND);
    expect(meter!.turns).toBeGreaterThanOrEqual((16 * MiB) / SLICE_BOUND);
    // A 1 MiB message is more than one slice: no two complete in the same turn.
    expect(arrivals.most).toBe(1);
    socket.destroy();
    expect(crashes.errors).toEqual([]);
  });

  it("a healthy client's message is answered while the flood is still being inflated", async () => {
    const served = await serve(mode, { perMessageDeflate: true });
    let floodDelivered = 0;
    let floodDoneBeforeHealthy: boolean | null = null;
    served.wss.on('connection', (ws) =>
      ws.on('message', (data: Buffer) => {
        if (data.length === MiB) floodDelivered++;
        else floodDoneBeforeHealthy ??= floodDelivered === 64;
      }),
    );
    const healthy = new WebSocket(served.url, { perMessageDeflate: false });
    healthy.on('error', () => {});
    await once(healthy, 'open');
    const attacker = await rawDeflateClient(served.port);
    attacker.write(Buffer.concat(Array.from({ length: 64 }, (_, i) => floodFrame(i, true))));
    // The attacker's bytes are on the server's socket first; the healthy message follows.
    healthy.send('still there?');
    const [echo] = await once<[Buffer]>(healthy, 'message');
    expect(echo.toString()).toBe('still there?');
    expect(floodDoneBeforeHealthy).toBe(false);
    healthy.close();
    attacker.destroy();
  });

  it('a 1 GB bomb is 1009 with bounded RSS, and the event loop turns while it inflates', async () => {
    const served = await serve(mode, { perMessageDeflate: true }); // default maxPayload: 100 MiB
    const bomb = zeroBomb(1024);
    expect(bomb.length).toBeLessThan(1.5 * MiB);
    const turns = turnCounter();
    cleanups.push(() => turns.stop());
    const metered = new Promise<ReturnType<typeof meterInflate>>((resolve) =>
      served.wss.on('connection', (ws) => resolve(meterInflate(ws, turns))),
    );
    const socket = await rawDeflateClient(served.port);
    const meter = await metered;
    const answer = collectUntilGone(socket);
    const before = rss();
    socket.write(Buffer.concat([frameHeader(0x2, bomb.length, true, true, true), bomb]));
    const closeCode = closeCodeIn(await crashes.race(answer));
    expect(closeCode).toBe(1009);
    expect(rss() - before).toBeLessThan(400 * MiB); // the 100 MiB limit, never 1 GB
    // 100 MiB inflated in slices, with turns of the event loop between them.
    expect(meter.most).toBeLessThanOrEqual(SLICE_BOUND);
    expect(meter.turns).toBeGreaterThanOrEqual((100 * MiB) / SLICE_BOUND);
    await healthyRoundTrip(served.url);
  });
});

describe.each(MODES)(
  '{ %s } server with permessage-deflate: compressed text invalid from its first byte',
  (mode) => {
    it('is 1007 in the first inflate slice, not after inflating the whole frame', async () => {
      // 8 MiB of text whose first byte is not UTF-8, in about 8 KiB: the server must not inflate
      // (and hold) the rest before failing the connection (RFC 6455 8.1).
      const served = await serve(mode, { perMessageDeflate: true });
      const turns = turnCounter();
      cleanups.push(() => turns.stop());
      const metered = new Promise<ReturnType<typeof meterInflate>>((resolve) =>
        served.wss.on('connection', (ws) => resolve(meterInflate(ws, turns))),
      );
      const socket = await rawDeflateClient(served.port);
      const meter = await metered;
      const answer = collectUntilGone(socket);
      const payload = deflatePayload(Buffer.concat([Buffer.from([0xff]), Buffer.alloc(8 * MiB, 'a')]));
      socket.write(Buffer.concat([frameHeader(0x1, payload.length, true, true, true), payload]));
      expect(closeCodeIn(await crashes.race(answer))).toBe(1007);
      expect(meter.total).toBeLessThanOrEqual(SLICE_BOUND);
      await healthyRoundTrip(served.url);
    });
  },
);

it('the bound these tests use is the library slice plus one zlib output chunk', () => {
  expect(SLICE_BOUND).toBe(INFLATE_SLICE + 16 * 1024);
});

describe('client with permessage-deflate: a compressed flood from a malicious server', () => {
  it('inflates at most one slice per turn of the event loop', async () => {
    const frames = Buffer.concat(Array.from({ length: 16 }, (_, i) => floodFrame(i, false)));
    const server = await maliciousServer((socket: net.Socket) => socket.write(frames), 'permessage-deflate');
    cleanups.push(() => server.close());
    const ws = new WebSocket(server.url);
    const turns = turnCounter();
    cleanups.push(() => turns.stop());
    let meter: ReturnType<typeof meterInflate> | null = null;
    ws.on('open', () => (meter = meterInflate(ws, turns)));
    const arrivals = perTurn(turns);
    let delivered = 0;
    ws.on('message', () => {
      arrivals.record();
      delivered++;
    });
    while (delivered < 16) await crashes.race(once(ws, 'message'));
    expect(meter!.most).toBeLessThanOrEqual(SLICE_BOUND);
    expect(arrivals.most).toBe(1);
    ws.terminate();
  });
});

describe('client with permessage-deflate: a bomb from a malicious server', () => {
  it('is 1009 (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH) once maxPayload is inflated, never the whole bomb', async () => {
    // 64 MiB of zeros in about 64 KiB, one frame, against a client with maxPayload 1 MiB: zlib
    // must stop within one output chunk of the limit, and the client answers 1009.
    const bomb = zeroBomb(64);
    let answer: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
    const server = await maliciousServer((socket: net.Socket) => {
      answer = collectUntilGone(socket);
      socket.write(Buffer.concat([frameHeader(0x2, bomb.length, true, true, false), bomb]));
    }, 'permessage-deflate');
    cleanups.push(() => server.close());
    const turns = turnCounter();
    cleanups.push(() => turns.stop());
    const ws = new WebSocket(server.url, { maxPayload: MiB });
    let meter: ReturnType<typeof meterInflate> | null = null;
    ws.on('open', () => (meter = meterInflate(ws, turns)));
    const errors: string[] = [];
    ws.on('error', (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
    let messages = 0;
    ws.on('message', () => messages++);
    const [code] = await crashes.race(once<[number]>(ws, 'close'));
    expect(code).toBe(1006); // the server never answered our close frame with its own
    expect(errors).toEqual(['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
    expect(messages).toBe(0);
    expect(meter!.total).toBeGreaterThanOrEqual(MiB);
    expect(meter!.total).toBeLessThanOrEqual(MiB + 16 * 1024);
    const frames = (await answer).subarray(0, 8);
    // The client's masked close frame: its code, unmasked.
    expect(frames[0] & 0x0f).toBe(0x8);
    expect(((frames[6] ^ frames[2]) << 8) | (frames[7] ^ frames[3])).toBe(1009);
  });
});
