import { describe, expect, it } from 'vitest';
import { PEER_ERRORS, UsageError } from '../../src/core/errors.js';
import { makeFrame, Opcode, serializeFrame } from '../../src/core/frame.js';
import { applyMask } from '../../src/core/mask.js';
import { State } from '../../src/core/protocol.js';
import { type Event, FEED_MODES, feed, fixedMask, hex, makeProtocol, output } from './helpers.js';

const KEY = hex('37fa213d');

/**
 * The bytes a peer in the other role would send: a server's frames go out unmasked; towards a
 * server, the same header (length encoding kept as written) gets the mask bit, the fixed key and
 * a masked payload.
 */
function wire(role: 'client' | 'server', frameHex: string): Buffer {
  const b = hex(frameHex);
  if (role === 'client') return b;
  const len7 = b[1] & 0x7f;
  const off = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  const out = Buffer.concat([b.subarray(0, off), KEY, b.subarray(off)]);
  out[1] |= 0x80;
  applyMask(out, off + 4, out.length, KEY, 0, 0);
  return out;
}

const ROLES = ['client', 'server'] as const;

describe('RFC 6455 5.7 examples', () => {
  it('a single-frame masked text message is what the client sends', () => {
    const { proto } = makeProtocol('client');
    proto.sendText('Hello');
    expect(output(proto)).toBe('818537fa213d7f9f4d5158');
  });

  it('a single-frame unmasked text message is what the server sends', () => {
    const { proto } = makeProtocol('server');
    proto.sendText('Hello');
    expect(output(proto)).toBe('810548656c6c6f');
  });

  it('a fragmented unmasked text message is what the server sends with fin=false', () => {
    const { proto } = makeProtocol('server');
    proto.sendText('Hel', false);
    proto.sendText('lo', true);
    expect(output(proto)).toBe('010348656c' + '80026c6f');
  });

  it('256 bytes and 64 KiB binary use the 16- and 64-bit lengths', () => {
    const { proto } = makeProtocol('server');
    proto.sendBinary(Buffer.alloc(256, 1));
    proto.sendBinary(Buffer.alloc(65536, 2));
    const out = Buffer.concat(proto.takeOutput()!);
    expect(out.subarray(0, 4).toString('hex')).toBe('827e0100');
    expect(out.subarray(260, 270).toString('hex')).toBe('827f0000000000010000');
    expect(out.length).toBe(4 + 256 + 10 + 65536);
  });

  for (const mode of FEED_MODES) {
    it(`test_server_receives_masked_hello (${mode})`, () => {
      const { proto, sink } = makeProtocol('server');
      feed(proto, hex('818537fa213d7f9f4d5158'), mode);
      expect(sink.events).toEqual([{ type: 'message', data: 'Hello', isBinary: false }]);
    });
    it(`test_client_receives_unmasked_hello (${mode})`, () => {
      const { proto, sink } = makeProtocol('client');
      feed(proto, hex('810548656c6c6f'), mode);
      expect(sink.events).toEqual([{ type: 'message', data: 'Hello', isBinary: false }]);
    });
    it(`test_client_receives_fragmented_hello (${mode})`, () => {
      const { proto, sink } = makeProtocol('client');
      feed(proto, hex('010348656c 80026c6f'), mode);
      expect(sink.events).toEqual([{ type: 'message', data: 'Hello', isBinary: false }]);
    });
    it(`test_server_receives_masked_pong (${mode})`, () => {
      const { proto, sink } = makeProtocol('server');
      feed(proto, hex('8a8537fa213d7f9f4d5158'), mode);
      expect(sink.events).toEqual([{ type: 'pong', data: '48656c6c6f' }]);
    });
  }
});

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
    code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
  },
  { name: 'invalid UTF-8 text', frames: '8102c328', code: 'WS_ERR_INVALID_UTF8' },
  { name: 'surrogate in text', frames: '8103eda080', code: 'WS_ERR_INVALID_UTF8' },
  { name: 'text ending mid code point', frames: '0101e2 800182', code: 'WS_ERR_INVALID_UTF8' },
  { name: 'close with a 1-byte payload', frames: '880103', code: 'WS_ERR_INVALID_CLOSE_PAYLOAD' },
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
          const [closeCode, message] = PEER_ERRORS[v.code];
          expect(errors).toHaveLength(1);
          expect(errors[0]).toMatchObject({ code: v.code, closeCode });
          expect((errors[0] as { message: string }).message.startsWith(message)).toBe(true);
          expect(proto.endTransport).toBe(true);
          expect(proto.state).toBe(State.CLOSING);
          // The close frame carries the mapped code; input after the violation is discarded.
          const out = Buffer.concat(proto.takeOutput()!);
          const closeFrame = out.subarray(out.length - (out[1] & 0x7f) - (role === 'client' ? 6 : 2));
          expect(closeFrame[0]).toBe(0x88);
          const payloadAt = role === 'client' ? 6 : 2;
          let code = closeFrame.readUInt16BE(payloadAt);
          if (role === 'client') code ^= (0x37 << 8) | 0xfa;
          expect(code).toBe(closeCode);
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
        message: 'Invalid frame: client frames must be masked',
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
        message: 'Invalid frame: server frames must not be masked',
      },
    ]);
  });
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

