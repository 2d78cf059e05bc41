// The frame parser (receiver.ts), through the Protocol that owns it: valid frames, every
// violation with its close code, UTF-8 fail-fast, limits, pause/resume.
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { PEER_ERRORS } from '../../src/core/errors.js';
import type { PerMessageExtension } from '../../src/core/extension.js';
import { makeFrame, Opcode, serializeFrame } from '../../src/core/frame.js';
import { Protocol, State } from '../../src/core/protocol.js';
import { FRAME_RESERVE_MAX, INFLATE_SLICE } from '../../src/core/receiver.js';
import { PerMessageDeflate } from '../../src/deflate/codec.js';
import { normalizeDeflateOptions } from '../../src/deflate/negotiation.js';
import {
  type Event,
  FEED_MODES,
  feed,
  fixedMask,
  hex,
  KEY,
  makeProtocol,
  output,
  ROLES,
  wire,
} from './helpers.js';

/** Valid vectors: the frames as a server would send them (unmasked); masked for the server role. */
const VALID: Array<{ name: string; frames: string; events: Event[]; reply?: string }> = [
  { name: 'empty text', frames: '8100', events: [{ type: 'message', data: '', isBinary: false }] },
  { name: 'empty binary', frames: '8200', events: [{ type: 'message', data: '', isBinary: true }] },
  {
    name: 'binary 125 bytes (7-bit length)',
    frames: `827d${'ab'.repeat(125)}`,
    events: [{ type: 'message', data: 'ab'.repeat(125), isBinary: true }],
  },
  {
    name: 'binary 126 bytes (16-bit length)',
    frames: `827e007e${'cd'.repeat(126)}`,
    events: [{ type: 'message', data: 'cd'.repeat(126), isBinary: true }],
  },
  {
    name: 'binary 65536 bytes (64-bit length)',
    frames: `827f0000000000010000${'ef'.repeat(65536)}`,
    events: [{ type: 'message', data: 'ef'.repeat(65536), isBinary: true }],
  },
  {
    name: 'text in three fragments with a ping between them',
    frames: '0102e282 890170 0000 8001ac',
    events: [
      { type: 'ping', data: '70' },
      { type: 'message', data: '€', isBinary: false },
    ],
  },
  {
    name: 'binary fragments with empty fragments',
    frames: '0200 000101 8000',
    events: [{ type: 'message', data: '01', isBinary: true }],
  },
  {
    name: 'two messages in one chunk',
    frames: '810161 820162',
    events: [
      { type: 'message', data: 'a', isBinary: false },
      { type: 'message', data: '62', isBinary: true },
    ],
  },
  { name: 'ping with payload', frames: '8903010203', events: [{ type: 'ping', data: '010203' }] },
  { name: 'pong without payload', frames: '8a00', events: [{ type: 'pong', data: '' }] },
  {
    name: 'close 1000 with reason',
    frames: '880503e8627965',
    events: [{ type: 'close', code: 1000, reason: 'bye' }],
  },
  { name: 'close without status', frames: '8800', events: [{ type: 'close', code: 1005, reason: '' }] },
  {
    name: 'close 4999 (application range)',
    frames: '8802' + '1387',
    events: [{ type: 'close', code: 4999, reason: '' }],
  },
];

describe('RFC 6455 5.2-5.6 valid frames, both roles, three ways', () => {
  for (const v of VALID) {
    for (const role of ROLES) {
      for (const mode of FEED_MODES) {
        it(`test_${role}_receives ${v.name} (${mode})`, () => {
          const { proto, sink } = makeProtocol(role);
          const frames = v.frames
            .split(' ')
            .map((f) => wire(role, f))
            .reduce((a, b) => Buffer.concat([a, b]), Buffer.alloc(0));
          feed(proto, frames, mode);
          expect(sink.events).toEqual(v.events);
        });
      }
    }
  }
});

/** Violations: the frame bytes (unmasked form), the error code. */
const VIOLATIONS: Array<{ name: string; frames: string; code: keyof typeof PEER_ERRORS }> = [
  { name: 'RSV1 without an extension', frames: 'c100', code: 'WS_ERR_UNEXPECTED_RSV_1' },
  { name: 'RSV2', frames: 'a100', code: 'WS_ERR_UNEXPECTED_RSV_2_3' },
  { name: 'RSV3', frames: '9100', code: 'WS_ERR_UNEXPECTED_RSV_2_3' },
  { name: 'reserved data opcode 3', frames: '8300', code: 'WS_ERR_INVALID_OPCODE' },
  { name: 'reserved control opcode 0xb', frames: '8b00', code: 'WS_ERR_INVALID_OPCODE' },
  { name: 'continuation without a message', frames: '8001 61', code: 'WS_ERR_UNEXPECTED_CONTINUATION' },
  {
    name: 'new message inside a fragmented one',
    frames: '010161 810162',
    code: 'WS_ERR_EXPECTED_CONTINUATION',
  },
  { name: 'fragmented ping', frames: '0900', code: 'WS_ERR_FRAGMENTED_CONTROL' },
  { name: 'ping of 126 bytes', frames: `897e007e${'00'.repeat(126)}`, code: 'WS_ERR_CONTROL_TOO_LONG' },
  { name: 'RSV1 on a control frame', frames: 'c900', code: 'WS_ERR_UNEXPECTED_RSV_1' },
  {
    name: '16-bit length not minimal',
    frames: `827e0005${'00'.repeat(5)}`,
    code: 'WS_ERR_NON_MINIMAL_LENGTH',
  },
  {
    name: '64-bit length not minimal',
    frames: `827f0000000000000005${'00'.repeat(5)}`,
    code: 'WS_ERR_NON_MINIMAL_LENGTH',
  },
  {
    name: '64-bit length above 2^53-1',
    frames: '827f0020000000000000',
    code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
  },
  {
    name: '64-bit length with the MSB set',
    frames: '827f8000000000000000',
    code: 'WS_ERR_LENGTH_MSB',
  },
  {
    name: '64-bit length of 2^64 - 1',
    frames: '827fffffffffffffffff',
    code: 'WS_ERR_LENGTH_MSB',
  },
  { name: 'invalid UTF-8 text', frames: '8102c328', code: 'WS_ERR_INVALID_UTF8' },
  { name: 'surrogate in text', frames: '8103eda080', code: 'WS_ERR_INVALID_UTF8' },
  { name: 'text ending mid code point', frames: '0101e2 800182', code: 'WS_ERR_INVALID_UTF8' },
  { name: 'close with a 1-byte payload', frames: '880103', code: 'WS_ERR_CONTROL_TOO_LONG' },
  { name: 'close code 1005', frames: '880203ed', code: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'close code 1006', frames: '880203ee', code: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'close code 1015', frames: '880203f7', code: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'close code 999', frames: '880203e7', code: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'close code 1004', frames: '880203ec', code: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'close code 2000', frames: '880207d0', code: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'close code 5000', frames: '88021388', code: 'WS_ERR_INVALID_CLOSE_CODE' },
  { name: 'close reason not UTF-8', frames: '880403e8c328', code: 'WS_ERR_INVALID_CLOSE_UTF8' },
];

