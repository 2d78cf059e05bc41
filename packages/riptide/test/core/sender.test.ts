// Outgoing frames (sender.ts): masking by role, vectors, copies avoided, misuse.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { closeRun, frameForBroadcast, pushFrame } from '../../src/core/sender.js';
import { fixedMask, makeProtocol, output } from './helpers.js';

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

  it('a large transient payload (compressed output in shared scratch) is copied into its frame', () => {
    const out: Buffer[] = [];
    const scratch = Buffer.alloc(20000, 7);
    const bytes = pushFrame(out, 2, true, true, scratch, null, true);
    closeRun(out);
    scratch.fill(0); // the next compress call writes over it
    const frame = Buffer.concat(out);
    expect(bytes).toBe(frame.length);
    expect(frame.subarray(0, 4).toString('hex')).toBe('c27e4e20');
    expect(frame.subarray(4).equals(Buffer.alloc(20000, 7))).toBe(true);
    expect(out.includes(scratch)).toBe(false);
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

describe('small frames share a slab (one vector per run of frames)', () => {
  const text = (n: number, c: string) => c.repeat(n);
  // The server frame of a short text message: 0x81, the length, the bytes.
  const frame = (t: string) => Buffer.concat([Buffer.from([0x81, t.length]), Buffer.from(t)]);

  it('the frames one connection queues in a row come out as one buffer, in order', () => {
    const { proto } = makeProtocol('server');
    proto.sendText('a');
    proto.sendText(Buffer.from('bc'));
    proto.sendPing(Buffer.from('p'));
    const out = proto.takeOutput()!;
    expect(out).toHaveLength(1);
    expect(out[0].toString('hex')).toBe('810161' + '81026263' + '890170');
    expect(proto.takeOutput()).toBeNull();
  });

  it('interleaved connections each get exactly their own frames, in their order', () => {
    const a = makeProtocol('server').proto;
    const b = makeProtocol('server').proto;
    a.sendText('a1');
    b.sendText('b1');
    a.sendText('a2');
    b.sendText('b2');
    a.sendText('a3');
    expect(Buffer.concat(a.takeOutput()!)).toEqual(Buffer.concat(['a1', 'a2', 'a3'].map(frame)));
    expect(Buffer.concat(b.takeOutput()!)).toEqual(Buffer.concat(['b1', 'b2'].map(frame)));
  });

  it('a large payload, a pre-framed message and big frames keep their place between small frames', () => {
    const { proto } = makeProtocol('server');
    const big = Buffer.alloc(20000, 7);
    const shared = frameForBroadcast(1, 'pub');
    proto.sendText('x');
    proto.sendBinary(big);
    proto.sendText('y');
    proto.sendFramed(shared[0]);
    proto.sendText(text(3000, 'z'));
    proto.sendText('w');
    const out = proto.takeOutput()!;
    // [frame x + big's header] [big itself] [frame y] [shared] [the 3000-byte frame] [frame w]
    expect(out[1]).toBe(big);
    expect(out[3]).toBe(shared[0]);
    const bigHeader = Buffer.from([0x82, 126, 0x4e, 0x20]);
    const long = Buffer.concat([
      Buffer.from([0x81, 126, 3000 >> 8, 3000 & 0xff]),
      Buffer.from(text(3000, 'z')),
    ]);
    expect(Buffer.concat(out)).toEqual(
      Buffer.concat([frame('x'), bigHeader, big, frame('y'), frame('pub'), long, frame('w')]),
    );
  });

  it('bytes already taken stay valid while later frames fill more slabs', () => {
    const a = makeProtocol('server').proto;
    a.sendText('keep me');
    const taken = a.takeOutput()!;
    const copy = Buffer.from(taken[0]);
    const b = makeProtocol('server').proto;
    for (let i = 0; i < 200; i++) b.sendText(text(1000, String(i % 10)));
    expect(taken[0]).toEqual(copy);
    const all = Buffer.concat(b.takeOutput()!);
    expect(all.length).toBe(200 * 1004);
    expect(all.subarray(199 * 1004 + 4, 199 * 1004 + 8).toString()).toBe('9999');
  });

  it('client frames in the slab are masked like any other', () => {
    const c = makeProtocol('client').proto;
    c.sendBinary(Buffer.from([1, 2, 3]));
    c.sendBinary(Buffer.from([1, 2, 3]));
    expect(output(c)).toBe('828337fa213d36f822'.repeat(2));
  });
});