describe('RFC 6455 5.5.1 closing handshake', () => {
  for (const role of ROLES) {
    it(`test_${role}_initiates: close frame, CLOSING, data still delivered, then CLOSED on the answer`, () => {
      const { proto, sink } = makeProtocol(role);
      proto.close(1000, 'done');
      expect(proto.state).toBe(State.CLOSING);
      expect(proto.closeSent).toBe(true);
      expect(proto.endTransport).toBe(false);
      output(proto);
      proto.receive(wire(role, '810161'));
      proto.receive(wire(role, '880203e8'));
      expect(sink.events).toEqual([
        { type: 'message', data: 'a', isBinary: false },
        { type: 'close', code: 1000, reason: '' },
      ]);
      expect(proto.state).toBe(State.CLOSED);
      expect(proto.endTransport).toBe(true);
      expect(output(proto)).toBe(''); // no second close frame
      expect(proto.closeCode).toBe(1000);
    });

    it(`test_${role}_receives a close first: echoes the code and discards what follows`, () => {
      const { proto, sink } = makeProtocol(role);
      proto.receive(Buffer.concat([wire(role, '880503e9627965'), wire(role, '810161')]));
      expect(sink.events).toEqual([{ type: 'close', code: 1001, reason: 'bye' }]);
      expect(proto.state).toBe(State.CLOSED);
      expect(proto.endTransport).toBe(true);
      const out = proto.takeOutput()!;
      expect(out).toHaveLength(1);
      expect(out[0][0]).toBe(0x88);
      expect(proto.closeCode).toBe(1001);
      expect(proto.closeReason).toBe('bye');
      expect(() => proto.sendText('late')).toThrow(UsageError);
    });

    it(`test_${role}_receives a close without status: answers with an empty close`, () => {
      const { proto } = makeProtocol(role);
      proto.receive(wire(role, '8800'));
      const out = Buffer.concat(proto.takeOutput()!);
      expect(out[0]).toBe(0x88);
      expect(out[1] & 0x7f).toBe(0);
      expect(proto.closeCode).toBe(1005);
    });
  }

  it('closing twice sends one close frame', () => {
    const { proto } = makeProtocol('server');
    proto.close(1000);
    proto.close(1001);
    expect(output(proto)).toBe('880203e8');
  });

  it('EOF releases the extension after a clean close too (regression: zlib contexts leaked)', () => {
    let closed = 0;
    const extension = {
      decompress: () => Buffer.alloc(0),
      compress: () => null,
      close: () => {
        closed++;
      },
    };
    const { proto } = makeProtocol('server', { extension });
    proto.close(1000);
    proto.receive(wire('server', '880203e8'));
    expect(proto.state).toBe(State.CLOSED);
    proto.receiveEof();
    proto.receiveEof();
    expect(closed).toBe(1);
  });

  it('sendingFragments tells a fragmented send is under way', () => {
    const { proto } = makeProtocol('server');
    proto.sendText('a', false);
    expect(proto.sendingFragments).toBe(true);
    expect(() => proto.sendFramed(Buffer.from('8100', 'hex'))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_NOT_OPEN' }),
    );
    proto.sendText('b', true);
    expect(proto.sendingFragments).toBe(false);
  });

  it('EOF without a close frame reports 1006', () => {
    const { proto } = makeProtocol('server');
    proto.receiveEof();
    expect(proto.state).toBe(State.CLOSED);
    expect(proto.closeCode).toBe(1006);
  });

  it('invalid close codes and long reasons are caller misuse (thrown)', () => {
    const { proto } = makeProtocol('server');
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
      expect(() => proto.close(code)).toThrow(expect.objectContaining({ code: 'WS_ERR_INVALID_CLOSE_CODE' }));
    }
    expect(() => proto.close(1000, 'x'.repeat(124))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_CLOSE_REASON_TOO_LONG' }),
    );
    expect(() => proto.close(undefined, 'why')).toThrow(
      expect.objectContaining({ code: 'WS_ERR_CLOSE_REASON_WITHOUT_CODE' }),
    );
    expect(proto.closeSent).toBe(false);
  });
});

