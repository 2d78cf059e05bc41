/**
 * Property: arbitrary bytes into the parser produce only documented errors (ProtocolError with a
 * code from PEER_ERRORS and its close code), never an exception out of the core, and never
 * unbounded memory (allocation stays within maxPayload plus the input).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PEER_ERRORS } from '../../src/core/errors.js';
import { makeFrame, Opcode, serializeFrame } from '../../src/core/frame.js';
import { State } from '../../src/core/protocol.js';
import { makeProtocol } from './helpers.js';

const KNOWN = new Set<string>(Object.values(PEER_ERRORS).map(([code]) => code));
const CLOSE_CODES = new Map<string, number>(
  Object.values(PEER_ERRORS).map(([code, closeCode]) => [code, closeCode]),
);

/** Byte strings biased towards plausible frames: valid headers with random fields and payloads. */
const frameish = fc
  .record({
    fin: fc.boolean(),
    rsv: fc.integer({ min: 0, max: 7 }),
    opcode: fc.integer({ min: 0, max: 15 }),
    masked: fc.boolean(),
    payload: fc.uint8Array({ maxLength: 140 }),
  })
  .map(({ fin, rsv, opcode, masked, payload }) => {
    const f = serializeFrame({
      ...makeFrame(opcode, Buffer.from(payload)),
      fin,
      rsv1: (rsv & 4) !== 0,
      rsv2: (rsv & 2) !== 0,
      rsv3: (rsv & 1) !== 0,
      mask: masked ? Buffer.from([1, 2, 3, 4]) : null,
    });
    return new Uint8Array(f);
  });

const input = fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), frameish), { maxLength: 20 });

describe('property: arbitrary input yields only documented errors', () => {
  for (const role of ['client', 'server'] as const) {
    it(`test_${role}_receives arbitrary bytes in arbitrary chunks`, () => {
      fc.assert(
        fc.property(input, fc.nat({ max: 7 }), (chunks, split) => {
          const { proto, sink } = makeProtocol(role, { maxPayload: 4096 });
          const bytes = Buffer.concat(chunks.map((c) => Buffer.from(c)));
          const step = split + 1;
          expect(() => {
            for (let i = 0; i < bytes.length; i += step)
              proto.receive(Buffer.from(bytes.subarray(i, i + step)));
            proto.receiveEof();
          }).not.toThrow();
          const errors = sink.events.filter((e) => e.type === 'error');
          expect(errors.length).toBeLessThanOrEqual(1);
          for (const e of errors) {
            if (e.type !== 'error') continue;
            expect(KNOWN.has(e.code)).toBe(true);
            expect(e.closeCode).toBe(CLOSE_CODES.get(e.code));
          }
          // Nothing is delivered after a close or an error.
          const stop = sink.events.findIndex((e) => e.type === 'error' || e.type === 'close');
          if (stop >= 0) expect(sink.events.length).toBe(stop + 1);
          expect(proto.state).toBe(State.CLOSED);
          for (const e of sink.events)
            if (e.type === 'message') expect(e.data.length).toBeLessThanOrEqual(2 * 4096);
        }),
        { numRuns: 3000 },
      );
    });
  }

  it('a huge declared length never allocates before the limit check', () => {
    const { proto, sink } = makeProtocol('client', { maxPayload: 1024 * 1024 });
    const before = process.memoryUsage().arrayBuffers;
    // Claims 2^40 bytes, sends 8 of them.
    proto.receive(Buffer.from('827f0000010000000000' + '00'.repeat(8), 'hex'));
    expect(sink.events).toMatchObject([{ type: 'error', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    expect(Opcode.BINARY).toBe(2);
  });
});
