import { describe, expect, it } from 'vitest';
import { headerSize, makeFrame, Opcode, serializeFrame, writeHeader } from '../../src/core/frame.js';
import { Protocol } from '../../src/core/protocol.js';
import { RecordingSink } from './helpers.js';

describe('RFC 6455 5.2 base framing', () => {
  it('uses the minimal length encoding at each boundary', () => {
    const cases: Array<[number, string]> = [
      [0, '8200'],
      [125, '827d'],
      [126, '827e007e'],
      [65535, '827effff'],
      [65536, '827f0000000000010000'],
      [2 ** 32, '827f0000000100000000'],
      [Number.MAX_SAFE_INTEGER, '827f001fffffffffffff'],
    ];
    for (const [len, headerHex] of cases) {
      const h = Buffer.alloc(10);
      const end = writeHeader(h, 0, Opcode.BINARY, true, false, len, false);
      expect(h.subarray(0, end).toString('hex')).toBe(headerHex);
      expect(headerSize(len, false)).toBe(end);
      expect(headerSize(len, true)).toBe(end + 4);
    }
  });

  it('serialises flags and masks; the parser reads back the same frame', () => {
    const frame = {
      ...makeFrame(Opcode.BINARY, Buffer.from([9, 8, 7])),
      fin: false,
      mask: Buffer.from([1, 2, 3, 4]),
    };
    const bytes = serializeFrame(frame);
    expect(bytes.toString('hex')).toBe('028301020304080a04');
    const sink = new RecordingSink();
    const proto = new Protocol(sink, { role: 'server' });
    proto.receive(bytes);
    proto.receive(
      serializeFrame({ ...makeFrame(Opcode.CONTINUATION, Buffer.alloc(0)), mask: Buffer.from([5, 6, 7, 8]) }),
    );
    expect(sink.events).toEqual([{ type: 'message', data: '090807', isBinary: true }]);
  });

  it('serialises RSV bits for tests of invalid frames', () => {
    const f = serializeFrame({ ...makeFrame(Opcode.TEXT, ''), rsv1: true, rsv2: true, rsv3: true });
    expect(f[0]).toBe(0xf1);
  });
});