describe('RFC 6455 7.1.7 fail the connection: every violation with its close code', () => {
  for (const v of VIOLATIONS) {
    for (const role of ROLES) {
      for (const mode of FEED_MODES) {
        it(`test_${role}_receives ${v.name} (${mode})`, () => {
          const { proto, sink } = makeProtocol(role);
          const frames = Buffer.concat(v.frames.split(' ').map((f) => wire(role, f)));
          feed(proto, frames, mode);
          const errors = sink.events.filter((e) => e.type === 'error');
          const [code, closeCode, message] = PEER_ERRORS[v.code];
          expect(errors).toHaveLength(1);
          expect(errors[0]).toMatchObject({ code, closeCode });
          expect((errors[0] as { message: string }).message.startsWith(message)).toBe(true);
          expect(proto.endTransport).toBe(true);
          expect(proto.state).toBe(State.CLOSING);
          // The close frame carries the mapped code; input after the violation is discarded.
          const out = Buffer.concat(proto.takeOutput()!);
          const closeFrame = out.subarray(out.length - (out[1] & 0x7f) - (role === 'client' ? 6 : 2));
          expect(closeFrame[0]).toBe(0x88);
          const payloadAt = role === 'client' ? 6 : 2;
          let sentCode = closeFrame.readUInt16BE(payloadAt);
          if (role === 'client') sentCode ^= (0x37 << 8) | 0xfa;
          expect(sentCode).toBe(closeCode);
          // RFC 6455 7.1.7 with ws's choice: the status code alone, no reason text.
          expect(closeFrame[1] & 0x7f).toBe(2);
          proto.receive(wire(role, '810161'));
          expect(sink.events.filter((e) => e.type === 'message')).toHaveLength(0);
        });
      }
    }
  }

  it('test_server_receives an unmasked frame: 1002 WS_ERR_EXPECTED_MASK', () => {
    const { proto, sink } = makeProtocol('server');
    proto.receive(hex('810161'));
    expect(sink.events).toEqual([
      {
        type: 'error',
        code: 'WS_ERR_EXPECTED_MASK',
        closeCode: 1002,
        message: 'Invalid WebSocket frame: MASK must be set',
      },
    ]);
  });

  it('test_client_receives a masked frame: 1002 WS_ERR_UNEXPECTED_MASK', () => {
    const { proto, sink } = makeProtocol('client');
    proto.receive(serializeFrame({ ...makeFrame(Opcode.TEXT, 'a'), mask: KEY }));
    expect(sink.events).toEqual([
      {
        type: 'error',
        code: 'WS_ERR_UNEXPECTED_MASK',
        closeCode: 1002,
        message: 'Invalid WebSocket frame: MASK must be clear',
      },
    ]);
  });
});

describe("ws 8 parity: the same bytes give ws's error code, message and close code", () => {
  // ws's own frame parser (node_modules/ws/lib/receiver.js), fed the same vectors.
  const require = createRequire(import.meta.url);
  const wsLib = join(dirname(require.resolve('ws')), 'lib');
  const WsReceiver = require(join(wsLib, 'receiver.js')) as new (options: object) => Writable;
  const { kStatusCode } = require(join(wsLib, 'constants.js')) as { kStatusCode: symbol };

  async function wsError(role: 'client' | 'server', bytes: Buffer): Promise<Record<string, unknown> | null> {
    const receiver = new WsReceiver({ isServer: role === 'server', maxPayload: 100 * 1024 * 1024 });
    let error: (Error & { code: string; [k: symbol]: unknown }) | null = null;
    receiver.on('error', (err: Error) => (error = err as Error & { code: string; [k: symbol]: unknown }));
    receiver.write(bytes);
    // A Writable reports its error on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    if (error === null) return null;
    const e = error as Error & { code: string; [k: symbol]: unknown };
    return { code: e.code, message: e.message, closeCode: e[kStatusCode] };
  }

  // ws accepts a length in a longer form than needed and calls a length with the MSB set too
  // big (1009); riptide keeps RFC 6455 5.2's MUSTs (1002).
  const shared = VIOLATIONS.filter(
    (v) => v.code !== 'WS_ERR_NON_MINIMAL_LENGTH' && v.code !== 'WS_ERR_LENGTH_MSB',
  );
  for (const v of shared) {
    for (const role of ROLES) {
      it(`test_${role}_receives ${v.name}`, async () => {
        const bytes = Buffer.concat(v.frames.split(' ').map((f) => wire(role, f)));
        const expected = await wsError(role, Buffer.from(bytes));
        expect(expected).not.toBeNull();
        const { proto, sink } = makeProtocol(role);
        proto.receive(bytes);
        const [ours] = sink.events.filter((e) => e.type === 'error');
        expect(ours).toEqual({ type: 'error', ...expected });
      });
    }
  }
});

describe('RFC 6455 8.1 UTF-8 fails fast', () => {
  for (const role of ROLES) {
    it(`test_${role}_receives invalid UTF-8 in the first fragment: fails before the message ends`, () => {
      const { proto, sink } = makeProtocol(role);
      proto.receive(wire(role, '0104cebae1bd')); // valid so far
      expect(sink.events).toEqual([]);
      proto.receive(wire(role, '0004b9cf83ce')); // still valid
      expect(sink.events).toEqual([]);
      proto.receive(wire(role, '0002f4908080'.slice(0, 8))); // f4 90: above U+10FFFF
      expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 }]);
    });

    it(`test_${role}_receives invalid UTF-8 early in a large frame that is still arriving`, () => {
      const { proto, sink } = makeProtocol(role);
      const payload = Buffer.alloc(100000, 0x61);
      payload[10] = 0xff;
      const bytes = wire(role, `817f00000000000186a0${payload.toString('hex')}`);
      proto.receive(bytes.subarray(0, 1000));
      expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 }]);
    });
  }
});

/** Buffer.allocUnsafe fails above 1 KiB (the close frame and the error still get theirs). */
function failLargeAllocations() {
  const real = Buffer.allocUnsafe;
  return vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
    if (size > 1024) throw new RangeError('Array buffer allocation failed');
    return real(size);
  });
}

describe('RFC 6455 10.4 limits', () => {
  for (const role of ROLES) {
    it(`test_${role}_receives a frame above maxPayload: 1009 before any allocation`, () => {
      const { proto, sink } = makeProtocol(role, { maxPayload: 10 });
      // Only the header: the limit is enforced before the payload arrives.
      proto.receive(wire(role, `820b${'00'.repeat(11)}`).subarray(0, role === 'server' ? 6 : 2));
      expect(sink.events).toMatchObject([
        { type: 'error', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', closeCode: 1009 },
      ]);
    });

    it(`test_${role}_receives fragments adding up above maxPayload: 1009`, () => {
      const { proto, sink } = makeProtocol(role, { maxPayload: 10 });
      proto.receive(wire(role, '0206000000000000'));
      proto.receive(wire(role, '800500000000000'.padEnd(14, '0')));
      expect(sink.events).toMatchObject([
        { type: 'error', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', closeCode: 1009 },
      ]);
    });
  }

  // Lengths above the largest message assembled: 4 GiB on every Node version (the largest Buffer
  // on Node 20; Node 22 and later report 2^53 - 1, which no heap gives).
  const beyondBuffer = ['0000000100000001', '0000010000000000', '001fffffffffffff'];
  for (const role of ROLES) {
    it(`test_${role}_receives a length above what a Buffer holds with maxPayload 0: 1009, never a throw`, () => {
      // Issue 12, hole 3: the length went to Buffer.allocUnsafe, which threw (ERR_OUT_OF_RANGE).
      for (const length of beyondBuffer) {
        const { proto, sink } = makeProtocol(role, { maxPayload: 0 });
        proto.receive(Buffer.concat([wire(role, `827f${length}`), hex('00'.repeat(16))]));
        expect(sink.events).toEqual([
          {
            type: 'error',
            code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
            closeCode: 1009,
            message: 'Max payload size exceeded (larger than a Buffer can hold)',
          },
        ]);
      }
    });

    it(`test_${role}_receives a frame the heap cannot allocate: 1009, never a throw`, () => {
      // A length a Buffer may hold can still be more memory than there is (maxPayload 0).
      const { proto, sink } = makeProtocol(role, { maxPayload: 0 });
      // 2 GiB declared, one byte of it in this chunk: the frame's buffer is allocated now.
      const bytes = Buffer.concat([wire(role, '827f0000000080000000'), hex('00')]);
      const allocUnsafe = failLargeAllocations();
      try {
        proto.receive(bytes);
      } finally {
        allocUnsafe.mockRestore();
      }
      expect(sink.events).toMatchObject([
        {
          type: 'error',
          code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
          closeCode: 1009,
          message: expect.stringMatching(/out of memory/),
        },
      ]);
    });

    it(`test_${role}_receives a fragment the heap cannot append: 1009, never a throw`, () => {
      const { proto, sink } = makeProtocol(role, { maxPayload: 0 });
      proto.receive(wire(role, '0201ff'));
      // A second fragment beyond the message buffer's first capacity (1 KiB): it must grow.
      const second = wire(role, `007e07d0${'ff'.repeat(2000)}`);
      const allocUnsafe = failLargeAllocations();
      try {
        proto.receive(second);
      } finally {
        allocUnsafe.mockRestore();
      }
      expect(sink.events).toMatchObject([
        { type: 'error', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', closeCode: 1009 },
      ]);
    });
  }

  it('a flood of tiny fragments is stopped by maxPayload alone', () => {
    const { proto, sink } = makeProtocol('server', { maxPayload: 1024 });
    proto.receive(wire('server', '0201ff'));
    const fragment = wire('server', '0001ff');
    for (let i = 0; i < 2000 && sink.events.length === 0; i++) proto.receive(fragment);
    expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }]);
  });

  it('a 4 MiB message sent as 64-byte fragments gets through with default options', () => {
    const { proto, sink } = makeProtocol('server');
    const fragments: Buffer[] = [];
    const total = 4 * 1024 * 1024;
    for (let off = 0; off < total; off += 64) {
      const payload = Buffer.alloc(64, (off / 64) & 0xff);
      const op = off === 0 ? Opcode.BINARY : Opcode.CONTINUATION;
      fragments.push(serializeFrame({ ...makeFrame(op, payload), fin: off + 64 >= total, mask: KEY }));
    }
    let received: Buffer | null = null;
    (sink as { onMessage: (d: Buffer, b: boolean) => void }).onMessage = (d: Buffer) => {
      received = Buffer.from(d);
    };
    for (let i = 0; i < fragments.length; i += 256) proto.receive(Buffer.concat(fragments.slice(i, i + 256)));
    expect(received).not.toBeNull();
    const r = received as unknown as Buffer;
    expect(r.length).toBe(total);
    expect(r[64 * 5]).toBe(5);
    expect(r[total - 1]).toBe(((total - 64) / 64) & 0xff);
  });
});