describe('RFC 6455 5.5.2 ping and pong', () => {
  for (const role of ROLES) {
    it(`test_${role}_receives a ping: answers a pong with the same payload`, () => {
      const { proto, sink } = makeProtocol(role);
      proto.receive(wire(role, '89026869'));
      expect(sink.events).toEqual([{ type: 'ping', data: '6869' }]);
      const out = Buffer.concat(proto.takeOutput()!);
      expect(out[0]).toBe(0x8a);
      expect(out[1] & 0x7f).toBe(2);
    });
  }

  it('autoPong: false leaves the answer to the caller', () => {
    const { proto } = makeProtocol('server', { autoPong: false });
    proto.receive(wire('server', '89026869'));
    expect(proto.takeOutput()).toBeNull();
  });

  it('a control payload above 125 bytes is caller misuse', () => {
    const { proto } = makeProtocol('server');
    expect(() => proto.sendPing(Buffer.alloc(126))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_CONTROL_TOO_LONG' }),
    );
  });
});

describe('RFC 6455 10.4 limits', () => {
  for (const role of ROLES) {
    it(`test_${role}_receives a frame above maxPayload: 1009 before any allocation`, () => {
      const { proto, sink } = makeProtocol(role, { maxPayload: 10 });
      // Only the header: the limit is enforced before the payload arrives.
      proto.receive(wire(role, `820b${'00'.repeat(11)}`).subarray(0, role === 'server' ? 6 : 2));
      expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_MESSAGE_TOO_BIG', closeCode: 1009 }]);
    });

    it(`test_${role}_receives fragments adding up above maxPayload: 1009`, () => {
      const { proto, sink } = makeProtocol(role, { maxPayload: 10 });
      proto.receive(wire(role, '0206000000000000'));
      proto.receive(wire(role, '800500000000000'.padEnd(14, '0')));
      expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_MESSAGE_TOO_BIG', closeCode: 1009 }]);
    });
  }

  it('a flood of tiny fragments is stopped by maxPayload alone', () => {
    const { proto, sink } = makeProtocol('server', { maxPayload: 1024 });
    proto.receive(wire('server', '0201ff'));
    const fragment = wire('server', '0001ff');
    for (let i = 0; i < 2000 && sink.events.length === 0; i++) proto.receive(fragment);
    expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_MESSAGE_TOO_BIG' }]);
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

describe('sending', () => {
  it('client frames are masked with the supplied randomness; server frames are not', () => {
    const c = makeProtocol('client');
    c.proto.sendBinary(Buffer.from([1, 2, 3]));
    expect(output(c.proto)).toBe('828337fa213d36f822');
    const s = makeProtocol('server');
    s.proto.sendBinary(Buffer.from([1, 2, 3]));
    expect(output(s.proto)).toBe('8203010203');
  });

  it('a large unmasked payload is queued without copying (header and payload as separate vectors)', () => {
    const { proto } = makeProtocol('server');
    const big = Buffer.alloc(100000, 7);
    proto.sendBinary(big);
    const out = proto.takeOutput()!;
    expect(out).toHaveLength(2);
    expect(out[1]).toBe(big);
    expect(proto.outputBytes).toBe(0);
  });

  it('sending before open or after close is caller misuse', () => {
    const { proto } = makeProtocol('server', { connecting: true });
    expect(() => proto.sendText('x')).toThrow(expect.objectContaining({ code: 'WS_ERR_NOT_OPEN' }));
    proto.open();
    proto.sendText('x');
    proto.close();
    expect(() => proto.sendText('y')).toThrow(expect.objectContaining({ code: 'WS_ERR_NOT_OPEN' }));
    expect(() => proto.sendPing()).toThrow(expect.objectContaining({ code: 'WS_ERR_NOT_OPEN' }));
  });

  it('the client role requires randomness; options are validated', () => {
    expect(() => makeProtocol('client', { randomFill: null })).toThrow(UsageError);
    expect(() => makeProtocol('server', { maxPayload: -1 })).toThrow(/maxPayload/);
    expect(fixedMask).toBeTypeOf('function');
  });
});
