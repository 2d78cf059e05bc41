/**
 * node/transport.ts: what a WebSocket does differently to an HTTP/2 stream than to a socket:
 * abortTransport() resets an HTTP/2 stream with CANCEL (RFC 8441 5) and destroys anything else,
 * and meterWrites() bounds what a stream hands node's session at once. (The rest of the file is
 * the types _attach takes.)
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { abortTransport, meterWrites, STREAM_PIECE } from '../../src/node/transport.js';

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

/**
 * Node's side of a stream, as riptide reaches it (the prototype's `_write` and `_writev`; only
 * the writable side is used): each
 * write handed over is recorded and completes only when the test says (as node's session
 * completes one once the peer's window took it).
 */
class NodeSide extends Duplex {
  readonly handed: Buffer[] = [];
  override _read(): void {}
  readonly waiting: Array<(err?: Error | null) => void> = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.handed.push(chunk);
    this.waiting.push(cb);
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.handed.push(Buffer.concat(chunks.map((c) => c.chunk)));
    this.waiting.push(cb);
  }
  /** Complete the oldest write node still holds. */
  complete(): void {
    this.waiting.shift()!();
  }
}

describe('meterWrites: what waits in the stream behind more than 1 MiB', () => {
  /** A metered stream, one write in progress, `sizes` written behind it (byte i of write k: k + i). */
  function backlog(sizes: number[]) {
    const stream = new NodeSide();
    meterWrites(stream);
    const inputs = [Buffer.alloc(10, 0xee), ...sizes.map((n, k) => Buffer.alloc(n, k & 0xff))];
    const called: number[] = [];
    for (const [k, b] of inputs.entries()) stream.write(b, () => called.push(k));
    expect(stream.handed.length).toBe(1); // the first is in progress; the rest wait behind it
    return { stream, inputs, called };
  }

  it('small writes leave gathered in writes of up to 1 MiB, in order, a large one as it is', async () => {
    const sizes = Array.from({ length: 3000 }, (_, k) => (k === 1500 ? 200 * 1024 : 1000));
    const { stream, inputs, called } = backlog(sizes);
    while (stream.waiting.length > 0) {
      stream.complete();
      await new Promise((resolve) => setImmediate(resolve));
      // Node holds one write of this stream's at a time.
      expect(stream.waiting.length).toBeLessThanOrEqual(1);
    }
    expect(Buffer.concat(stream.handed).equals(Buffer.concat(inputs))).toBe(true);
    const sizesHanded = stream.handed.map((b) => b.length);
    expect(Math.max(...sizesHanded)).toBeLessThanOrEqual(STREAM_PIECE);
    // The first write, gathered groups (the one before the 200 KiB write cut there), the 200 KiB
    // write, the rest: one write per 1000 bytes before the fix.
    expect(sizesHanded.length).toBeLessThanOrEqual(7);
    expect(sizesHanded).toContain(200 * 1024);
    expect(called).toEqual(inputs.map((_, k) => k));
    expect(stream.writableLength).toBe(0);
  });

  for (const ending of [false, true]) {
    it(`a large last write ${ending ? 'of an ending stream goes in the gathered group' : 'waits until node has taken the gathered group'}`, async () => {
      // 900 writes of 1000 bytes (under one group's worth), then 200 KiB: over 1 MiB in all.
      const sizes = [...Array.from({ length: 900 }, () => 1000), 200 * 1024];
      const { stream, inputs, called } = backlog(sizes);
      if (ending) stream.end();
      stream.complete();
      await new Promise((resolve) => setImmediate(resolve));
      // Node ends an HTTP/2 stream after a write it gets while nothing waits in the stream's
      // buffer (END_STREAM): an ending stream's last write cannot wait behind the group, and
      // node takes one write at a time, so it is copied into the group's.
      expect(stream.handed.map((b) => b.length)).toEqual(ending ? [10, 900_000 + 200 * 1024] : [10, 900_000]);
      // Node takes one write of a stream at a time.
      expect(stream.waiting.length).toBe(1);
      while (stream.waiting.length > 0) {
        stream.complete();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(stream.handed.map((b) => b.length)).toEqual(
        ending ? [10, 900_000 + 200 * 1024] : [10, 900_000, 200 * 1024],
      );
      expect(Buffer.concat(stream.handed).equals(Buffer.concat(inputs))).toBe(true);
      expect(called).toEqual(inputs.map((_, k) => k));
      expect(stream.writableFinished).toBe(ending);
    });
  }

  it('writes behind less than 1 MiB still leave in one writev; a write on an idle stream as it is', async () => {
    const { stream, inputs } = backlog([1000, 1000, 1000]);
    stream.complete();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.handed.map((b) => b.length)).toEqual([10, 3000]);
    stream.complete();
    await new Promise((resolve) => setImmediate(resolve));
    stream.write(Buffer.alloc(5));
    expect(stream.handed.map((b) => b.length)).toEqual([10, 3000, 5]);
    expect(Buffer.concat(stream.handed.slice(0, 2)).equals(Buffer.concat(inputs))).toBe(true);
  });
});