describe('a declared length is a claim: memory follows the bytes received (FRAME_RESERVE_MAX)', () => {
  /** Records the size of every Buffer.allocUnsafe call while `run` runs. */
  function allocations(run: () => void): number[] {
    const sizes: number[] = [];
    const real = Buffer.allocUnsafe;
    const spy = vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
      sizes.push(size);
      return real(size);
    });
    try {
      run();
    } finally {
      spy.mockRestore();
    }
    return sizes;
  }

  /** A binary frame of `payload` as the other role sends it (masked towards a server). */
  function frameOf(role: 'client' | 'server', payload: Buffer): Buffer {
    return serializeFrame({ ...makeFrame(Opcode.BINARY, payload), mask: role === 'server' ? KEY : null });
  }

  for (const role of ROLES) {
    it(`test_${role}_receives a header claiming 100 MiB and 1 KiB of it: at most 1 MiB is allocated`, () => {
      // Before the cap the whole claimed length was allocated at the first byte: 200 such
      // connections held 20 GB of ArrayBuffers for 200 KB sent.
      expect(FRAME_RESERVE_MAX).toBe(1024 * 1024);
      const { proto, sink } = makeProtocol(role);
      const header = wire(role, '827f0000000006400000'); // 100 MiB, the default maxPayload
      const sizes = allocations(() => proto.receive(Buffer.concat([header, Buffer.alloc(1024, 1)])));
      expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(FRAME_RESERVE_MAX);
      expect(sink.events).toEqual([]);
    });

    it(`test_${role}_receives a 3 MiB frame in odd-sized reads: intact, its buffer never above twice the bytes so far`, () => {
      const length = 3 * 1024 * 1024 + 5;
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 7 + (i >> 11)) & 0xff;
      const bytes = frameOf(role, payload);
      const { proto, sink } = makeProtocol(role);
      const received: Buffer[] = [];
      sink.onMessage = (d: Buffer) => received.push(Buffer.from(d));
      const step = 65_537; // odd: the mask phase moves at every read
      let fed = 0;
      const sizes = allocations(() => {
        for (; fed < bytes.length; fed += step) {
          const before = fed;
          const grew = allocations(() => proto.receive(Buffer.from(bytes.subarray(fed, fed + step))));
          for (const size of grew) {
            if (size > FRAME_RESERVE_MAX) expect(size).toBeLessThanOrEqual(2 * (before + step));
          }
        }
      });
      expect(sizes.length).toBeGreaterThan(0);
      expect(received).toHaveLength(1);
      expect(received[0].equals(payload)).toBe(true);
    });
  }

  it('a frame of exactly FRAME_RESERVE_MAX is allocated once, at its length', () => {
    const payload = Buffer.alloc(FRAME_RESERVE_MAX, 0x5a);
    const bytes = frameOf('server', payload);
    const { proto, sink } = makeProtocol('server');
    const sizes = allocations(() => {
      for (let at = 0; at < bytes.length; at += 64 * 1024)
        proto.receive(Buffer.from(bytes.subarray(at, at + 64 * 1024)));
    });
    expect(sizes.filter((n) => n > 64 * 1024)).toEqual([FRAME_RESERVE_MAX]);
    expect(sink.events).toHaveLength(1);
  });
});

describe("ws 8's maxFragments and maxBufferedChunks (off by default in the core)", () => {
  for (const role of ROLES) {
    it(`test_${role}_receives a message of maxFragments frames, then one of maxFragments + 1: 1008`, () => {
      const { proto, sink } = makeProtocol(role, { maxFragments: 3 });
      proto.receive(wire(role, '0101' + '61'));
      proto.receive(wire(role, '0001' + '62'));
      proto.receive(wire(role, '8001' + '63'));
      expect(sink.events).toEqual([{ type: 'message', data: 'abc', isBinary: false }]);
      // Control frames between fragments do not count.
      proto.receive(wire(role, '0200'));
      proto.receive(wire(role, '8900'));
      proto.receive(wire(role, '0000'));
      proto.receive(wire(role, '0000'));
      expect(sink.events).toHaveLength(2);
      proto.receive(wire(role, '0000'));
      expect(sink.events.slice(1)).toMatchObject([
        { type: 'ping' },
        {
          type: 'error',
          code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS',
          closeCode: 1008,
          message: 'Too many message fragments',
        },
      ]);
    });

    it(`test_${role}_receives a frame spread over more than maxBufferedChunks chunks: 1008`, () => {
      const { proto, sink } = makeProtocol(role, { maxBufferedChunks: 4 });
      // 4 chunks of one frame are held, the 5th is refused.
      const frame = wire(role, '8206' + '010203040506');
      const pieces = [frame.subarray(0, 1), frame.subarray(1, 3), frame.subarray(3, 5), frame.subarray(5, 7)];
      for (const piece of pieces) proto.receive(Buffer.from(piece));
      expect(sink.events).toEqual([]);
      proto.receive(Buffer.from(frame.subarray(7)));
      expect(sink.events).toMatchObject([
        {
          type: 'error',
          code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS',
          closeCode: 1008,
          message: 'Too many buffered chunks',
        },
      ]);
    });

    it(`test_${role}_receives many frames in many chunks: the count starts again with each frame`, () => {
      const { proto, sink } = makeProtocol(role, { maxBufferedChunks: 2 });
      for (let i = 0; i < 50; i++) {
        const frame = wire(role, '8102' + '6869');
        proto.receive(Buffer.from(frame.subarray(0, 3)));
        proto.receive(Buffer.from(frame.subarray(3)));
      }
      expect(sink.events).toHaveLength(50);
      expect(sink.events.every((e) => e.type === 'message')).toBe(true);
    });
  }
});

/** A server's permessage-deflate codec (server_no_context_takeover) and the client's that feeds it. */
function deflateCodecs() {
  const params = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const opts = normalizeDeflateOptions({ threshold: 0 }, 'server')!;
  return {
    server: new PerMessageDeflate('server', params, opts),
    client: new PerMessageDeflate('client', params, opts),
  };
}

