/**
 * core/errors.ts: the error classes, their stable codes and names, the brands behind
 * `instanceof`, and PEER_ERRORS, the one table from a peer's violation to a close code.
 * (Each violation's detection is tested where it is detected: receiver, protocol, codec.)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValidCloseCode } from '../../src/core/close.js';
import {
  CloseCode,
  HandshakeError,
  PEER_ERRORS,
  type PeerViolation,
  ProtocolError,
  peerError,
  RiptideError,
  UsageError,
  UsageRangeError,
  UsageSyntaxError,
} from '../../src/core/errors.js';
import { HANDSHAKE_ERRORS } from '../../src/handshake/errors.js';

const VIOLATIONS = Object.keys(PEER_ERRORS) as PeerViolation[];

describe('CloseCode', () => {
  it('holds the RFC 6455 7.4.1 codes and those registered since (IANA), by value', () => {
    expect(CloseCode).toEqual({
      NORMAL: 1000,
      GOING_AWAY: 1001,
      PROTOCOL_ERROR: 1002,
      UNSUPPORTED_DATA: 1003,
      NO_STATUS: 1005,
      ABNORMAL: 1006,
      INVALID_PAYLOAD: 1007,
      POLICY_VIOLATION: 1008,
      MESSAGE_TOO_BIG: 1009,
      MANDATORY_EXTENSION: 1010,
      INTERNAL_ERROR: 1011,
      SERVICE_RESTART: 1012,
      TRY_AGAIN_LATER: 1013,
      BAD_GATEWAY: 1014,
      TLS_HANDSHAKE: 1015,
    });
  });

  it('the three reserved codes are exactly the ones never valid on the wire', () => {
    const neverSent = Object.values(CloseCode).filter((c) => !isValidCloseCode(c));
    expect(neverSent.sort()).toEqual([CloseCode.NO_STATUS, CloseCode.ABNORMAL, CloseCode.TLS_HANDSHAKE]);
  });
});

describe('PEER_ERRORS: the one table from a violation to a close code', () => {
  it('maps each violation to the close code its RFC (or SECURITY.md) names', () => {
    const closeCodes = Object.fromEntries(VIOLATIONS.map((v) => [v, PEER_ERRORS[v][1]]));
    expect(closeCodes).toEqual({
      // RFC 6455 7.4.1: 1002, a protocol error (frame syntax, fragmentation, control frames)
      WS_ERR_UNEXPECTED_RSV_1: 1002,
      WS_ERR_UNEXPECTED_RSV_2_3: 1002,
      WS_ERR_INVALID_OPCODE: 1002,
      WS_ERR_EXPECTED_MASK: 1002,
      WS_ERR_UNEXPECTED_MASK: 1002,
      WS_ERR_LENGTH_MSB: 1002,
      WS_ERR_NON_MINIMAL_LENGTH: 1002,
      WS_ERR_EXPECTED_CONTINUATION: 1002,
      WS_ERR_UNEXPECTED_CONTINUATION: 1002,
      WS_ERR_FRAGMENTED_CONTROL: 1002,
      WS_ERR_CONTROL_TOO_LONG: 1002,
      WS_ERR_INVALID_CLOSE_PAYLOAD: 1002,
      WS_ERR_INVALID_CLOSE_CODE: 1002,
      // 1009: a message too big to process (SECURITY.md: maxPayload, lengths above 2^53 - 1)
      WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
      WS_ERR_MESSAGE_TOO_BIG: 1009,
      // 1008: policy (SECURITY.md: maxFragments, maxBufferedChunks, maxBackpressure)
      WS_ERR_TOO_MANY_FRAGMENTS: 1008,
      WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
      WS_ERR_BACKPRESSURE: 1008,
      // 1007: data inconsistent with the message type (RFC 6455 8.1: invalid UTF-8)
      WS_ERR_INVALID_UTF8: 1007,
      WS_ERR_INVALID_CLOSE_UTF8: 1007,
      WS_ERR_INVALID_COMPRESSED_DATA: 1007,
      // 1006: no close frame can be sent (recorded, never on the wire)
      WS_ERR_CLOSE_TIMEOUT: 1006,
      WS_ERR_HEARTBEAT_TIMEOUT: 1006,
      WS_ERR_PENDING_PONGS: 1006,
      // 1011: an internal error, not the peer's doing
      WS_ERR_COMPRESSION_FAILED: 1011,
      WS_ERR_BLOB_READ_FAILED: 1011,
    });
  });

  it('every close code in it can be sent, or is 1006 (the connection is dropped)', () => {
    for (const v of VIOLATIONS) {
      const closeCode = PEER_ERRORS[v][1];
      expect(closeCode === 1006 || isValidCloseCode(closeCode), v).toBe(true);
    }
  });

  it('each row has a stable code in the WS_ERR_ (or zlib Z_) family and a message', () => {
    for (const v of VIOLATIONS) {
      const [code, , message] = PEER_ERRORS[v];
      expect(v).toMatch(/^WS_ERR_[A-Z0-9_]+$/);
      expect(code, v).toMatch(/^(WS_ERR|Z)_[A-Z0-9_]+$/);
      expect(message.length, v).toBeGreaterThan(0);
    }
  });

  it('violations are distinct, and the codes they share with ws name one close code each', () => {
    // Keys of an object are distinct by construction; the check here is that the same key was
    // not written twice in the source (the later row would silently win).
    const source = readFileSync(join(__dirname, '../../src/core/errors.ts'), 'utf8');
    const start = source.indexOf('export const PEER_ERRORS');
    const table = source.slice(start, source.indexOf('} as const', start));
    const keys = [...table.matchAll(/^ {2}(WS_ERR_[A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(keys).toEqual(VIOLATIONS);
    // ws reports several violations under one code (e.g. WS_ERR_INVALID_OPCODE): a caller reading
    // err.code must still be able to tell the close code from it.
    const closeByCode = new Map<string, Set<number>>();
    for (const v of VIOLATIONS) {
      const [code, closeCode] = PEER_ERRORS[v];
      closeByCode.set(code, (closeByCode.get(code) ?? new Set()).add(closeCode));
    }
    for (const [code, closes] of closeByCode) expect([...closes], code).toHaveLength(1);
  });

  it('no peer error code is also a handshake error code', () => {
    const handshake = new Set(Object.keys(HANDSHAKE_ERRORS));
    for (const v of VIOLATIONS) {
      expect(handshake.has(v), v).toBe(false);
      expect(handshake.has(PEER_ERRORS[v][0]), v).toBe(false);
    }
  });

  it('no other source file pairs a WS_ERR_ code with a close code (the table is the one place)', () => {
    const src = join(__dirname, '../../src');
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : name.endsWith('.ts') ? [path] : [];
      });
    const pair = /'(WS_ERR_[A-Z0-9_]+)'\s*,\s*10\d\d\b|\b10\d\d\s*,\s*'(WS_ERR_[A-Z0-9_]+)'/;
    const offenders = walk(src)
      .filter((f) => relative(src, f) !== join('core', 'errors.ts'))
      .filter((f) => pair.test(readFileSync(f, 'utf8')))
      .map((f) => relative(src, f));
    expect(offenders).toEqual([]);
    // The pattern matches a row of the table itself (it is not vacuous).
    expect(pair.test(readFileSync(join(src, 'core', 'errors.ts'), 'utf8'))).toBe(true);
  });
});

describe('ProtocolError', () => {
  it('takes its code, close code and message from the table, for every violation', () => {
    for (const v of VIOLATIONS) {
      const [code, closeCode, message] = PEER_ERRORS[v];
      const err = new ProtocolError(v);
      expect(err).toMatchObject({ code, closeCode, message, violation: v });
      expect(err.errno).toBeUndefined();
      expect(err).toBeInstanceOf(RangeError);
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err).toBeInstanceOf(RiptideError);
    }
  });

  it('appends a numeric detail after a space (as ws: "invalid opcode 3") and a string one in parentheses', () => {
    expect(new ProtocolError('WS_ERR_INVALID_OPCODE', 3).message).toBe(
      'Invalid WebSocket frame: invalid opcode 3',
    );
    expect(new ProtocolError('WS_ERR_INVALID_OPCODE', 0).message).toBe(
      'Invalid WebSocket frame: invalid opcode 0',
    );
    expect(new ProtocolError('WS_ERR_INVALID_CLOSE_CODE', 'code 999').message).toBe(
      'Invalid WebSocket frame: invalid status code (code 999)',
    );
    expect(new ProtocolError('WS_ERR_INVALID_CLOSE_CODE', '').message).toBe(
      'Invalid WebSocket frame: invalid status code',
    );
  });

  it("is named like ws's error: RangeError, except UTF-8 and dropped connections (Error)", () => {
    for (const v of VIOLATIONS) {
      const err = new ProtocolError(v);
      const plain = err.code === 'WS_ERR_INVALID_UTF8' || err.closeCode === 1006;
      expect(err.name, v).toBe(plain ? 'Error' : 'RangeError');
      expect(String(err), v).toBe(`${err.name}: ${err.message}`);
    }
  });

  it('keeps a cause', () => {
    const cause = new Error('inner');
    expect(new ProtocolError('WS_ERR_COMPRESSION_FAILED', undefined, { cause }).cause).toBe(cause);
  });

  it("fromZlib reports zlib's message, code and errno, as ws does, with 1007", () => {
    const err = ProtocolError.fromZlib('invalid stored block lengths', -3, 'Z_DATA_ERROR');
    expect(err).toMatchObject({
      code: 'Z_DATA_ERROR',
      errno: -3,
      message: 'invalid stored block lengths',
      closeCode: 1007,
      violation: 'WS_ERR_INVALID_COMPRESSED_DATA',
      name: 'Error',
    });
    expect(err).toBeInstanceOf(ProtocolError);
    // Without a message or a code from zlib, the table's stand.
    const bare = ProtocolError.fromZlib('', -3, undefined);
    expect(bare).toMatchObject({ code: 'Z_DATA_ERROR', message: 'invalid compressed data', errno: -3 });
  });

  it('peerError() is the same error as the constructor', () => {
    const a = peerError('WS_ERR_INVALID_OPCODE', 7);
    const b = new ProtocolError('WS_ERR_INVALID_OPCODE', 7);
    expect(a).toBeInstanceOf(ProtocolError);
    expect({ ...a, message: a.message, name: a.name }).toEqual({ ...b, message: b.message, name: b.name });
  });
});

describe('HandshakeError, UsageError, UsageRangeError, UsageSyntaxError', () => {
  it('carry the code (and a handshake the status) they are given', () => {
    const h = new HandshakeError('WS_ERR_HANDSHAKE_KEY', 400, 'bad key');
    expect(h).toMatchObject({ code: 'WS_ERR_HANDSHAKE_KEY', status: 400, message: 'bad key', name: 'Error' });
    const u = new UsageError('WS_ERR_INVALID_OPTION', 'bad option');
    expect(u).toMatchObject({ code: 'WS_ERR_INVALID_OPTION', message: 'bad option', name: 'TypeError' });
    expect(u).toBeInstanceOf(TypeError);
    const r = new UsageRangeError('WS_ERR_INVALID_OPTION', 'out of range');
    expect(r).toMatchObject({ name: 'RangeError' });
    expect(r).toBeInstanceOf(RangeError);
    const s = new UsageSyntaxError('WS_ERR_INVALID_URL', 'bad url');
    expect(s).toMatchObject({ name: 'SyntaxError' });
    expect(s).toBeInstanceOf(SyntaxError);
    const base = new RiptideError('WS_ERR_X', 'x', { cause: 1 });
    expect(base).toMatchObject({ code: 'WS_ERR_X', name: 'Error', cause: 1 });
  });

  it('are named Error for the codes ws throws a plain Error for, whatever the class', () => {
    for (const code of [
      'WS_ERR_NOT_OPEN',
      'WS_ERR_HANDSHAKE_TWICE',
      'WS_ERR_NO_SERVER',
      'WS_ERR_NOT_RUNNING',
    ]) {
      expect(new UsageError(code, 'm').name, code).toBe('Error');
      expect(new UsageRangeError(code, 'm').name, code).toBe('Error');
      expect(new UsageSyntaxError(code, 'm').name, code).toBe('Error');
      expect(String(new UsageError(code, 'm'))).toBe('Error: m');
    }
  });

  it("are plain Errors, not TypeErrors, for those codes (ws's `instanceof TypeError` means bad arguments); still UsageErrors", () => {
    for (const code of [
      'WS_ERR_NOT_OPEN',
      'WS_ERR_HANDSHAKE_TWICE',
      'WS_ERR_NO_SERVER',
      'WS_ERR_NOT_RUNNING',
    ]) {
      const err = new UsageError(code, 'm', { cause: 1 });
      expect(err instanceof TypeError, code).toBe(false);
      expect(err).toBeInstanceOf(Error);
      expect(err).toBeInstanceOf(UsageError);
      expect(err).toBeInstanceOf(RiptideError);
      expect(err).toMatchObject({ code, message: 'm', name: 'Error', cause: 1 });
      expect(err.stack).toContain('Error: m');
    }
    expect(new UsageError('WS_ERR_INVALID_OPTION', 'm')).toBeInstanceOf(TypeError);
  });
});

describe('instanceof (brands)', () => {
  const protocol = new ProtocolError('WS_ERR_INVALID_UTF8');
  const handshake = new HandshakeError('WS_ERR_HANDSHAKE_KEY', 400, 'm');
  const usage = new UsageError('WS_ERR_INVALID_OPTION', 'm');
  const usageRange = new UsageRangeError('WS_ERR_INVALID_OPTION', 'm');
  const usageSyntax = new UsageSyntaxError('WS_ERR_INVALID_URL', 'm');
  const riptide = new RiptideError('WS_ERR_X', 'm');

  it('every error of the library is a RiptideError; foreign values are not', () => {
    for (const err of [protocol, handshake, usage, usageRange, usageSyntax, riptide])
      expect(err instanceof RiptideError, err.constructor.name).toBe(true);
    for (const value of [new Error('m'), new RangeError('m'), null, undefined, 'WS_ERR_X', 1, {}])
      expect(value instanceof RiptideError).toBe(false);
  });

  it('each class recognises its own kind and no other', () => {
    const table: Array<[unknown, Function[]]> = [
      [protocol, [ProtocolError]],
      [handshake, [HandshakeError]],
      [usage, [UsageError]],
      [usageRange, [UsageError, UsageRangeError]],
      [usageSyntax, [UsageError, UsageSyntaxError]],
      [riptide, []],
    ];
    const classes = [ProtocolError, HandshakeError, UsageError, UsageRangeError, UsageSyntaxError];
    for (const [err, yes] of table)
      for (const cls of classes)
        expect(err instanceof cls, `${(err as Error).constructor.name} instanceof ${cls.name}`).toBe(
          yes.includes(cls),
        );
  });

  it("an error of another copy of the library (same Symbol.for brand) counts as this copy's", () => {
    const kind = Symbol.for('riptide.errorKind');
    class OtherUsage extends TypeError {}
    Object.defineProperty(OtherUsage.prototype, kind, { value: 'usage' });
    const foreign = new OtherUsage('m');
    expect(foreign instanceof UsageError).toBe(true);
    expect(foreign instanceof RiptideError).toBe(true);
    expect(foreign instanceof ProtocolError).toBe(false);
    // A brand that is no kind of ours is not enough.
    class Odd extends Error {}
    Object.defineProperty(Odd.prototype, kind, { value: 'something-else' });
    expect(new Odd('m') instanceof RiptideError).toBe(false);
  });

  it('a subclass of a library class matches by its prototype chain only', () => {
    class MyUsage extends UsageError {}
    expect(new MyUsage('WS_ERR_X', 'm') instanceof MyUsage).toBe(true);
    expect(new MyUsage('WS_ERR_X', 'm') instanceof UsageError).toBe(true);
    expect(usage instanceof MyUsage).toBe(false);
  });
});
