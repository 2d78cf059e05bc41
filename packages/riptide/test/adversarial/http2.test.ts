/**
 * Attacks over HTTP/2 (RFC 8441): the WebSocket's transport is a stream of a shared session, so
 * the bounds that a TCP socket gets from its kernel buffers come from HTTP/2 flow control here.
 * A peer that stops reading stops granting window: what the server writes stays in the
 * stream's buffer, which is what maxPendingAutoPongs watches.
 */

import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from '../../src/index.js';
import {
  closeH2,
  connectHeaders,
  h2Server,
  rawSession,
  settle,
  trackSessions,
} from '../node/http2-helpers.js';
import { floodUntilClosed, MiB, once, trapCrashes, zeroMaskedFrame } from './helpers.js';

const crashes = trapCrashes();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('HTTP/2 server: a ping flood on a stream that never reads', () => {
  it('terminates the WebSocket before the cap, and the session serves another stream', async () => {
    const made = http2.createServer();
    trackSessions(made);
    const { wss, server, port, origin } = await h2Server({}, 'h2c', made);
    cleanups.push(() => closeH2(wss, server));
    const closed = new Promise<{ code: number; errors: string[] }>((resolve) =>
      wss.once('connection', (ws: WebSocket) => {
        const errors: string[] = [];
        ws.on('error', (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
        ws.on('close', (code) => resolve({ code, errors }));
      }),
    );
    const session = await rawSession(origin);
    cleanups.push(async () => {
      await settle();
      session.destroy();
    });
    const stream = session.request(connectHeaders(port), { endStream: false });
    stream.on('error', () => {});
    const [headers] = await once<[http2.IncomingHttpHeaders]>(stream, 'response');
    expect(headers[':status']).toBe(200);
    stream.pause(); // no reading: no WINDOW_UPDATE for this stream
    const ping = zeroMaskedFrame(0x9, Buffer.alloc(125, 0x70));
    const burst = Buffer.concat(Array.from({ length: 512 }, () => ping));
    const { written, closedByPeer } = await crashes.race(
      floodUntilClosed(stream as unknown as net.Socket, burst, 32 * MiB),
    );
    expect(closedByPeer).toBe(true);
    expect(written).toBeLessThan(32 * MiB);
    expect(await closed).toEqual({ code: 1006, errors: ['WS_ERR_PENDING_PONGS'] });
    // The session is still good: a second WebSocket on it gets its echo.
    wss.on('connection', (ws: WebSocket) => ws.on('message', (data) => ws.send(data as Buffer)));
    const second = session.request(connectHeaders(port), { endStream: false });
    second.on('error', () => {});
    await once(second, 'response');
    second.write(zeroMaskedFrame(0x2, Buffer.from('still there?')));
    const [echo] = await once<[Buffer]>(second, 'data');
    expect(echo.subarray(2).toString()).toBe('still there?');
    expect(crashes.errors).toEqual([]);
  });
});
