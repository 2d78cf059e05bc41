/**
 * RFC 6455 and RFC 7692 over an HTTP/2 stream (RFC 8441 5: after the handshake the stream
 * carries ordinary RFC 6455 frames). Autobahn does not speak HTTP/2, so the core cases it covers
 * over TCP (framing, fragmentation, UTF-8, close, deflate) are run here over a stream:
 *
 *   - riptide's server against node:http2's raw client, whose bytes are written by hand;
 *   - riptide's client against a raw node:http2 server, likewise;
 *   - riptide's client against riptide's server.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { cleanupsAfterEachTest, clientFrame, once, parseFrames } from './helpers.js';
import {
  closeH2,
  connectHeaders,
  h2Server,
  rawSession,
  rawStream,
  settle,
  trackSessions,
} from './http2-helpers.js';

const cleanups = cleanupsAfterEachTest();

function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

/** A client frame with its RSV1 bit set (a compressed message's first frame, RFC 7692 6). */
function rsv1(frame: Buffer): Buffer {
  frame[0] |= 0x40;
  return frame;
}

/** A server frame (unmasked), RFC 6455 5.2. */
function serverFrame(opcode: number, payload: Buffer | string, fin = true, rsv = 0): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  let header: Buffer;
  if (data.length < 126) header = Buffer.from([(fin ? 0x80 : 0) | rsv | opcode, data.length]);
  else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | rsv | opcode;
    header[1] = 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | rsv | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  return Buffer.concat([header, data]);
}

/** RFC 7692 7.2.1: compress, then drop the final 00 00 ff ff. */
function deflate(data: string | Buffer): Buffer {
  const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** RFC 7692 7.2.2: append 00 00 ff ff, then inflate. */
function inflate(data: Buffer): Buffer {
  return zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
}

const INVALID_UTF8 = Buffer.from([
  0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80,
]);

// ---------------------------------------------------------------------------------------------
// riptide's server, node:http2's raw client

async function echoServer(options: Parameters<typeof h2Server>[0] = {}) {
  const server = http2.createServer();
  trackSessions(server);
  const s = await h2Server(options, 'h2c', server);
  cleanups.push(() => closeH2(s.wss, s.server));
  s.wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on('error', () => {});
  });
  const session = await rawSession(s.origin);
  cleanups.push(async () => {
    await settle();
    session.destroy();
  });
  return { ...s, session };
}

/** Open a stream, write `frames`, and collect what the server sends until it ends the stream. */
async function exchange(frames: Buffer[], headers: Record<string, string> = {}, options = {}) {
  const { session, port } = await echoServer(options);
  const raw = await rawStream(session, connectHeaders(port, '/', headers));
  raw.write(...frames);
  return raw;
}

/** The server's answer to a violation: a close frame with `code`, then the end of the stream. */
async function expectFailure(frames: Buffer[], code: number, options = {}) {
  const raw = await exchange(frames, {}, options);
  await raw.waitFrames(Number.MAX_SAFE_INTEGER);
  const out = raw.frames();
  const close = out.at(-1)!;
  expect(close.opcode).toBe(8);
  expect(close.payload.readUInt16BE(0)).toBe(code);
  expect(raw.ended).toBe(true); // END_STREAM: RFC 8441 5's TCP FIN
  return out;
}

