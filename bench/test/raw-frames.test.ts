// The raw reflector's frame-boundary tracker (bench/servers/raw-frames.mjs): it must find the
// client's close frame only where a frame starts, whatever the read boundaries.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM JavaScript
import { closeFrameEnd } from '../servers/raw-frames.mjs';

/** A client frame (FIN set, masked with `mask`) carrying `payload`. */
function clientFrame(opcode: number, payload: Buffer, mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d])): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  mask.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/** A binary payload whose bytes on the wire (masked with `mask`) are `wire` at `at`. */
function payloadWithWireBytes(size: number, at: number, wire: number[], mask: Buffer): Buffer {
  const payload = Buffer.alloc(size, 0x5a);
  wire.forEach((b, i) => {
    payload[at + i] = b ^ mask[(at + i) & 3];
  });
  return payload;
}

const CLOSE = clientFrame(0x8, Buffer.from([0x03, 0xe8])); // 8 bytes: 1000, normal closure

/** What the tracker returns for each read, in order. */
function feed(reads: Buffer[]): number[] {
  const state = {};
  return reads.map((r) => closeFrameEnd(state, r));
}

/** `stream` cut at the given offsets. */
function cut(stream: Buffer, ...at: number[]): Buffer[] {
  const bounds = [0, ...at, stream.length];
  return bounds.slice(1).map((end, i) => stream.subarray(bounds[i], end));
}

describe('closeFrameEnd', () => {
  it('does not take a read that starts inside a binary payload for a close frame', () => {
    // size-64KiB: each 65,550-byte frame is read as 65,536 bytes, then 28: the payload's last
    // 14 bytes and the next frame's header. Here those 28 bytes start 0x88 0x96 (0x96 & 0x7f =
    // 22 = 28 - 6), which is what a lone masked close frame of 28 bytes would start with.
    const mask = Buffer.from([0x11, 0x22, 0x33, 0x44]);
    const size = 65536;
    const first = clientFrame(0x2, payloadWithWireBytes(size, size - 14, [0x88, 0x96], mask), mask);
    const second = clientFrame(0x2, Buffer.alloc(size, 1), mask);
    const stream = Buffer.concat([first, second, CLOSE]);
    const reads = cut(stream, 65536, 65536 + 28, first.length + 65536);
    expect(reads[1].length).toBe(28);
    expect(reads[1].subarray(0, 2)).toEqual(Buffer.from([0x88, 0x96]));
    expect(feed(reads)).toEqual([-1, -1, -1, reads[3].length]);
  });

  it('does not take the 14-byte tail of a 1 MiB message for a close frame', () => {
    // Scenario 3 (one message in flight): the last read of a message is its payload's last 14
    // bytes alone; 0x88 0x88 is a 14-byte masked close frame's start.
    const mask = Buffer.from([0xa0, 0x0b, 0xc0, 0x0d]);
    const size = 1 << 20;
    const frame = clientFrame(0x2, payloadWithWireBytes(size, size - 14, [0x88, 0x88], mask), mask);
    const reads = cut(frame, frame.length - 14);
    expect(reads[1].length).toBe(14);
    expect(feed([...reads, CLOSE])).toEqual([-1, -1, CLOSE.length]);
  });

  it('finds a close frame split across reads at every point', () => {
    const text = clientFrame(0x1, Buffer.from('hello'));
    for (let at = 1; at < CLOSE.length; at++) {
      const stream = Buffer.concat([text, CLOSE]);
      expect(feed(cut(stream, text.length + at))).toEqual([-1, CLOSE.length - at]);
    }
  });

  it('finds a close frame that arrives one byte per read', () => {
    const reads = cut(CLOSE, 1, 2, 3, 4, 5, 6, 7);
    expect(feed(reads)).toEqual([-1, -1, -1, -1, -1, -1, -1, 1]);
  });

  it('follows headers with 16- and 64-bit lengths split across reads', () => {
    const mid = clientFrame(0x2, Buffer.alloc(300, 0x88)); // 16-bit length, 8-byte header + mask
    const big = clientFrame(0x2, Buffer.alloc(70000, 0x88)); // 64-bit length
    const stream = Buffer.concat([mid, big, CLOSE]);
    // Cut inside mid's extended length, inside big's 64-bit length, and inside big's mask.
    const reads = cut(stream, 3, mid.length + 5, mid.length + 12, mid.length + 40000);
    expect(feed(reads)).toEqual([-1, -1, -1, -1, big.length - 40000 + CLOSE.length]);
  });

  it('finds the close frame after several frames in one read, and not past it', () => {
    const frames = [
      clientFrame(0x1, Buffer.from('a text message')),
      clientFrame(0x2, Buffer.alloc(200, 0x88)),
      clientFrame(0x9, Buffer.from('ping')),
      clientFrame(0x0, Buffer.alloc(3, 0x88)),
    ];
    const before = Buffer.concat(frames);
    const trailing = Buffer.from([0x82, 0x80, 0, 0, 0, 0]);
    expect(feed([Buffer.concat([before, CLOSE])])).toEqual([before.length + CLOSE.length]);
    expect(feed([Buffer.concat([before, CLOSE, trailing])])).toEqual([before.length + CLOSE.length]);
  });

  it('agrees with a whole-stream parse for random frames cut at random points', () => {
    let seed = 0x2545f491; // xorshift32: the same frames and cuts on every run
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let round = 0; round < 200; round++) {
      const frames: Buffer[] = [];
      const count = 1 + rand(6);
      for (let i = 0; i < count; i++) {
        const size = [0, 5, 125, 126, 300, 65535, 65536, 70000][rand(8)];
        const payload = Buffer.alloc(size);
        for (let j = 0; j < size; j++) payload[j] = rand(256);
        const mask = Buffer.from([rand(256), rand(256), rand(256), rand(256)]);
        frames.push(clientFrame([0x1, 0x2, 0x0, 0x9, 0xa][rand(5)], payload, mask));
      }
      const closeAt = frames.reduce((n, f) => n + f.length, 0) + CLOSE.length;
      const stream = Buffer.concat([...frames, CLOSE]);
      const cuts: number[] = [];
      for (let at = rand(20) + 1; at < stream.length; at += 1 + rand(at % 3 === 0 ? 20 : 40000))
        cuts.push(at);
      const reads = cut(stream, ...cuts);
      const results = feed(reads);
      // -1 for every read before the one that completes the close frame, which gets its end.
      let offset = 0;
      const expected = reads.map((r) => {
        const start = offset;
        offset += r.length;
        return start < closeAt && closeAt <= offset ? closeAt - start : -1;
      });
      expect(results).toEqual(expected);
    }
  });
});