describe('inflate slices: a compressed flood cannot take the thread (issue 12, hole 6)', () => {
  const MiB = 1024 * 1024;
  /** zlib stops within one output chunk (inflate chunkSize, 16 KiB by default) of the budget. */
  const SLICE_BOUND = INFLATE_SLICE + 16 * 1024;

  /** A server Protocol with permessage-deflate, the client codec that feeds it, and per-slice accounting. */
  function deflating() {
    const { server, client } = deflateCodecs();
    const slice = { inflated: 0, max: 0 };
    const count = () => {
      slice.inflated += server.inflated;
      slice.max = Math.max(slice.max, slice.inflated);
      inflatedInAll += server.inflated;
    };
    let inflatedInAll = 0;
    const extension = {
      decompress: (d: Buffer, fin: boolean, limit: number, budget?: number) => {
        const r = server.decompress(d, fin, limit, budget);
        count();
        return r;
      },
      resumeDecompress: (budget?: number) => {
        const r = server.resumeDecompress(budget);
        count();
        return r;
      },
      get inflated() {
        return server.inflated;
      },
      get suspendedOutput() {
        return server.suspendedOutput;
      },
      compress: (d: Buffer, b: boolean) => server.compress(d, b),
      compressFirst: (d: Buffer, b: boolean, n: number) => server.compressFirst(d, b, n),
      compressNext: (n: number) => server.compressNext(n),
      get compressLeft() {
        return server.compressLeft;
      },
      cancelCompress: () => server.cancelCompress(),
      close: () => server.close(),
    };
    const { proto, sink } = makeProtocol('server', { extension });
    /** A masked compressed binary frame of `message`. */
    const frame = (message: Buffer) => {
      const payload = client.compress(message, true)!;
      return serializeFrame({ ...makeFrame(Opcode.BINARY, payload), rsv1: true, mask: KEY });
    };
    /** A text message compressed, as masked frames: one, or `parts` fragments of its payload. */
    const textFrames = (message: Buffer, parts = 1) => {
      const payload = client.compress(message, false)!;
      const step = Math.ceil(payload.length / parts);
      const frames: Buffer[] = [];
      for (let at = 0, i = 0; at < payload.length; at += step, i++) {
        const frame = makeFrame(i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, payload.subarray(at, at + step));
        frames.push(serializeFrame({ ...frame, fin: at + step >= payload.length, rsv1: i === 0, mask: KEY }));
      }
      return Buffer.concat(frames);
    };
    /** nextSlice() until the receiver is done; returns how many slices it took. */
    const drain = () => {
      let slices = 0;
      while (proto.sliceSpent) {
        slice.inflated = 0;
        proto.nextSlice();
        slices++;
      }
      return slices;
    };
    return {
      proto,
      sink,
      frame,
      textFrames,
      slice,
      get inflatedInAll() {
        return inflatedInAll;
      },
      drain,
      close: () => {
        server.close();
        client.close();
      },
    };
  }

  it('test_server_receives 16 messages inflating to 1 MiB each in one chunk: one slice at a time', () => {
    const t = deflating();
    const messages = Array.from({ length: 16 }, (_, i) => Buffer.alloc(MiB, i));
    t.proto.receive(Buffer.concat(messages.map(t.frame)));
    // The first message alone is 4 slices of work: nothing is delivered yet.
    expect(t.proto.sliceSpent).toBe(true);
    expect(t.sink.events).toEqual([]);
    const slices = t.drain();
    expect(slices).toBeGreaterThanOrEqual((16 * MiB) / SLICE_BOUND - 1);
    expect(t.slice.max).toBeLessThanOrEqual(SLICE_BOUND);
    expect(t.sink.events.map((e) => (e as { data: string }).data.slice(0, 2))).toEqual(
      messages.map((m) => m.toString('hex', 0, 1)),
    );
    expect(t.sink.events.every((e) => (e as { data: string }).data.length === 2 * MiB)).toBe(true);
    t.close();
  });

  it('test_server_receives input while spent: it waits, in order, for the slices', () => {
    const t = deflating();
    t.proto.receive(t.frame(Buffer.alloc(2 * MiB, 7)));
    expect(t.proto.sliceSpent).toBe(true);
    t.proto.receive(wire('server', '810161')); // "a", uncompressed
    expect(t.sink.events).toEqual([]);
    t.drain();
    expect(t.sink.events.map((e) => (e as { data: string }).data.length)).toEqual([4 * MiB, 1]);
    t.close();
  });

  it('test_server_paused between slices: nextSlice delivers nothing until resume', () => {
    const t = deflating();
    t.proto.receive(Buffer.concat([t.frame(Buffer.alloc(MiB, 1)), wire('server', '810162')]));
    t.proto.pause();
    t.drain();
    expect(t.sink.events).toEqual([]);
    t.proto.resume(); // goes on, one slice at a time again
    expect(t.proto.sliceSpent).toBe(true);
    t.drain();
    expect(t.sink.events.map((e) => (e as { data: string }).data.length)).toEqual([2 * MiB, 1]);
    t.close();
  });

  it('test_server_receives a message above maxPayload over several slices: 1009 in the slice that crosses it', () => {
    const t = deflating();
    const limited = new Protocol(t.sink, {
      role: 'server',
      maxPayload: 3 * MiB,
      extension: (t.proto as unknown as { extension: PerMessageExtension }).extension,
    });
    limited.receive(t.frame(Buffer.alloc(8 * MiB)));
    while (limited.sliceSpent) limited.nextSlice();
    expect(t.sink.events).toMatchObject([
      { type: 'error', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', closeCode: 1009 },
    ]);
    t.close();
  });

  it('test_server_ended while spent: what came before the end is still delivered, a slice at a time, then the end takes effect', () => {
    // A peer may send a large compressed message, its close frame and its FIN at once (a server
    // closes its side as soon as it has answered): ws 8 delivers the message and the close.
    const t = deflating();
    t.proto.receive(Buffer.concat([t.frame(Buffer.alloc(2 * MiB, 3)), wire('server', '880203e8')]));
    expect(t.proto.sliceSpent).toBe(true);
    t.proto.receiveEof();
    expect(t.proto.state).toBe(State.CLOSED);
    // Still one slice per nextSlice(): the end does not make the rest one long call.
    expect(t.proto.sliceSpent).toBe(true);
    expect(t.sink.events).toEqual([]);
    const slices = t.drain();
    expect(slices).toBeGreaterThanOrEqual((2 * MiB) / SLICE_BOUND - 1);
    expect(t.slice.max).toBeLessThanOrEqual(SLICE_BOUND);
    expect(t.sink.events.map((e) => e.type)).toEqual(['message', 'close']);
    expect((t.sink.events[0] as { data: string }).data).toBe(Buffer.alloc(2 * MiB, 3).toString('hex'));
    expect(t.proto.closeCode).toBe(1000);
    // Then input is over: nothing more is parsed.
    t.proto.receive(wire('server', '810161'));
    expect(t.sink.events).toHaveLength(2);
    t.close();
  });

  it('test_server_ended while spent, then paused between slices (a deferred event): the rest waits for resume, then the end takes effect', () => {
    // allowSynchronousEvents: false pauses the parser after each message: that pause must not
    // end the input the transport's end left waiting (the close frame behind the message).
    const t = deflating();
    t.proto.receive(Buffer.concat([t.frame(Buffer.alloc(MiB, 4)), wire('server', '880203e8')]));
    t.proto.receiveEof();
    t.proto.pause();
    t.drain();
    expect(t.sink.events).toEqual([]);
    t.proto.resume();
    t.drain();
    expect(t.sink.events.map((e) => e.type)).toEqual(['message', 'close']);
    expect(t.proto.closeCode).toBe(1000);
    // Then input is over.
    t.proto.receive(wire('server', '810161'));
    expect(t.sink.events).toHaveLength(2);
    t.close();
  });

  it('test_server_ended while paused (a deferred event): what came before the end waits for resume (inputWaiting); abort() drops it', () => {
    for (const give of ['resume', 'abort'] as const) {
      const t = deflating();
      t.proto.pause();
      t.proto.receive(Buffer.concat([wire('server', '810161'), wire('server', '880203e8')]));
      t.proto.receiveEof();
      expect(t.proto.inputWaiting).toBe(true);
      if (give === 'abort') t.proto.abort();
      t.proto.resume();
      expect(t.proto.inputWaiting).toBe(false);
      if (give === 'resume') {
        expect(t.sink.events.map((e) => e.type)).toEqual(['message', 'close']);
        expect(t.proto.closeCode).toBe(1000);
      } else {
        expect(t.sink.events).toEqual([]);
      }
      t.close();
    }
  });

  it('test_server_aborted while spent (terminate()): no longer spent, the suspended frame is dropped', () => {
    const t = deflating();
    t.proto.receive(t.frame(Buffer.alloc(2 * MiB)));
    expect(t.proto.sliceSpent).toBe(true);
    t.proto.abort();
    expect(t.proto.sliceSpent).toBe(false);
    expect(t.proto.state).toBe(State.CLOSED);
    t.proto.nextSlice();
    expect(t.sink.events).toEqual([]);
    t.close();
  });

  it('test_server_receives a compressed text frame invalid from its first byte: 1007 in the first slice', () => {
    // RFC 6455 8.1 fail-fast: it was checked only once the whole frame (up to maxPayload) was
    // inflated, a slice per turn: 8 MiB of work and memory for a message invalid at byte 0.
    const t = deflating();
    t.proto.receive(t.textFrames(Buffer.concat([Buffer.from([0xff]), Buffer.alloc(8 * MiB, 'a')])));
    expect(t.sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 }]);
    expect(t.proto.sliceSpent).toBe(false);
    expect(t.inflatedInAll).toBeLessThanOrEqual(SLICE_BOUND);
    t.close();
  });

  it('test_server_receives a fragmented compressed text message invalid mid-way: 1007 in that slice', () => {
    const t = deflating();
    const message = Buffer.concat([
      Buffer.alloc(MiB, 'a'),
      Buffer.from([0xc3, 0x28]),
      Buffer.alloc(7 * MiB, 'b'),
    ]);
    t.proto.receive(t.textFrames(message, 3));
    t.drain();
    expect(t.sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 }]);
    expect(t.inflatedInAll).toBeLessThanOrEqual(MiB + 2 * SLICE_BOUND);
    t.close();
  });

  it('test_server_receives valid compressed text over many slices, characters cut at their edges: delivered whole', () => {
    const t = deflating();
    // 2-, 3- and 4-byte characters, so that slices and zlib's chunks end inside one.
    const message = Buffer.from('aé€😀'.repeat(300_000));
    for (const parts of [1, 4]) {
      t.proto.receive(t.textFrames(message, parts));
      expect(t.drain()).toBeGreaterThan(4);
    }
    // Compared as booleans: a diff of two 2.7 MB strings helps nobody.
    const text = message.toString();
    expect(t.sink.events.map((e) => (e as { data?: string }).data === text)).toEqual([true, true]);
    t.close();
  });

  it('uncompressed traffic never spends the budget', () => {
    const { proto, sink } = makeProtocol('server');
    const frame = serializeFrame({ ...makeFrame(Opcode.BINARY, Buffer.alloc(MiB)), mask: KEY });
    for (let i = 0; i < 8; i++) proto.receive(frame);
    expect(proto.sliceSpent).toBe(false);
    expect(sink.events).toHaveLength(8);
  });
});