describe('server role over a stream: RFC 6455 5 framing (raw node:http2 client)', () => {
  it('echoes text and binary, empty, 16-bit and 64-bit lengths', async () => {
    const sizes = [0, 1, 125, 126, 65535, 65536, 70_000];
    const frames = sizes.map((n, i) => clientFrame(i % 2 === 0 ? 1 : 2, Buffer.alloc(n, 0x61)));
    const raw = await exchange(frames);
    const out = await raw.waitFrames(sizes.length);
    expect(out.map((f) => [f.opcode, f.payload.length])).toEqual(
      sizes.map((n, i) => [i % 2 === 0 ? 1 : 2, n]),
    );
  });

  it('5.4 reassembles a fragmented message, with a ping answered in between (5.5.2)', async () => {
    const raw = await exchange([
      clientFrame(1, 'frag', false),
      clientFrame(9, 'in between'),
      clientFrame(0, 'men', false),
      clientFrame(0, 'ted'),
    ]);
    const out = await raw.waitFrames(2);
    expect(out.map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [10, 'in between'],
      [1, 'fragmented'],
    ]);
  });

  it.each([
    ['an unmasked frame (5.1)', [Buffer.from([0x81, 0x01, 0x61])], 1002],
    ['a reserved opcode (5.2)', [clientFrame(3, 'x')], 1002],
    ['RSV1 without a negotiated extension (5.2)', [rsv1(clientFrame(1, 'x'))], 1002],
    ['a control frame above 125 bytes (5.5)', [clientFrame(9, Buffer.alloc(126))], 1002],
    ['a fragmented control frame (5.5)', [clientFrame(9, 'x', false)], 1002],
    ['a continuation without a message (5.4)', [clientFrame(0, 'x')], 1002],
    ['a new message inside a fragmented one (5.4)', [clientFrame(1, 'a', false), clientFrame(1, 'b')], 1002],
    ['invalid UTF-8 in a text message (8.1)', [clientFrame(1, INVALID_UTF8)], 1007],
    [
      'invalid UTF-8 split across fragments (8.1)',
      [clientFrame(1, INVALID_UTF8.subarray(0, 12), false), clientFrame(0, INVALID_UTF8.subarray(12))],
      1007,
    ],
    ['a close frame with a 1-byte payload (5.5.1)', [clientFrame(8, Buffer.from([3]))], 1002],
    ['close code 1005, never sent on the wire (7.4.1)', [clientFrame(8, closePayload(1005))], 1002],
    ['close code 999 (7.4.2)', [clientFrame(8, closePayload(999))], 1002],
    ['close code 5000 (7.4.2)', [clientFrame(8, closePayload(5000))], 1002],
    ['a close reason in invalid UTF-8 (5.5.1)', [clientFrame(8, closePayload(1000, INVALID_UTF8))], 1007],
  ] as const)('fails the WebSocket on %s', async (_name, frames, code) => {
    await expectFailure([...frames], code);
  });

  it('10.4 closes with 1009 above maxPayload, fragmented or not', async () => {
    await expectFailure([clientFrame(2, Buffer.alloc(1025))], 1009, { maxPayload: 1024 });
    await expectFailure([clientFrame(2, Buffer.alloc(600), false), clientFrame(0, Buffer.alloc(600))], 1009, {
      maxPayload: 1024,
    });
  });

  it('7 closing handshake: close 1000 is echoed, then both sides end the stream', async () => {
    const raw = await exchange([clientFrame(1, 'last'), clientFrame(8, closePayload(1000, 'done'))]);
    const out = await raw.waitFrames(2);
    expect(out.map((f) => f.opcode)).toEqual([1, 8]);
    expect(out[1].payload.readUInt16BE(0)).toBe(1000);
    raw.stream.end();
    const end = await raw.closed;
    expect(end.ended).toBe(true);
    expect(end.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  });

  it('7.1.1 data after a close frame is discarded (no echo of it)', async () => {
    const raw = await exchange([clientFrame(8, closePayload(1000)), clientFrame(1, 'too late')]);
    await raw.waitFrames(Number.MAX_SAFE_INTEGER);
    expect(raw.frames().map((f) => f.opcode)).toEqual([8]);
  });
});

