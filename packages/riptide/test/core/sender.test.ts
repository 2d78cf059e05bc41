// Outgoing frames (sender.ts): masking by role, vectors, copies avoided, misuse.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
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
