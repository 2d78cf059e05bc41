// The state machine (protocol.ts): RFC 6455 5.7 examples, the closing handshake, ping/pong.
import { describe, expect, it } from 'vitest';
import { peerError, UsageError } from '../../src/core/errors.js';
import { DEFLATE_SLICE, Protocol, ProtocolSettings, State } from '../../src/core/protocol.js';
import { PerMessageDeflate } from '../../src/deflate/codec.js';
import { normalizeDeflateOptions } from '../../src/deflate/negotiation.js';
import { parseFrames } from '../node/helpers.js';
import {
  FEED_MODES,
  feed,
  fixedMask,
  hex,
  makeProtocol,
  output,
  RecordingSink,
  ROLES,
  wire,
} from './helpers.js';

/**
 * The peer's close has arrived while the answer waits for data accepted before it (RFC 6455 5.5.1:
 * an endpoint "MAY delay sending a Close frame until its current message is sent"): the answer is
 * owed, not queued, and the connection is CLOSING.
 */
function expectAnswerOwed(proto: Protocol): void {
  expect({
    closeOwed: proto.closeOwed,
    closeReceived: proto.closeReceived,
    closeSent: proto.closeSent,
    state: proto.state,
    endTransport: proto.endTransport,
  }).toEqual({
    closeOwed: true,
    closeReceived: true,
    closeSent: false,
    state: State.CLOSING,
    endTransport: false,
  });
  expect(proto.takeOutput()).toBeNull();
}

/**
 * The owed answer is queued: the connection is CLOSED, the transport is to end, and no data frame
 * may follow (RFC 6455 5.5.1: after sending a Close frame, no more data frames).
 */