describe('server role over a stream: RFC 7692 permessage-deflate (raw node:http2 client)', () => {
  const offer = { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' };

  it('negotiates, inflates what the client compressed and compresses its answer', async () => {
    const { session, port } = await echoServer({ perMessageDeflate: { threshold: 0 } });
    const raw = await rawStream(session, connectHeaders(port, '/', offer));
    expect((await raw.response)['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    const text = 'compressible '.repeat(200);
    raw.write(rsv1(clientFrame(1, deflate(text))));
    const [frame] = await raw.waitFrames(1);
    expect(frame.opcode).toBe(1);
    const rsv1Bit = raw.bytes()[0] & 0x40;
    expect(rsv1Bit).toBe(0x40);
    expect(inflate(frame.payload).toString()).toBe(text);
  });

  it('a compressed message split into fragments (RSV1 on the first only)', async () => {
    const { session, port } = await echoServer({ perMessageDeflate: true });
    const raw = await rawStream(session, connectHeaders(port, '/', offer));
    const body = deflate('fragmented and compressed');
    raw.write(
      rsv1(clientFrame(1, body.subarray(0, 5), false)),
      clientFrame(0, body.subarray(5, 10), false),
      clientFrame(0, body.subarray(10)),
    );
    const [frame] = await raw.waitFrames(1);
    const payload = raw.bytes()[0] & 0x40 ? inflate(frame.payload) : frame.payload;
    expect(payload.toString()).toBe('fragmented and compressed');
  });

  it.each([
    ['RSV1 on a control frame', () => [rsv1(clientFrame(9, 'x'))], 1002],
    ['RSV1 on a continuation frame', () => [clientFrame(1, 'a', false), rsv1(clientFrame(0, 'b'))], 1002],
    ['data that does not inflate', () => [rsv1(clientFrame(2, Buffer.from([0xff, 0xff, 0xff])))], 1007],
    ['a message that inflates to invalid UTF-8', () => [rsv1(clientFrame(1, deflate(INVALID_UTF8)))], 1007],
  ] as const)('fails on %s', async (_name, frames, code) => {
    const { session, port } = await echoServer({ perMessageDeflate: true });
    const raw = await rawStream(session, connectHeaders(port, '/', offer));
    raw.write(...frames());
    await raw.waitFrames(Number.MAX_SAFE_INTEGER);
    const close = raw.frames().at(-1)!;
    expect(close.opcode).toBe(8);
    expect(close.payload.readUInt16BE(0)).toBe(code);
  });

  it('caps the inflated size at maxPayload (1009), whatever the compressed size', async () => {
    const { session, port } = await echoServer({ perMessageDeflate: true, maxPayload: 10_000 });
    const raw = await rawStream(session, connectHeaders(port, '/', offer));
    raw.write(rsv1(clientFrame(2, deflate(Buffer.alloc(1_000_000)))));
    await raw.waitFrames(Number.MAX_SAFE_INTEGER);
    expect(raw.frames().at(-1)!.payload.readUInt16BE(0)).toBe(1009);
  });
});

// ---------------------------------------------------------------------------------------------
// riptide's client, a raw node:http2 server

/**
 * A raw HTTP/2 server answering one extended CONNECT with `responseHeaders`, then writing
 * `frames`; resolves with the stream once the client's bytes can be read from it.
 */
async function rawServer(responseHeaders: http2.OutgoingHttpHeaders = {}) {
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  trackSessions(server);
  const streams: http2.ServerHttp2Stream[] = [];
  const arrived: Array<(s: http2.ServerHttp2Stream) => void> = [];
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, ...responseHeaders });
    streams.push(stream);
    for (const f of arrived.splice(0)) f(stream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const wss = new WebSocketServer({ noServer: true });
  cleanups.push(() => closeH2(wss, server));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const next = () =>
    new Promise<http2.ServerHttp2Stream>((resolve) =>
      streams.length > 0 ? resolve(streams.shift()!) : arrived.push(resolve),
    );
  return { url, next };
}

/** Everything the client writes on `stream`, as (masked) frames decoded. */
function clientBytes(stream: http2.ServerHttp2Stream) {
  const chunks: Buffer[] = [];
  let ended = false;
  const waiters: Array<() => void> = [];
  stream.on('data', (c: Buffer) => {
    chunks.push(c);
    for (const w of waiters.splice(0)) w();
  });
  stream.on('end', () => {
    ended = true;
    for (const w of waiters.splice(0)) w();
  });
  return {
    get ended() {
      return ended;
    },
    async frames(n: number) {
      for (;;) {
        const frames = parseFrames(Buffer.concat(chunks));
        if (frames.length >= n || ended) return frames;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

async function client(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, { http2: true, perMessageDeflate: false, ...options });
  cleanups.push(() => ws.terminate());
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

describe('client role over a stream: RFC 6455 5 framing (raw node:http2 server)', () => {
  it('receives text, binary and fragmented messages; masks everything it sends (5.1, 5.3)', async () => {
    const { url, next } = await rawServer();
    const ws = await client(url);
    const stream = await next();
    const bytes = clientBytes(stream);
    const got: Array<[string, boolean]> = [];
    ws.on('message', (data, isBinary) => {
      got.push([String(data), isBinary]);
      ws.send(data as Buffer, { binary: isBinary });
    });
    stream.write(
      Buffer.concat([
        serverFrame(1, 'hello'),
        serverFrame(2, 'bin'),
        serverFrame(1, 'frag', false),
        serverFrame(9, 'p'),
        serverFrame(0, 'mented'),
      ]),
    );
    const frames = await bytes.frames(4);
    expect(got).toEqual([
      ['hello', false],
      ['bin', true],
      ['fragmented', false],
    ]);
    // the pong to 'p' comes before the echo of the fragmented message
    expect(frames.map((f) => [f.opcode, f.payload.toString(), f.masked])).toEqual([
      [1, 'hello', true],
      [2, 'bin', true],
      [10, 'p', true],
      [1, 'fragmented', true],
    ]);
  });

  it.each([
    ['a masked frame from the server (5.1)', () => clientFrame(1, 'x'), 1002],
    ['a reserved opcode (5.2)', () => serverFrame(4, 'x'), 1002],
    ['invalid UTF-8 (8.1)', () => serverFrame(1, INVALID_UTF8), 1007],
    ['a continuation without a message (5.4)', () => serverFrame(0, 'x'), 1002],
    ['a control frame above 125 bytes (5.5)', () => serverFrame(9, Buffer.alloc(126)), 1002],
    ['an invalid close code (7.4)', () => serverFrame(8, closePayload(1006)), 1002],
  ] as const)(
    'fails the WebSocket on %s with its close code, then ends the stream',
    async (_n, frame, code) => {
      const { url, next } = await rawServer();
      const ws = await client(url);
      const stream = await next();
      const bytes = clientBytes(stream);
      const closed = once<[number]>(ws, 'close');
      stream.write(frame());
      const frames = await bytes.frames(1);
      expect(frames[0]).toMatchObject({ opcode: 8, masked: true });
      expect(frames[0].payload.readUInt16BE(0)).toBe(code);
      stream.end();
      expect((await closed)[0]).toBe(1006); // no close frame came back (RFC 6455 7.1.5)
      expect(bytes.ended).toBe(true);
    },
  );

  it("7 closing handshake started by the server: the client echoes the code and 'close' reports it", async () => {
    const { url, next } = await rawServer();
    const ws = await client(url);
    const stream = await next();
    const bytes = clientBytes(stream);
    const closed = once<[number, Buffer]>(ws, 'close');
    stream.write(serverFrame(8, closePayload(4001, 'bye')));
    const [frame] = await bytes.frames(1);
    expect(frame.opcode).toBe(8);
    expect(frame.payload.readUInt16BE(0)).toBe(4001);
    stream.end();
    const [code, reason] = await closed;
    expect([code, String(reason)]).toEqual([4001, 'bye']);
  });

  it('10.4 maxPayload applies to what the server sends (1009)', async () => {
    const { url, next } = await rawServer();
    const ws = await client(url, { maxPayload: 100 });
    const stream = await next();
    const bytes = clientBytes(stream);
    stream.write(serverFrame(2, Buffer.alloc(101)));
    const [frame] = await bytes.frames(1);
    expect(frame.payload.readUInt16BE(0)).toBe(1009);
    expect(ws.readyState).toBe(WebSocket.CLOSING);
  });

  it('RFC 7692: inflates a compressed message from the server and compresses its own', async () => {
    const { url, next } = await rawServer({ 'sec-websocket-extensions': 'permessage-deflate' });
    const ws = await client(url, { perMessageDeflate: { threshold: 0 } });
    expect(ws.extensions).toBe('permessage-deflate');
    const stream = await next();
    const bytes = clientBytes(stream);
    const text = 'squeeze me '.repeat(100);
    const got = once<[Buffer]>(ws, 'message');
    stream.write(serverFrame(1, deflate(text), true, 0x40));
    expect(String((await got)[0])).toBe(text);
    ws.send(text);
    const [frame] = await bytes.frames(1);
    expect(frame.masked).toBe(true);
    expect(inflate(frame.payload).toString()).toBe(text);
  });
});

// ---------------------------------------------------------------------------------------------
// riptide against riptide

describe('both roles: riptide client and server over one HTTP/2 connection', () => {
  for (const perMessageDeflate of [false, true]) {
    it(`round-trips messages of every length class, fragmented sends included (deflate ${perMessageDeflate})`, async () => {
      const { url } = await echoServer({ perMessageDeflate });
      const ws = await client(url, { perMessageDeflate });
      const messages: Array<string | Buffer> = [
        '',
        'é',
        'x'.repeat(125),
        Buffer.alloc(126, 1),
        'y'.repeat(65_536),
      ];
      messages.push(Buffer.alloc(200_000, 7));
      const received: Array<string | Buffer> = [];
      const all = new Promise<void>((resolve) =>
        ws.on('message', (data, isBinary) => {
          received.push(isBinary ? (data as Buffer) : String(data));
          if (received.length === messages.length + 1) resolve();
        }),
      );
      for (const m of messages) ws.send(m);
      // a message sent in three fragments (RFC 6455 5.4)
      ws.send('one ', { fin: false });
      ws.send('two ', { fin: false });
      ws.send('three');
      await all;
      expect(received).toEqual([...messages, 'one two three']);
      const closed = once<[number]>(ws, 'close');
      ws.close(1000, 'thanks');
      // the code of the close frame the server answered with (RFC 6455 7.1.5)
      expect((await closed)[0]).toBe(1000);
    });
  }

  it('many WebSockets on one connection stay independent', async () => {
    const { url, sessions } = await (async () => {
      const server = http2.createServer();
      const sessions = trackSessions(server);
      const s = await h2Server({}, 'h2c', server);
      cleanups.push(() => closeH2(s.wss, s.server));
      s.wss.on('connection', (ws, req) => ws.on('message', (d) => ws.send(`${req.url} ${d}`)));
      return { url: s.url, sessions };
    })();
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => client(`${url}/${i}`)));
    const replies = await Promise.all(
      clients.map((ws, i) => {
        const got = once<[Buffer]>(ws, 'message');
        ws.send(String(i));
        return got.then(([d]) => String(d));
      }),
    );
    expect(replies).toEqual(clients.map((_, i) => `/${i} ${i}`));
    expect(sessions.size).toBe(1);
  });
});
