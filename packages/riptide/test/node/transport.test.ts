/**
 * node/transport.ts: abortTransport(), the one thing a WebSocket does differently to an HTTP/2
 * stream than to a socket: an HTTP/2 stream is reset with CANCEL (RFC 8441 5), anything else is
 * destroyed. (The rest of the file is the types _attach takes.)
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { abortTransport } from '../../src/node/transport.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length > 0) cleanup.pop()!();
});

describe('abortTransport', () => {
  it('destroys a TCP socket: the peer sees the connection end', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => server.close());
    const accepted = once(server, 'connection');
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const [peer] = (await accepted) as [net.Socket];
    peer.resume();
    const ended = once(peer, 'close');
    abortTransport(client);
    expect(client.destroyed).toBe(true);
    await ended;
  });

  it('resets an HTTP/2 stream with CANCEL, not NO_ERROR', async () => {
    const server = http2.createServer();
    cleanup.push(() => server.close());
    const streams: http2.ServerHttp2Stream[] = [];
    server.on('stream', (stream) => {
      streams.push(stream);
      stream.respond({ ':status': 200 });
      stream.write('open');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    cleanup.push(() => session.destroy());
    const req = session.request({ ':path': '/' }, { endStream: false });
    req.on('error', () => {}); // the reset is reported as an error on the client's stream
    await once(req, 'data');

    abortTransport(streams[0]);
    await once(req, 'close');
    expect(req.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(streams[0].rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it('a destroyed HTTP/2 stream is destroyed again (idempotent), not closed', () => {
    const calls: string[] = [];
    const stream = Object.assign(
      new Duplex({
        read() {},
        write(_c, _e, cb) {
          cb();
        },
      }),
      {
        rstCode: 8,
        close: (code: number) => calls.push(`close ${code}`),
      },
    );
    stream.destroy();
    const destroy = stream.destroy.bind(stream);
    stream.destroy = ((err?: Error) => {
      calls.push('destroy');
      return destroy(err);
    }) as typeof stream.destroy;
    abortTransport(stream);
    expect(calls).toEqual(['destroy']);
  });

  it('recognises an HTTP/2 stream by rstCode and close(), not by its class', () => {
    const calls: string[] = [];
    const make = (extra: object) => {
      const d = Object.assign(
        new Duplex({
          read() {},
          write(_c, _e, cb) {
            cb();
          },
        }),
        extra,
      );
      const destroy = d.destroy.bind(d);
      d.destroy = ((err?: Error) => {
        calls.push('destroy');
        return destroy(err);
      }) as typeof d.destroy;
      return d;
    };
    abortTransport(make({ rstCode: undefined, close: (code: number) => calls.push(`close ${code}`) }));
    expect(calls).toEqual([`close ${http2.constants.NGHTTP2_CANCEL}`]);
    calls.length = 0;
    // A `close` that is not a function (or no rstCode) is a plain Duplex: destroyed.
    abortTransport(make({ rstCode: 0, close: 'no' }));
    abortTransport(make({ close: () => calls.push('close') }));
    expect(calls).toEqual(['destroy', 'destroy']);
  });
});