function expectAnswered(proto: Protocol): void {
  expect({
    closeOwed: proto.closeOwed,
    closeSent: proto.closeSent,
    state: proto.state,
    endTransport: proto.endTransport,
  }).toEqual({ closeOwed: false, closeSent: true, state: State.CLOSED, endTransport: true });
  expect(() => proto.sendText('after the answer')).toThrow(
    expect.objectContaining({ code: 'WS_ERR_NOT_OPEN' }),
  );
}

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

  it('the answer to a close echoes its code and reason, as ws does (the initiator sees its own reason)', () => {
    const { proto } = makeProtocol('server');
    proto.receive(wire('server', '880503e9627965'));
    expect(output(proto)).toBe('880503e9627965');
  });

  it('with skipUtf8Validation a close reason is not validated either (ws: 1000, not 1007)', () => {
    const { proto, sink } = makeProtocol('client', { skipUtf8Validation: true });
    proto.receive(wire('client', '880403e8fffe'));
    expect(sink.events).toMatchObject([{ type: 'close', code: 1000 }]);
    expect(proto.closeCode).toBe(1000);
    // Regression: only the decoded string was kept, so ws's 'close' Buffer got U+FFFD (efbfbd)
    // where the peer had sent ff fe.
    expect(proto.closeReasonBytes.toString('hex')).toBe('fffe');
    expect(proto.closeReason).toBe('\uFFFD\uFFFD');
  });

  it('keeps the close reason bytes as received, apart from the input chunk', () => {
    const { proto } = makeProtocol('client');
    const input = wire('client', '880503e9627965');
    proto.receive(input);
    input.fill(0);
    expect(proto.closeReasonBytes.toString()).toBe('bye');
    expect(makeProtocol('client').proto.closeReasonBytes.length).toBe(0);
  });

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
      resumeDecompress: () => Buffer.alloc(0),
      inflated: 0,
      compress: () => null,
      compressFirst: () => null,
      compressNext: () => null,
      compressLeft: 0,
      cancelCompress: () => {},
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

  it("invalid close codes and long reasons are caller misuse (thrown, with ws's errors)", () => {
    const { proto } = makeProtocol('server');
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
      const call = () => proto.close(code);
      expect(call).toThrow(TypeError);
      expect(call).toThrow(
        expect.objectContaining({
          code: 'WS_ERR_INVALID_CLOSE_CODE',
          message: 'First argument must be a valid error code number',
        }),
      );
    }
    const long = () => proto.close(1000, 'x'.repeat(124));
    expect(long).toThrow(RangeError);
    expect(long).toThrow(
      expect.objectContaining({
        code: 'WS_ERR_CLOSE_REASON_TOO_LONG',
        message: 'The message must not be greater than 123 bytes',
      }),
    );
    expect(long).toThrow(UsageError);
    expect(proto.closeSent).toBe(false);
  });

  it('a reason without a code is not sent, as in ws: the close frame carries no status', () => {
    const { proto } = makeProtocol('server');
    proto.close(undefined, 'why');
    expect(output(proto)).toBe('8800');
  });

  describe('5.5.1 Close: the peer closes while the caller holds data it accepted before (dataPending)', () => {
    // The Node layer raises dataPending while it reads a Blob given to send(): ws 8 sends that
    // Blob and what was sent behind it before the peer's close, then its answer.
    for (const role of ROLES) {
      it(`test_${role}_receives_close_while_data_is_pending: the data, then the echoed close`, () => {
        const { proto, sink } = makeProtocol(role);
        proto.dataPending = true;
        proto.receive(wire(role, '88050fa1627965'));
        expect(sink.events).toEqual([{ type: 'close', code: 4001, reason: 'bye' }]);
        expectAnswerOwed(proto);
        // Input after the close frame is still discarded.
        proto.receive(wire(role, '810161'));
        expect(sink.events).toHaveLength(1);
        // The Blob's bytes arrive: the caller lowers the flag and hands them over, with what
        // waited behind them, then queues the answer.
        proto.dataPending = false;
        proto.sendBinary(Buffer.from('blob'));
        proto.sendText('behind');
        expect(proto.closeOwed).toBe(true);
        proto.answerClose();
        expectAnswered(proto);
        const frames = parseFrames(Buffer.concat(proto.takeOutput()!));
        expect(frames.map((f) => [f.opcode, f.payload.toString('hex')])).toEqual([
          [2, Buffer.from('blob').toString('hex')],
          [1, Buffer.from('behind').toString('hex')],
          [8, '0fa1627965'], // the peer's code and reason, echoed
        ]);
        expect(frames.every((f) => f.fin && f.masked === (role === 'client'))).toBe(true);
      });
    }

    it('test_server_close_without_status_while_data_is_pending: the answer has none either', () => {
      const { proto } = makeProtocol('server');
      proto.dataPending = true;
      proto.receive(wire('server', '8800'));
      expect(proto.closeOwed).toBe(true);
      proto.dataPending = false;
      proto.sendBinary(Buffer.from('b'));
      proto.answerClose();
      expect(output(proto)).toBe('820162' + '8800');
    });

    it('test_server_data_pending_lowered_before_the_close: answered at once, as before', () => {
      const { proto } = makeProtocol('server');
      proto.dataPending = true;
      proto.dataPending = false;
      proto.receive(wire('server', '880203e8'));
      expect(proto.closeOwed).toBe(false);
      expect(output(proto)).toBe('880203e8');
      expect(proto.state).toBe(State.CLOSED);
    });

    it('test_server_closed_first_while_data_is_pending: the close completes, nothing is owed', () => {
      const { proto } = makeProtocol('server');
      proto.close(1000);
      expect(output(proto)).toBe('880203e8');
      proto.dataPending = true;
      proto.receive(wire('server', '880203e8'));
      expect(proto.closeOwed).toBe(false);
      expect(proto.state).toBe(State.CLOSED);
      expect(proto.takeOutput()).toBeNull();
    });

    it('test_server_fails_while_an_answer_is_owed_for_pending_data: the failure close frame (1011) answers', () => {
      const { proto, sink } = makeProtocol('server');
      proto.dataPending = true;
      proto.receive(wire('server', '880203e8'));
      // The Blob could not be read: the Node layer fails the connection.
      proto.fail(peerError('WS_ERR_BLOB_READ_FAILED'));
      expect(proto.closeOwed).toBe(false);
      expect(output(proto)).toBe('880203f3');
      expect(proto.state).toBe(State.CLOSED);
      expect(proto.endTransport).toBe(true);
      expect(sink.events.map((e) => e.type)).toEqual(['close', 'error']);
      proto.answerClose();
      expect(proto.takeOutput()).toBeNull();
    });

    for (const end of ['receiveEof', 'abort'] as const) {
      it(`test_server_${end}_while_an_answer_is_owed_for_pending_data: nothing is owed or sent`, () => {
        const { proto } = makeProtocol('server');
        proto.dataPending = true;
        proto.receive(wire('server', '880203e8'));
        expect(proto.closeOwed).toBe(true);
        proto[end]();
        expect(proto.closeOwed).toBe(false);
        expect(proto.state).toBe(State.CLOSED);
        expect(() => proto.sendBinary(Buffer.from('late'))).toThrow(
          expect.objectContaining({ code: 'WS_ERR_NOT_OPEN' }),
        );
        proto.answerClose();
        expect(proto.takeOutput()).toBeNull();
      });
    }
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

describe('ProtocolSettings: validated once, shared by many connections', () => {
  it('two connections sharing one settings object keep their own state', () => {
    const settings = new ProtocolSettings({ role: 'server', maxPayload: 4 });
    const a = new Protocol(new RecordingSink(), settings);
    const bSink = new RecordingSink();
    const b = new Protocol(bSink, settings, null, true);
    expect(a.settings).toBe(b.settings);
    expect(a.role).toBe('server');
    expect(b.state).toBe(State.CONNECTING);
    b.open();
    a.close(1000);
    expect(a.closeSent).toBe(true);
    expect(b.closeSent).toBe(false);
    // The shared limit applies to each: 5 bytes > maxPayload 4 fails b with 1009.
    b.receive(wire('server', '810568656c6c6f'));
    expect(bSink.events).toEqual([
      expect.objectContaining({ type: 'error', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', closeCode: 1009 }),
    ]);
    expect(b.endTransport).toBe(true);
    expect(a.endTransport).toBe(false);
  });

  it.each([
    [{ role: 'peer' }, "role must be 'client' or 'server', got peer"],
    [{ role: 'server', maxPayload: -1 }, 'maxPayload must be a non-negative integer, got -1'],
    [{ role: 'server', maxPayload: 1.5 }, 'maxPayload must be a non-negative integer, got 1.5'],
    [{ role: 'client' }, 'the client role needs randomFill for masking keys'],
  ])('rejects %j (caller misuse throws)', (options, message) => {
    const expected = expect.objectContaining({ name: 'TypeError', code: 'WS_ERR_INVALID_OPTION', message });
    expect(() => new ProtocolSettings(options as never)).toThrow(expected);
    expect(() => new Protocol(new RecordingSink(), options as never)).toThrow(expected);
  });

  it('a server ignores randomFill (its frames are never masked)', () => {
    expect(new ProtocolSettings({ role: 'server', randomFill: fixedMask }).random).toBeNull();
    expect(new ProtocolSettings({ role: 'client', randomFill: fixedMask }).random).toBe(fixedMask);
  });
});

describe('sendPreamble', () => {
  it('the preamble leaves first, frames queued after it follow in order, a later one is appended', () => {
    const { proto } = makeProtocol('server');
    const preamble = Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    proto.sendPreamble(preamble);
    proto.sendText('a');
    proto.sendBinary(Buffer.from('bc'));
    proto.sendPreamble(Buffer.from('!'));
    expect(proto.outputBytes).toBe(preamble.length + 3 + 4 + 1);
    const out = Buffer.concat(proto.takeOutput()!);
    expect(out.toString('latin1')).toBe(`${preamble.toString('latin1')}\x81\x01a\x82\x02bc!`);
    proto.sendPreamble(preamble);
    expect(proto.takeOutput()).toEqual([preamble]);
  });
});

describe('output accounting: outputBytes (everything queued) and outputPayload (what the caller sent)', () => {
  for (const role of ROLES) {
    it(`test_${role}_sends: payload without headers, masks, preamble, automatic pongs or close frames`, () => {
      const { proto } = makeProtocol(role);
      proto.sendPreamble(Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
      expect(proto.outputPayload).toBe(0);
      proto.sendText('héllo'); // 6 bytes of UTF-8
      proto.sendBinary(Buffer.alloc(300)); // a 16-bit length
      proto.sendText('x'.repeat(70000)); // a 64-bit length
      proto.sendPing(Buffer.from('p'));
      expect(proto.outputPayload).toBe(6 + 300 + 70000 + 1);
      proto.receive(wire(role, '8900')); // a ping: its automatic pong is not the caller's
      proto.close(1000);
      expect(proto.outputPayload).toBe(6 + 300 + 70000 + 1);
      expect(proto.outputBytes).toBeGreaterThan(proto.outputPayload);
      proto.takeOutput();
      expect([proto.outputBytes, proto.outputPayload]).toEqual([0, 0]);
    });
  }
});

describe('a compressed message above the deflate budget is sent in slices (DEFLATE_SLICE)', () => {
  const params = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const big = Buffer.from('sliced compression keeps the event loop turning; '.repeat(30000)); // 1.4 MiB

  function connection() {
    const server = makeProtocol('server', {
      extension: new PerMessageDeflate('server', params, normalizeDeflateOptions(true, 'server')!),
    });
    const client = makeProtocol('client', {
      extension: new PerMessageDeflate('client', params, normalizeDeflateOptions(true, 'client')!),
    });
    return { server, client };
  }

  /** The first byte (FIN, RSV1, opcode) of each frame in `bytes`. */
  function frameHeads(bytes: Buffer): number[] {
    return parseFrames(bytes).map((f) => (f.fin ? 0x80 : 0) | (f.rsv1 ? 0x40 : 0) | f.opcode);
  }

  it('test_server_sends_large_compressed_message_as_fragments: RSV1 on the first only, pings between', () => {
    const { server, client } = connection();
    server.proto.sendData(2, big, true, true);
    // One slice now, as a first fragment with RSV1 (RFC 7692 6.1) and no FIN.
    expect(server.proto.compressing).toBe(true);
    expect(server.proto.compressPending).toBe(big.length - DEFLATE_SLICE);
    expect(server.proto.outputPayload).toBe(DEFLATE_SLICE);
    const wireBytes = [Buffer.concat(server.proto.takeOutput()!)];
    expect(frameHeads(wireBytes[0])).toEqual([0x42]);
    // Data waits for the message; a control frame may go between its fragments (RFC 6455 5.4).
    expect(() => server.proto.sendText('later')).toThrow(
      expect.objectContaining({ code: 'WS_ERR_COMPRESSING' }),
    );
    expect(() => server.proto.sendFramed(hex('810178'))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_COMPRESSING' }),
    );
    server.proto.sendPing(Buffer.from('p'));
    while (server.proto.compressing) server.proto.compressNextSlice();
    expect(server.proto.compressPending).toBe(0);
    server.proto.sendText('later');
    wireBytes.push(Buffer.concat(server.proto.takeOutput()!));
    const all = Buffer.concat(wireBytes);
    const slices = Math.ceil(big.length / DEFLATE_SLICE);
    expect(frameHeads(all)).toEqual([
      0x42,
      0x89, // the ping, between two fragments
      ...Array(slices - 2).fill(0x00),
      0x80,
      0x81, // 'later', after the message
    ]);
    // The peer reads one message, intact, after the ping.
    client.proto.receive(all);
    while (client.proto.sliceSpent) client.proto.nextSlice();
    const events = client.sink.events as Array<{ type: string; data: Buffer | string }>;
    expect(events.map((e) => e.type)).toEqual(['ping', 'message', 'message']);
    expect(events[1].data === big.toString('hex')).toBe(true);
  });

  /** Bytes that do not compress (xorshift32): their compressed payload stays above 16 KiB. */
  function noise(length: number, seed: number): Buffer {
    const out = Buffer.alloc(length);
    let x = seed;
    for (let i = 0; i < length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  }

  it('test_server_compressed_payload_above_the_copy_threshold_survives_the_next_compress (its output is shared scratch)', () => {
    const a = connection();
    const b = connection();
    const first = noise(20 * 1024, 1);
    a.server.proto.sendData(2, first, true, true);
    const queued = a.server.proto.takeOutput()!; // waiting for the socket
    // Another connection compresses before those bytes are written.
    b.server.proto.sendData(2, noise(20 * 1024, 2), true, true);
    a.client.proto.receive(Buffer.concat(queued));
    const events = a.client.sink.events as Array<{ type: string; data: Buffer | string }>;
    expect(events.map((e) => e.type)).toEqual(['message']);
    expect(events[0].data === first.toString('hex')).toBe(true);
  });

  /** The side sending in `role` and its peer, both with permessage-deflate. */
  function sides(role: 'client' | 'server') {
    const { server, client } = connection();
    return role === 'server' ? { sender: server, peer: client } : { sender: client, peer: server };
  }

  const slices = Math.ceil(big.length / DEFLATE_SLICE);

  describe('5.5.1 Close: the peer closes while a message is compressed in slices', () => {
    for (const role of ROLES) {
      it(`test_${role}_receives_close_during_sliced_compression: the rest of the message, the sends queued before, then the echoed close`, () => {
        const { sender, peer } = sides(role);
        const proto = sender.proto;
        proto.sendData(2, big, true, true);
        const wireBytes = [Buffer.concat(proto.takeOutput()!)];
        proto.compressNextSlice();
        wireBytes.push(Buffer.concat(proto.takeOutput()!));
        // The peer's close (4001 "bye") comes after two fragments.
        proto.receive(wire(role, '88050fa1627965'));
        expect(sender.sink.events).toEqual([{ type: 'close', code: 4001, reason: 'bye' }]);
        // RFC 6455 5.5.1: "An endpoint MAY delay sending a Close frame until its current
        // message is sent".
        expectAnswerOwed(proto);
        expect(proto.compressing).toBe(true);
        while (proto.compressing) proto.compressNextSlice();
        // What the caller accepted before the close arrived still goes out, before the answer.
        proto.sendText('queued before the close');
        proto.answerClose();
        expectAnswered(proto);
        proto.answerClose(); // nothing owed any more
        wireBytes.push(Buffer.concat(proto.takeOutput()!));
        const all = Buffer.concat(wireBytes);
        const frames = parseFrames(all);
        expect(frames.map((f) => (f.fin ? 0x80 : 0) | (f.rsv1 ? 0x40 : 0) | f.opcode)).toEqual([
          0x42,
          ...Array(slices - 2).fill(0x00),
          0x80, // the message's last fragment
          0x81, // the send queued before the close
          0x88, // the answer, echoing code and reason
        ]);
        expect(frames.every((f) => f.masked === (role === 'client'))).toBe(true);
        expect(frames[frames.length - 1].payload.toString('hex')).toBe('0fa1627965');
        // The peer reads the whole message, the queued one, then the close.
        peer.proto.close(4001, 'bye');
        peer.proto.takeOutput();
        peer.proto.receive(all);
        while (peer.proto.sliceSpent) peer.proto.nextSlice();
        const events = peer.sink.events as Array<{ type: string; data?: string; code?: number }>;
        expect(events.map((e) => e.type)).toEqual(['message', 'message', 'close']);
        expect(events[0].data === big.toString('hex')).toBe(true);
        expect(events[1].data).toBe('queued before the close');
        expect(events[2].code).toBe(4001);
        expect(peer.proto.state).toBe(State.CLOSED);
      });
    }

    it('test_server_receives_close_without_status_during_sliced_compression: the answer has none either', () => {
      const { sender } = sides('server');
      sender.proto.sendData(2, big, true, true);
      sender.proto.takeOutput();
      sender.proto.receive(wire('server', '8800'));
      expect(sender.sink.events).toEqual([{ type: 'close', code: 1005, reason: '' }]);
      while (sender.proto.compressing) sender.proto.compressNextSlice();
      sender.proto.takeOutput();
      sender.proto.answerClose();
      expect(output(sender.proto)).toBe('8800');
    });

    it('test_server_close_called_while_an_answer_is_owed: that close frame is the answer, with its own code', () => {
      // The Node layer's close() made before the peer's close arrived waits behind the message:
      // its frame answers (ws 8 sends its queued close() the same way).
      const { sender } = sides('server');
      sender.proto.sendData(2, big, true, true);
      sender.proto.takeOutput();
      sender.proto.receive(wire('server', '880203e8'));
      while (sender.proto.compressing) sender.proto.compressNextSlice();
      sender.proto.takeOutput();
      sender.proto.close(1001, 'away');
      expect(sender.proto.state).toBe(State.CLOSED);
      expect(sender.proto.endTransport).toBe(true);
      sender.proto.answerClose();
      expect(output(sender.proto)).toBe(`880603e9${Buffer.from('away').toString('hex')}`);
    });

    it('test_server_transport_ends_while_an_answer_is_owed: the message is given up, nothing is owed', () => {
      const { sender } = sides('server');
      const ext = sender.proto.extension!;
      sender.proto.sendData(2, big, true, true);
      sender.proto.takeOutput();
      sender.proto.receive(wire('server', '880203e8'));
      expect(sender.proto.closeOwed).toBe(true);
      sender.proto.receiveEof();
      expect(sender.proto.closeOwed).toBe(false);
      expect(sender.proto.compressing).toBe(false);
      expect(ext.compressLeft).toBe(0);
      sender.proto.compressNextSlice(); // a turn already scheduled: nothing more is sent
      sender.proto.answerClose();
      expect(sender.proto.takeOutput()).toBeNull();
    });

    it('test_server_fails_while_an_answer_is_owed: the failure close frame answers, the message is given up', () => {
      const { sender } = sides('server');
      sender.proto.sendData(2, big, true, true);
      sender.proto.takeOutput();
      sender.proto.receive(wire('server', '880203e8'));
      // e.g. zlib failing on the next slice (core fail(), the one transition).
      sender.proto.fail(peerError('WS_ERR_COMPRESSION_FAILED'));
      expect(sender.proto.closeOwed).toBe(false);
      expect(sender.proto.compressing).toBe(false);
      expect(output(sender.proto)).toBe('880203f3');
      expect(sender.proto.state).toBe(State.CLOSED);
      sender.proto.answerClose();
      expect(sender.proto.takeOutput()).toBeNull();
    });

    it('test_server_receives_close_with_nothing_being_compressed: answered at once, as before', () => {
      const { sender } = sides('server');
      sender.proto.sendData(2, big.subarray(0, 1000), true, true);
      sender.proto.takeOutput();
      sender.proto.receive(wire('server', '880203e8'));
      expect(sender.proto.closeOwed).toBe(false);
      expect(output(sender.proto)).toBe('880203e8');
      expect(sender.proto.state).toBe(State.CLOSED);
    });
  });

  it('test_messages_up_to_the_budget_stay_one_frame', () => {
    const { server } = connection();
    server.proto.sendData(2, big.subarray(0, DEFLATE_SLICE), true, true);
    expect(server.proto.compressing).toBe(false);
    expect(frameHeads(Buffer.concat(server.proto.takeOutput()!))).toEqual([0xc2]);
    server.proto.receiveEof();
  });
});
