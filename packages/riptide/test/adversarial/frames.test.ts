/**
 * Hostile frames (RFC 6455 5) against servers in both modes and, from a malicious server,
 * against the client: impossible lengths, endless fragments, oversized control frames, invalid
 * UTF-8, resets in the middle of a frame, peers that vanish. Each asserts the close code sent,
 * that the process survives and that a healthy client still gets its echo.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import {
  closeCodeIn,
  collectUntilClose,
  echoServer,
  frameHeader,
  healthyRoundTrip,
  MODES,
  maliciousServer,
  once,
  rawClient,
  type Served,
  trapCrashes,
} from './helpers.js';

const crashes = trapCrashes();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function serve(...args: Parameters<typeof echoServer>): Promise<Served> {
  const served = await echoServer(...args);
  cleanups.push(() => served.close());
  return served;
}

/** Sends `bytes` on an upgraded raw connection; returns the close code the server sent. */
async function serverAnswers(served: Served, bytes: Buffer): Promise<number | null> {
  const { socket, rest } = await rawClient(served.port);
  socket.on('error', () => {});
  const all = collectUntilClose(socket, rest);
  socket.write(bytes);
  return closeCodeIn(await crashes.race(all));
}

/** A malicious server sends `bytes` after the handshake; returns the client's close code and error. */
async function clientAnswers(
  bytes: Buffer,
  options: ConstructorParameters<typeof WebSocket>[1] = {},
): Promise<{ sent: number | null; error: string | undefined; closeEvent: number }> {
  let received: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
  const server = await maliciousServer((socket: net.Socket) => {
    received = collectUntilClose(socket);
    socket.write(bytes);
  });
  cleanups.push(() => server.close());
  const ws = new WebSocket(server.url, { perMessageDeflate: false, ...(options as object) });
  let error: string | undefined;
  ws.on('error', (err: Error & { code?: string }) => (error ??= err.code));
  const [closeEvent] = await crashes.race(once<[number]>(ws, 'close'));
  return { sent: unmaskedCloseCode(await received), error, closeEvent };
}

/** The close code in the client's (masked) close frame. */
function unmaskedCloseCode(bytes: Buffer): number | null {
  if (bytes.length < 8 || (bytes[0] & 0x0f) !== 0x8) return null;
  const key = bytes.subarray(2, 6);
  return ((bytes[6] ^ key[0]) << 8) | (bytes[7] ^ key[1]);
}

describe.each(MODES)('{ %s } server: impossible lengths (RFC 6455 5.2)', (mode) => {
  it.each([
    ['2^53 - 1', 2n ** 53n - 1n],
    ['2^40', 2n ** 40n],
    ['2^32 + 1', 2n ** 32n + 1n],
  ])('with maxPayload 0 ("no limit") a %s length is 1009, never a throw', async (_name, length) => {
    // Issue 12, hole 3: the length went to Buffer.allocUnsafe, which threw ERR_OUT_OF_RANGE
    // inside the 'data' handler.
    const served = await serve(mode, { maxPayload: 0 });
    expect(await serverAnswers(served, Buffer.concat([frameHeader(0x2, length), Buffer.alloc(64)]))).toBe(
      1009,
    );
    await healthyRoundTrip(served.url);
    expect(crashes.errors).toEqual([]);
  });

  it('a 2^63 - 1 length with the default maxPayload is 1009', async () => {
    const served = await serve(mode);
    expect(await serverAnswers(served, frameHeader(0x2, 2n ** 63n - 1n))).toBe(1009);
    await healthyRoundTrip(served.url);
  });
});

describe('client: impossible lengths from a malicious server', () => {
  it('with maxPayload 0 ("no limit") a 2^40 length is 1009, never a throw', async () => {
    const bytes = Buffer.concat([frameHeader(0x2, 2n ** 40n, true, false, false), Buffer.alloc(64)]);
    const result = await clientAnswers(bytes, { maxPayload: 0 });
    expect(result).toEqual({ sent: 1009, error: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', closeEvent: 1006 });
    expect(crashes.errors).toEqual([]);
  });

  it('a 2^63 - 1 length with the default maxPayload is 1009', async () => {
    const result = await clientAnswers(frameHeader(0x2, 2n ** 63n - 1n, true, false, false));
    expect(result).toEqual({ sent: 1009, error: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', closeEvent: 1006 });
  });
});