describe('borrowed input: one read buffer reused for every read (receive(chunk, true))', () => {
  /** A sink that keeps the Buffers it is given and reads them only at the end. */
  class KeepingSink {
    kept: Array<[string, Buffer, boolean?]> = [];
    onEvent: (() => void) | null = null;
    onMessage(data: Buffer, isBinary: boolean) {
      this.kept.push(['message', data, isBinary]);
      this.onEvent?.();
    }
    onPing(data: Buffer) {
      this.kept.push(['ping', data]);
    }
    onPong(data: Buffer) {
      this.kept.push(['pong', data]);
    }
    onClose() {}
    onError(error: { code: string }) {
      throw new Error(`unexpected ${error.code}`);
    }
    read() {
      return this.kept.map(([type, data, isBinary]) => [type, data.toString('hex'), isBinary]);
    }
  }

  type Msg = { kind: 'text' | 'binary' | 'ping'; payload: Uint8Array; pieces: number };

  /** The frames of `messages` as a peer in the other role sends them (fragmented as asked). */
  function framesOf(role: 'client' | 'server', messages: Msg[]): Buffer {
    const mask = role === 'server' ? KEY : null;
    const out: Buffer[] = [];
    for (const m of messages) {
      const payload = Buffer.from(m.payload);
      if (m.kind === 'ping') {
        out.push(serializeFrame({ ...makeFrame(Opcode.PING, payload.subarray(0, 125)), mask }));
        continue;
      }
      const step = Math.ceil(payload.length / m.pieces) || 1;
      for (let at = 0, first = true; first || at < payload.length; first = false) {
        const piece = payload.subarray(at, at + step);
        at += step;
        const opcode = first ? (m.kind === 'text' ? Opcode.TEXT : Opcode.BINARY) : Opcode.CONTINUATION;
        out.push(serializeFrame({ ...makeFrame(opcode, piece), fin: at >= payload.length, mask }));
      }
    }
    return Buffer.concat(out);
  }

  /**
   * Feed `bytes` in chunks of the given sizes through ONE buffer that is overwritten after each
   * receive returns, pausing after every `pauseEvery`-th message (resumed after the overwrite).
   */
  function feedBorrowed(role: 'client' | 'server', bytes: Buffer, sizes: number[], pauseEvery: number) {
    const sink = new KeepingSink();
    const proto = new Protocol(sink, { role, randomFill: fixedMask });
    let messages = 0;
    sink.onEvent = () => {
      if (pauseEvery > 0 && ++messages % pauseEvery === 0) proto.pause();
    };
    const shared = Buffer.alloc(Math.max(...sizes, 1));
    let out = '';
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const n = Math.min(sizes[i % sizes.length], bytes.length - at);
      bytes.copy(shared, 0, at, at + n);
      at += n;
      proto.receive(shared.subarray(0, n), true);
      out += output(proto);
      shared.fill(0xa5);
      proto.resume();
      out += output(proto);
    }
    // Each resume delivers at least one more held message before the next pause.
    for (let held = sink.kept.length, again = true; again; held = sink.kept.length) {
      proto.resume();
      out += output(proto);
      again = sink.kept.length > held;
    }
    return { events: sink.read(), out };
  }

  function feedWhole(role: 'client' | 'server', bytes: Buffer) {
    const sink = new KeepingSink();
    const proto = new Protocol(sink, { role, randomFill: fixedMask });
    proto.receive(Buffer.from(bytes));
    return { events: sink.read(), out: output(proto) };
  }

  const message = fc.record({
    kind: fc.constantFrom('text' as const, 'binary' as const, 'ping' as const),
    payload: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 3000 })),
    pieces: fc.integer({ min: 1, max: 3 }),
  });
  // Text: half of it ASCII (the short-copy path scans for it), half any code points.
  const asText = (m: Msg, i: number): Msg =>
    m.kind !== 'text'
      ? m
      : i % 2 === 0
        ? { ...m, payload: m.payload.map((b) => b & 0x7f) }
        : { ...m, payload: Buffer.from(Buffer.from(m.payload).toString('latin1'), 'utf8') };

  for (const role of ROLES) {
    it(`test_${role}_events and replies are those of unborrowed input, whatever the chunking and pauses`, () => {
      fc.assert(
        fc.property(
          fc.array(message, { minLength: 1, maxLength: 12 }),
          fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
          fc.integer({ min: 0, max: 3 }),
          (msgs, sizes, pauseEvery) => {
            const bytes = framesOf(role, msgs.map(asText));
            const want = feedWhole(role, bytes);
            expect(want.events).toHaveLength(msgs.length);
            expect(feedBorrowed(role, bytes, sizes, pauseEvery)).toEqual(want);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('test_server_a header ending exactly at the end of a read keeps its mask key', () => {
    const bytes = framesOf('server', [{ kind: 'binary', payload: Buffer.alloc(300, 0x5c), pieces: 1 }]);
    // 2 + 2 (16-bit length) + 4 (key): the first read is exactly the header.
    const got = feedBorrowed('server', bytes, [8, 1000], 0);
    expect(got.events).toEqual([['message', '5c'.repeat(300), true]]);
  });

  it('test_server_a compressed frame is inflated from the read buffer itself (no payload copy)', () => {
    const { server, client } = deflateCodecs();
    const seen: Buffer[] = [];
    const decompress = server.decompress.bind(server);
    server.decompress = (data, fin, limit, budget) => {
      seen.push(data);
      return decompress(data, fin, limit, budget);
    };
    const sink = new KeepingSink();
    const proto = new Protocol(sink, { role: 'server', extension: server });
    const text = Buffer.from('a compressed text message, '.repeat(200));
    const frame = serializeFrame({
      ...makeFrame(Opcode.TEXT, client.compress(text, false)!),
      rsv1: true,
      mask: KEY,
    });
    const shared = Buffer.from(frame);
    proto.receive(shared, true);
    shared.fill(0xa5);
    expect(seen).toHaveLength(1);
    expect(seen[0].buffer).toBe(shared.buffer); // a view, unmasked in place
    expect(sink.kept[0][1].equals(text)).toBe(true); // the message is its own memory
    // An extension that cannot detach its input still gets a copy.
    const plain = deflateCodecs();
    const noDetach: PerMessageExtension = Object.assign(Object.create(plain.server), {
      detachInput: undefined,
    });
    const got: Buffer[] = [];
    noDetach.decompress = (data, fin, limit, budget) => {
      got.push(data);
      return plain.server.decompress(data, fin, limit, budget);
    };
    const other = new Protocol(new KeepingSink(), { role: 'server', extension: noDetach });
    const again = serializeFrame({
      ...makeFrame(Opcode.TEXT, plain.client.compress(text, false)!),
      rsv1: true,
      mask: KEY,
    });
    other.receive(Buffer.from(again), true);
    expect(got).toHaveLength(1);
    expect(got[0].buffer).not.toBe(again.buffer);
    for (const c of [server, client, plain.server, plain.client]) c.close();
  });

  it('test_server_a compressed message spanning slices, its input overwritten meanwhile', () => {
    const { server, client } = deflateCodecs();
    const sink = new KeepingSink();
    const proto = new Protocol(sink, { role: 'server', extension: server });
    const big = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
    const frame = serializeFrame({
      ...makeFrame(Opcode.BINARY, client.compress(big, true)!),
      rsv1: true,
      mask: KEY,
    });
    const shared = Buffer.from(frame);
    proto.receive(shared, true);
    expect(proto.sliceSpent).toBe(true); // zlib stopped mid-frame with input left
    shared.fill(0xa5);
    while (proto.sliceSpent) proto.nextSlice();
    expect(sink.kept).toHaveLength(1);
    expect(sink.kept[0][1].equals(big)).toBe(true);
    server.close();
    client.close();
  });
});

describe('pause and resume (Node layer backpressure hooks)', () => {
  it('a pause inside a message callback holds the rest of the chunk until resume', () => {
    const { proto, sink } = makeProtocol('client');
    sink.onEvent = (e) => {
      if (e.type === 'message' && e.data === 'a') proto.pause();
    };
    proto.receive(hex('810161 810162 810163'));
    expect(sink.events.map((e) => (e as { data: string }).data)).toEqual(['a']);
    proto.receive(hex('810164'));
    expect(sink.events).toHaveLength(1);
    proto.resume();
    expect(sink.events.map((e) => (e as { data: string }).data)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a close() inside a message callback still delivers the rest of the chunk (CLOSING), a fail stops it', () => {
    const { proto, sink } = makeProtocol('client');
    sink.onEvent = (e) => {
      if (e.type === 'message' && e.data === 'a') proto.close(1000);
    };
    proto.receive(hex('810161 810162'));
    expect(sink.events).toHaveLength(2);
    expect(proto.state).toBe(State.CLOSING);
  });
});

describe('a sink callback that throws (user code) keeps the rest of the chunk', () => {
  /** A client protocol whose sink throws once, on the message `throwOn`. */
  function throwingOnce(throwOn: string) {
    const { proto, sink } = makeProtocol('client');
    let thrown = false;
    sink.onEvent = (e) => {
      if (!thrown && e.type === 'message' && e.data === throwOn) {
        thrown = true;
        throw new Error('listener failed');
      }
    };
    const data = () => sink.events.map((e) => (e.type === 'message' ? e.data : e.type));
    return { proto, sink, data };
  }

  it('the next chunk goes on from the frame after the one handed on, not from the middle of one', () => {
    const { proto, data } = throwingOnce('a');
    const b = hex('8105 68656c6c6f'); // "hello", split across the two chunks
    expect(() => proto.receive(Buffer.concat([hex('810161'), b.subarray(0, 3)]))).toThrow('listener failed');
    expect(proto.unparsedAfterThrow).toBe(true);
    proto.receive(Buffer.concat([b.subarray(3), hex('810163')]));
    expect(data()).toEqual(['a', 'hello', 'c']);
    expect(proto.unparsedAfterThrow).toBe(false);
  });

  it('continueAfterThrow() parses what was left, in order; a second throw keeps the rest again', () => {
    const { proto, sink, data } = throwingOnce('a');
    let second = false;
    const first = sink.onEvent!;
    sink.onEvent = (e) => {
      first(e);
      if (!second && e.type === 'message' && e.data === 'b') {
        second = true;
        throw new Error('again');
      }
    };
    expect(() => proto.receive(hex('810161 810162 890170 810163 880203e8'))).toThrow('listener failed');
    expect(() => proto.continueAfterThrow()).toThrow('again');
    proto.continueAfterThrow();
    expect(data()).toEqual(['a', 'b', 'ping', 'c', 'close']);
    expect(proto.unparsedAfterThrow).toBe(false);
    proto.continueAfterThrow(); // nothing left: nothing happens
    expect(sink.events).toHaveLength(5);
  });

  it('borrowed input: what is kept is a copy (the read buffer is reused after the throw)', () => {
    const { proto, data } = throwingOnce('a');
    const chunk = hex('810161 810162');
    expect(() => proto.receive(chunk, true)).toThrow('listener failed');
    chunk.fill(0xff); // the next read overwrites the shared buffer
    proto.continueAfterThrow();
    expect(data()).toEqual(['a', 'b']);
  });

  it('paused by the callback before it threw: the rest waits for resume(), not for continueAfterThrow()', () => {
    const { proto, sink, data } = throwingOnce('a');
    const first = sink.onEvent!;
    sink.onEvent = (e) => {
      if (e.type === 'message' && e.data === 'a') proto.pause();
      first(e);
    };
    expect(() => proto.receive(hex('810161 810162'))).toThrow('listener failed');
    expect(proto.unparsedAfterThrow).toBe(false);
    proto.continueAfterThrow();
    expect(data()).toEqual(['a']);
    proto.resume();
    expect(data()).toEqual(['a', 'b']);
  });
});

describe('regressions', () => {
  it('a header ending exactly at a chunk boundary does not leave a stale frame buffer (found by the fuzz property)', () => {
    // A masked text fragment of 1 byte, then a continuation of 2 bytes, fed one byte at a time:
    // the first header completed at the end of a chunk and a 1-byte frame buffer was allocated
    // for nothing; the 2-byte continuation then wrote past it (RangeError out of the core).
    const { proto, sink } = makeProtocol('server', { maxPayload: 4096 });
    const bytes = Buffer.from([0x01, 0x81, 1, 2, 3, 4, 0x61 ^ 1, 0x80, 0x82, 1, 2, 3, 4, 0x62 ^ 1, 0x63 ^ 2]);
    expect(() => {
      for (let i = 0; i < bytes.length; i++) proto.receive(Buffer.from(bytes.subarray(i, i + 1)));
    }).not.toThrow();
    expect(sink.events).toEqual([{ type: 'message', data: 'abc', isBinary: false }]);
  });

  it('a whole header at the end of a read, its payload in the next, then a frame spanning reads', () => {
    const { proto, sink } = makeProtocol('client');
    const a = hex('810161'); // "a"
    const bHeader = hex('8203'); // binary, 3 bytes
    const bPayload = hex('010203');
    const c = Buffer.concat([hex('827e0100'), Buffer.alloc(256, 9)]); // 256 bytes
    proto.receive(Buffer.concat([a, bHeader]));
    proto.receive(bPayload);
    proto.receive(c.subarray(0, 100));
    proto.receive(c.subarray(100));
    expect(sink.events).toEqual([
      { type: 'message', data: 'a', isBinary: false },
      { type: 'message', data: '010203', isBinary: true },
      { type: 'message', data: '09'.repeat(256), isBinary: true },
    ]);
  });
});

describe('compressed text checked while it is inflated: a property (random texts, fragments, tiny slices)', () => {
  /** The index of the first byte at which `bytes` can no longer be the start of a valid text. */
  function firstInvalid(bytes: Buffer): number {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let i = 0; i < bytes.length; i++) {
      try {
        decoder.decode(bytes.subarray(i, i + 1), { stream: true });
      } catch {
        return i;
      }
    }
    return bytes.length;
  }

  /** One message of the run: its bytes, how its compressed payload is cut, a ping between fragments. */
  const messageArb = fc.record({
    bytes: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 400, size: 'max' }).map((s) => Buffer.from(s, 'utf8')),
      fc.uint8Array({ maxLength: 400, size: 'max' }).map((a) => Buffer.from(a)),
      // Valid text with one byte changed somewhere: invalid mostly in the middle.
      fc
        .tuple(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 400, size: 'max' }),
          fc.nat(),
          fc.integer({ min: 0x80, max: 0xff }),
        )
        .map(([s, at, b]) => {
          const buf = Buffer.from(s, 'utf8');
          buf[at % buf.length] = b;
          return buf;
        }),
    ),
    binary: fc.boolean(),
    compressed: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 4 }),
    ping: fc.boolean(),
  });

  it('test_server_receives exactly the valid texts and fails 1007 at the first invalid one, as isUtf8 says, within a step of its first bad byte', () => {
    // The receiver's check of suspended output (feedSuspended, then the rest of the frame from
    // `fedBytes`) across frames, pings between fragments, uncompressed and binary messages.
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 200 }),
        fc.boolean(),
        (messages, budget, skip) => {
          const params = {
            serverNoContextTakeover: true,
            clientNoContextTakeover: false,
            serverMaxWindowBits: 15,
            clientMaxWindowBits: 15,
          };
          // Inflate output in pieces of 64 bytes, and a budget of `budget` bytes per step: a frame
          // suspends again and again, in the middle of characters.
          const opts = normalizeDeflateOptions(
            { threshold: 0, zlibInflateOptions: { chunkSize: 64 } },
            'server',
          )!;
          const server = new PerMessageDeflate('server', params, opts);
          const client = new PerMessageDeflate('client', params, opts);
          const extension: PerMessageExtension = {
            decompress: (d, fin, limit) => {
              const r = server.decompress(d, fin, limit, budget);
              inflatedInAll += server.inflated;
              return r;
            },
            resumeDecompress: () => {
              const r = server.resumeDecompress(budget);
              inflatedInAll += server.inflated;
              return r;
            },
            get inflated() {
              return server.inflated;
            },
            get suspendedOutput() {
              return server.suspendedOutput;
            },
            compress: (d, b) => server.compress(d, b),
            compressFirst: (d, b, n) => server.compressFirst(d, b, n),
            compressNext: (n) => server.compressNext(n),
            get compressLeft() {
              return server.compressLeft;
            },
            cancelCompress: () => server.cancelCompress(),
            close: () => server.close(),
          };
          let inflatedInAll = 0;
          // skipUtf8Validation: every text is delivered as it is.
          const { proto, sink } = makeProtocol('server', { extension, skipUtf8Validation: skip });
          const wireFrames: Buffer[] = [];
          const expected: Array<Event | { type: 'error'; code: string; closeCode: number }> = [];
          let failed = false;
          // Inflated output, at most, until the connection fails: the messages before the invalid
          // one, and its bytes up to the first that no valid text can have there, plus one step.
          let bound = 0;
          for (const m of messages) {
            const payload = m.compressed ? client.compress(m.bytes, m.binary)! : m.bytes;
            const points = [...new Set(m.cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
            const bounds = [0, ...points, payload.length];
            for (let i = 0; i + 1 < bounds.length; i++) {
              const opcode = i > 0 ? Opcode.CONTINUATION : m.binary ? Opcode.BINARY : Opcode.TEXT;
              const frame = makeFrame(opcode, payload.subarray(bounds[i], bounds[i + 1]));
              const fin = i + 2 === bounds.length;
              wireFrames.push(serializeFrame({ ...frame, fin, rsv1: m.compressed && i === 0, mask: KEY }));
              if (!fin && m.ping)
                wireFrames.push(serializeFrame({ ...makeFrame(Opcode.PING, Buffer.from('p')), mask: KEY }));
            }
            if (failed) continue;
            if (m.binary) expected.push({ type: 'message', data: m.bytes.toString('hex'), isBinary: true });
            else if (skip || isUtf8(m.bytes))
              expected.push({ type: 'message', data: m.bytes.toString('utf8'), isBinary: false });
            else {
              expected.push({ type: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 });
              failed = true;
              if (m.compressed) bound += firstInvalid(m.bytes) + 1 + budget + 64;
              continue;
            }
            if (m.compressed) bound += m.bytes.length;
          }
          proto.receive(Buffer.concat(wireFrames));
          for (let turns = 0; proto.sliceSpent; turns++) {
            expect(turns).toBeLessThan(100_000);
            proto.nextSlice();
          }
          const events = sink.events
            .filter((e) => e.type === 'message' || e.type === 'error')
            .map((e) => (e.type === 'error' ? { type: e.type, code: e.code, closeCode: e.closeCode } : e));
          expect(events).toEqual(expected);
          if (failed) expect(inflatedInAll).toBeLessThanOrEqual(bound);
          server.close();
          client.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('direct reads: a large payload read straight into its buffer (directTarget / receivedInPlace)', () => {
  const MiB = 1024 * 1024;

  /** A payload whose every byte depends on its offset (a byte out of place or mask phase shows). */
  function patterned(length: number): Buffer {
    const b = Buffer.alloc(length);
    for (let i = 0; i < length; i++) b[i] = (i * 7 + (i >> 11)) & 0xff;
    return b;
  }

  /** A data frame as the other role sends it (masked towards a server). */
  function frameOf(role: 'client' | 'server', opcode: number, payload: Buffer, fin = true): Buffer {
    return serializeFrame({ ...makeFrame(opcode, payload), fin, mask: role === 'server' ? KEY : null });
  }

  interface Offer {
    /** Stream offset the target starts at, and its length. */
    at: number;
    length: number;
  }

  /**
   * Feed `bytes` as the Node layer does: reads of at most sizes[i] bytes (cycled); a read goes
   * into the offered target when there is one (receivedInPlace), else into a shared buffer
   * (receive, borrowed, scribbled over afterwards). `onRead` runs after each read.
   */
  function readDirect(
    proto: Protocol,
    bytes: Buffer,
    sizes: number[],
    onRead: (pos: number) => void = () => {},
  ): Offer[] {
    const offers: Offer[] = [];
    const shared = Buffer.alloc(64 * 1024);
    let pos = 0;
    for (let i = 0; pos < bytes.length; i++) {
      const want = sizes[i % sizes.length];
      const target = proto.directTarget();
      if (target !== null) {
        offers.push({ at: pos, length: target.length });
        const n = Math.min(want, target.length, bytes.length - pos);
        target.fill(0xee); // what the target held before does not matter
        bytes.copy(target, 0, pos, pos + n);
        pos += n;
        proto.receivedInPlace(n);
      } else {
        const n = Math.min(want, shared.length, bytes.length - pos);
        bytes.copy(shared, 0, pos, pos + n);
        pos += n;
        proto.receive(shared.subarray(0, n), true);
        shared.fill(0xdd);
      }
      onRead(pos);
    }
    return offers;
  }

  /** The messages a sink received, as copies. */
  function collect(sink: { onMessage: (d: Buffer, b: boolean) => void }) {
    const got: Array<{ data: Buffer; isBinary: boolean }> = [];
    sink.onMessage = (data: Buffer, isBinary: boolean) => got.push({ data, isBinary });
    return got;
  }

  const ODD_SIZES = [1000, 1, 3, 4095, 65537, 7, 2, 131071, 5];

  for (const role of ROLES) {
    it(`test_${role}_receives a 1 MiB frame in odd-sized in-place reads: the exact payload, targets within the frame`, () => {
      const payload = patterned(MiB);
      const first = frameOf(role, Opcode.BINARY, payload);
      const bytes = Buffer.concat([first, wire(role, '890170'), wire(role, '810161')]);
      const { proto, sink } = makeProtocol(role);
      const got = collect(sink);
      const pings: string[] = [];
      sink.onPing = (d: Buffer) => pings.push(d.toString('hex'));
      const offers = readDirect(proto, bytes, ODD_SIZES);
      expect(offers.length).toBeGreaterThan(5);
      // Never past the frame's last byte: the next frame's bytes stay with the I/O layer.
      for (const o of offers) expect(o.at + o.length).toBeLessThanOrEqual(first.length);
      // The last offer ends exactly at the frame's end (exactly the bytes it lacks).
      expect(offers.some((o) => o.at + o.length === first.length)).toBe(true);
      expect(got).toHaveLength(2);
      expect(got[0].isBinary).toBe(true);
      expect(got[0].data.equals(payload)).toBe(true);
      expect(got[1]).toEqual({ data: Buffer.from('a'), isBinary: false });
      expect(pings).toEqual(['70']);
    });

    it(`test_${role}_receives a 1 MiB frame whose header ends its read: the buffer is offered from byte 0`, () => {
      const payload = patterned(MiB);
      const bytes = frameOf(role, Opcode.BINARY, payload);
      const header = role === 'server' ? 14 : 10;
      const { proto, sink } = makeProtocol(role);
      const got = collect(sink);
      proto.receive(Buffer.from(bytes.subarray(0, header)));
      const target = proto.directTarget()!;
      expect(target.length).toBe(MiB);
      // Every split point of the mask: 1, 2, 3 then the rest.
      let pos = header;
      for (const n of [1, 2, 3, 4, 5]) {
        const t = proto.directTarget()!;
        bytes.copy(t, 0, pos, pos + n);
        proto.receivedInPlace(n);
        pos += n;
      }
      const t = proto.directTarget()!;
      expect(t.length).toBe(bytes.length - pos);
      bytes.copy(t, 0, pos);
      proto.receivedInPlace(t.length);
      expect(got).toHaveLength(1);
      expect(got[0].data.equals(payload)).toBe(true);
      expect(proto.directTarget()).toBeNull();
    });

    it(`test_${role}_receives text with invalid UTF-8 in an in-place read: 1007 at that read, no target after`, () => {
      const payload = Buffer.alloc(300 * 1024, 0x61);
      const bad = 200_000;
      payload[bad] = 0xff;
      const bytes = frameOf(role, Opcode.TEXT, payload);
      const header = bytes.length - payload.length;
      const { proto, sink } = makeProtocol(role);
      let failedAt = -1;
      readDirect(proto, bytes, [1000, 4095, 65537, 3], (pos) => {
        if (failedAt < 0 && sink.events.some((e) => e.type === 'error')) failedAt = pos;
      });
      expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 }]);
      // Failed at the read holding the bad byte: not before, and not at the end of the frame.
      expect(failedAt).toBeGreaterThan(header + bad);
      expect(failedAt).toBeLessThanOrEqual(header + bad + 65537);
      expect(proto.directTarget()).toBeNull();
    });

    it(`test_${role}_receives valid text across in-place reads, a multi-byte character split between them`, () => {
      const text = '€'.repeat(100_000); // 3 bytes each: splits land inside characters
      const payload = Buffer.from(text);
      const { proto, sink } = makeProtocol(role);
      const got = collect(sink);
      readDirect(proto, frameOf(role, Opcode.TEXT, payload), [999, 65537, 4096, 1]);
      expect(sink.events).toEqual([]);
      expect(got).toHaveLength(1);
      expect(got[0].data.toString()).toBe(text);
    });

    it(`test_${role}_receives a 3 MiB frame (above FRAME_RESERVE_MAX): targets never beyond what is allocated`, () => {
      const payload = patterned(3 * MiB + 5);
      const bytes = frameOf(role, Opcode.BINARY, payload);
      const header = bytes.length - payload.length;
      const { proto, sink } = makeProtocol(role);
      const got = collect(sink);
      const offers = readDirect(proto, bytes, [5000, 65537, 300_001, 1]);
      expect(offers.length).toBeGreaterThan(3);
      for (const o of offers) {
        const received = o.at - header;
        // The buffer holds at most FRAME_RESERVE_MAX or twice the bytes that arrived.
        expect(received + o.length).toBeLessThanOrEqual(Math.max(FRAME_RESERVE_MAX, 2 * received));
        expect(o.at + o.length).toBeLessThanOrEqual(bytes.length);
      }
      expect(got).toHaveLength(1);
      expect(got[0].data.equals(payload)).toBe(true);
    });

    it(`test_${role}_receives a header claiming 100 MiB: the first target is FRAME_RESERVE_MAX at most`, () => {
      const { proto } = makeProtocol(role);
      proto.receive(wire(role, '827f0000000006400000'));
      expect(proto.directTarget()!.length).toBe(FRAME_RESERVE_MAX);
    });

    it(`test_${role}_receives a fragmented message of large frames: each frame's buffer is a target`, () => {
      const a = patterned(200_000);
      const b = patterned(300_000).reverse();
      const bytes = Buffer.concat([
        frameOf(role, Opcode.BINARY, a, false),
        wire(role, '8a00'),
        frameOf(role, Opcode.CONTINUATION, b, true),
      ]);
      const { proto, sink } = makeProtocol(role);
      const got = collect(sink);
      const offers = readDirect(proto, bytes, [1000, 65537, 3]);
      expect(offers.some((o) => o.at > 200_000)).toBe(true);
      expect(got).toHaveLength(1);
      expect(got[0].data.equals(Buffer.concat([a, b]))).toBe(true);
    });

    it(`test_${role}_receives small frames and control frames: no target`, () => {
      const { proto } = makeProtocol(role);
      // 60 KiB: below DIRECT_READ_MIN.
      proto.receive(wire(role, `827e${(60 * 1024).toString(16).padStart(4, '0')}${'00'.repeat(10)}`));
      expect(proto.directTarget()).toBeNull();
      const other = makeProtocol(role).proto;
      other.receive(wire(role, `8905${'01'.repeat(5)}`).subarray(0, role === 'server' ? 8 : 4));
      expect(other.directTarget()).toBeNull();
    });

    it(`test_${role}_receives the frame's last 64 KiB - 1: no target any more`, () => {
      const payload = patterned(200_000);
      const bytes = frameOf(role, Opcode.BINARY, payload);
      const { proto } = makeProtocol(role);
      proto.receive(Buffer.from(bytes.subarray(0, bytes.length - (64 * 1024 - 1))));
      expect(proto.directTarget()).toBeNull();
      const again = makeProtocol(role).proto;
      again.receive(Buffer.from(bytes.subarray(0, bytes.length - 64 * 1024)));
      expect(again.directTarget()!.length).toBe(64 * 1024);
    });

    it(`test_${role}_receives EOF or a violation mid-payload: no target afterwards, late in-place bytes ignored`, () => {
      const bytes = frameOf(role, Opcode.BINARY, patterned(MiB));
      const { proto, sink } = makeProtocol(role);
      proto.receive(Buffer.from(bytes.subarray(0, 1000)));
      const target = proto.directTarget()!;
      expect(target).not.toBeNull();
      proto.receiveEof();
      expect(proto.directTarget()).toBeNull();
      proto.receivedInPlace(100); // a read that was already under way: dropped with the frame
      expect(sink.events).toEqual([]);
    });
  }

  it('test_server_receives a compressed frame: no target (its payload is not the message)', () => {
    const { server } = deflateCodecs();
    const { proto } = makeProtocol('server', { extension: server });
    // RSV1, binary, 200000 bytes claimed, masked; some payload bytes.
    const header = serializeFrame({
      ...makeFrame(Opcode.BINARY, Buffer.alloc(200_000)),
      rsv1: true,
      mask: KEY,
    });
    proto.receive(Buffer.from(header.subarray(0, 5000)));
    expect(proto.directTarget()).toBeNull();
  });

  it('test_server_receives a pause between the offer and the read: the bytes wait, delivered on resume', () => {
    const payload = patterned(MiB);
    const bytes = frameOf('server', Opcode.BINARY, payload);
    const { proto, sink } = makeProtocol('server');
    const got = collect(sink);
    proto.receive(Buffer.from(bytes.subarray(0, 1000)));
    const target = proto.directTarget()!;
    proto.pause();
    bytes.copy(target, 0, 1000);
    proto.receivedInPlace(target.length);
    expect(got).toHaveLength(0);
    expect(proto.directTarget()).toBeNull();
    target.fill(0); // the region offered is free again once the bytes were taken
    proto.resume();
    expect(got).toHaveLength(1);
    expect(got[0].data.equals(payload)).toBe(true);
  });

  it('test_server_receives a violation in the payload through receive: the target goes too', () => {
    const payload = Buffer.alloc(300 * 1024, 0x61);
    payload[1500] = 0xff;
    const bytes = frameOf('server', Opcode.TEXT, payload);
    const { proto, sink } = makeProtocol('server');
    proto.receive(Buffer.from(bytes.subarray(0, 1000)));
    expect(proto.directTarget()).not.toBeNull();
    proto.receive(Buffer.from(bytes.subarray(1000, 3000)));
    expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_INVALID_UTF8' }]);
    expect(proto.directTarget()).toBeNull();
  });

  it('receivedInPlace beyond the target throws WS_ERR_DIRECT_READ_RANGE (caller misuse)', () => {
    const bytes = frameOf('client', Opcode.BINARY, patterned(200_000));
    const { proto } = makeProtocol('client');
    proto.receive(Buffer.from(bytes.subarray(0, 1000)));
    const target = proto.directTarget()!;
    expect(() => proto.receivedInPlace(target.length + 1)).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'WS_ERR_DIRECT_READ_RANGE' }),
    );
    const idle = makeProtocol('client').proto;
    idle.receive(hex('810161'));
    expect(() => idle.receivedInPlace(1)).toThrow(
      expect.objectContaining({ code: 'WS_ERR_DIRECT_READ_RANGE' }),
    );
  });
});
