import { describe, expect, it } from 'vitest';
import { encodeClosePayload, isValidCloseCode, parseClosePayload } from '../../src/core/close.js';
import { ProtocolError, UsageError } from '../../src/core/errors.js';

describe('RFC 6455 7.4 status codes', () => {
  it('accepts exactly the codes allowed on the wire', () => {
    const valid: number[] = [];
    for (let c = 0; c < 6000; c++) if (isValidCloseCode(c)) valid.push(c);
    const expected = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];
    for (let c = 3000; c <= 4999; c++) expected.push(c);
    expect(valid).toEqual(expected);
  });
});

describe('RFC 6455 5.5.1 close payloads', () => {
  it('round-trips a code and a UTF-8 reason', () => {
    const p = encodeClosePayload(1001, 'au revoir ✓');
    expect(p.readUInt16BE(0)).toBe(1001);
    expect(parseClosePayload(p)).toEqual({ code: 1001, reason: 'au revoir ✓' });
  });

  it('an empty payload means 1005 (no status)', () => {
    expect(encodeClosePayload().length).toBe(0);
    expect(parseClosePayload(Buffer.alloc(0))).toEqual({ code: 1005, reason: '' });
  });

  it('a reason is at most 123 bytes (counted in UTF-8)', () => {
    expect(encodeClosePayload(1000, 'é'.repeat(61)).length).toBe(124);
    expect(() => encodeClosePayload(1000, 'é'.repeat(62))).toThrow(UsageError);
  });

  it('peer errors are values with codes, not exceptions', () => {
    const one = parseClosePayload(Buffer.from([3]));
    expect(one).toBeInstanceOf(ProtocolError);
    expect(one).toMatchObject({ code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', closeCode: 1002 });
    expect(parseClosePayload(Buffer.from([0x03, 0xee]))).toMatchObject({ code: 'WS_ERR_INVALID_CLOSE_CODE' });
    expect(parseClosePayload(Buffer.from([0x03, 0xe8, 0xff]))).toMatchObject({
      code: 'WS_ERR_INVALID_UTF8',
      closeCode: 1007,
    });
  });

  it('skipUtf8Validation skips the reason too, as ws does (the code is still checked)', () => {
    expect(parseClosePayload(Buffer.from([0x03, 0xe8, 0xff]), true)).toMatchObject({ code: 1000 });
    expect(parseClosePayload(Buffer.from([0x03, 0xee, 0xff]), true)).toMatchObject({
      code: 'WS_ERR_INVALID_CLOSE_CODE',
    });
  });
});
