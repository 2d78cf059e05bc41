import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  ACCEPT_LENGTH,
  acceptKey,
  GUID,
  generateKey,
  isValidKey,
  writeAcceptKey,
} from '../../src/handshake/accept.js';
import { RFC_ACCEPT, RFC_KEY } from './helpers.js';

const SCRATCH_OUT = Buffer.alloc(28);

describe('RFC 6455 1.3 Sec-WebSocket-Accept', () => {
  it('uses the GUID of the RFC', () => {
    expect(GUID).toBe('258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  });

  it('answers the example key of section 1.3 with the example accept value', () => {
    // "dGhlIHNhbXBsZSBub25jZQ==" -> "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    expect(acceptKey(RFC_KEY)).toBe(RFC_ACCEPT);
  });

  it('hashes the key as a string, not base64-decoded', () => {
    expect(acceptKey('AAAAAAAAAAAAAAAAAAAAAA==')).not.toBe(acceptKey('AAAAAAAAAAAAAAAAAAAAAB=='));
    expect(acceptKey('AAAAAAAAAAAAAAAAAAAAAA==')).toBe('ICX+Yqv66kxgM0FcWaLWlFLwTAI=');
  });

  it('equals SHA-1 over key + GUID for any key, valid (its reused input buffer) or not, interleaved', () => {
    const reference = (key: string) =>
      createHash('sha1')
        .update(key + GUID, 'latin1')
        .digest('base64');
    const valid = fc
      .uint8Array({ minLength: 16, maxLength: 16 })
      .map((b) => Buffer.from(b).toString('base64'));
    fc.assert(
      fc.property(
        fc.array(fc.oneof(valid, fc.string({ maxLength: 40 })), { minLength: 1, maxLength: 6 }),
        (keys) => {
          for (const key of keys) expect(acceptKey(key)).toBe(reference(key));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writeAcceptKey writes the same value as 28 latin1 bytes at the offset, and nothing else', () => {
    const reference = (key: string) =>
      createHash('sha1')
        .update(key + GUID, 'latin1')
        .digest('base64');
    expect(ACCEPT_LENGTH).toBe(28);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(8), (nonce, at) => {
        const key = Buffer.from(nonce).toString('base64');
        const out = Buffer.alloc(at + ACCEPT_LENGTH + 3, 0xee);
        writeAcceptKey(key, out, at);
        expect(out.toString('latin1', at, at + ACCEPT_LENGTH)).toBe(reference(key));
        expect(out.subarray(0, at).every((b) => b === 0xee)).toBe(true);
        expect(out.subarray(at + ACCEPT_LENGTH).every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 1000 },
    );
    writeAcceptKey(RFC_KEY, SCRATCH_OUT, 0);
    expect(SCRATCH_OUT.toString('latin1')).toBe(RFC_ACCEPT);
  });

  it('acceptKey and writeAcceptKey agree with node:crypto for every alphabet character at every position', () => {
    // The edges a random nonce rarely hits: the highest and lowest character codes ('+' 43, 'z'
    // 122) in every word of the first block, and the 22nd character's unused low bits set.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const out = Buffer.alloc(ACCEPT_LENGTH);
    const wrong: string[] = [];
    for (const fill of ['A', '/', 'z', '+']) {
      for (let at = 0; at < 22; at++) {
        for (const c of alphabet) {
          const key = `${fill.repeat(at)}${c}${fill.repeat(21 - at)}==`;
          expect(isValidKey(key)).toBe(true);
          const reference = createHash('sha1')
            .update(key + GUID, 'latin1')
            .digest('base64');
          writeAcceptKey(key, out, 0);
          if (acceptKey(key) !== reference || out.toString('latin1') !== reference) wrong.push(key);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('throws UsageError for a non-string key', () => {
    expect(() => acceptKey(undefined as never)).toThrow(UsageError);
    expect(() => acceptKey(undefined as never)).toThrow('acceptKey: the key must be a string');
  });
});

describe('RFC 6455 4.2.1 item 5 Sec-WebSocket-Key validity (base64 of 16 bytes)', () => {
  it.each([RFC_KEY, 'AAAAAAAAAAAAAAAAAAAAAA==', '+/+/+/+/+/+/+/+/+/+/+w==', 'zzzzzzzzzzzzzzzzzzzzzw=='])(
    'accepts %j',
    (key) => {
      expect(isValidKey(key)).toBe(true);
      expect(Buffer.from(key, 'base64')).toHaveLength(16);
    },
  );

  it('accepts non-zero unused bits in the last character (still 16 bytes; RFC 4648 3.5)', () => {
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAB==')).toBe(true);
  });

  it.each([
    ['no padding', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['one padding character', 'dGhlIHNhbXBsZSBub25jZQ='],
    ['15 bytes', 'AAAAAAAAAAAAAAAAAAAA'],
    ['17 bytes', 'AAAAAAAAAAAAAAAAAAAAAAA='],
    ['base64url characters', 'dGhlIHNhbXBsZSBub25jZQ-_'],
    ['a base64url key of 16 bytes', '-_AAAAAAAAAAAAAAAAAAAA=='],
    ['a surrounding space', ' dGhlIHNhbXBsZSBub25jZQ=='],
    ['padding in the middle', 'dGhlIHNhbX=sZSBub25jZQ=='],
    ['an empty string', ''],
    ['non-ASCII', 'dGhlIHNhbXBsZSBub25jZ\u00e9=='],
  ])('rejects %s', (_what, key) => {
    expect(isValidKey(key)).toBe(false);
  });

  it('rejects non-strings', () => {
    for (const v of [undefined, null, 16, ['dGhlIHNhbXBsZSBub25jZQ==']]) expect(isValidKey(v)).toBe(false);
  });

  it('accepts the encoding of any 16 bytes and no encoding of any other length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        expect(isValidKey(Buffer.from(bytes).toString('base64'))).toBe(bytes.length === 16);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('RFC 6455 4.1 item 7 generateKey', () => {
  it('encodes 16 bytes from the given random source', () => {
    const key = generateKey((b) => {
      expect(b).toHaveLength(16);
      for (let i = 0; i < b.length; i++) b[i] = i;
    });
    expect(key).toBe('AAECAwQFBgcICQoLDA0ODw==');
    expect(isValidKey(key)).toBe(true);
  });

  it('calls the random source once per key, with a fresh zeroed buffer', () => {
    const seen: Buffer[] = [];
    const key = generateKey((b) => {
      seen.push(b);
    });
    generateKey((b) => {
      seen.push(b);
    });
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    expect(key).toBe('AAAAAAAAAAAAAAAAAAAAAA==');
  });

  it('throws UsageError without a random source', () => {
    expect(() => generateKey(undefined as never)).toThrow(UsageError);
    expect(() => generateKey(undefined as never)).toThrow('generateKey: randomFill must be a function');
  });
});
