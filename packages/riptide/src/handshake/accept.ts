/**
 * Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 1.3, 4.1, 4.2.2).
 *
 * Hashing is not I/O, so node:crypto is used here; randomness is, so generateKey() takes the
 * random source as a parameter (the Node layer passes its pooled crypto source, tests pass a
 * deterministic one).
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { UsageError } from '../core/errors.js';

/** RFC 6455 1.3: the globally unique identifier concatenated with the key. */
type OneShotHash = (algorithm: string, data: string | Buffer, outputEncoding: 'base64') => string;
const oneShotHash = (crypto as unknown as { hash?: OneShotHash }).hash;

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A valid key (24 bytes) followed by the GUID: acceptKey's input, reused. */
const KEY_AND_GUID = Buffer.from(`${'='.repeat(24)}${GUID}`, 'latin1');

/**
 * RFC 6455 4.2.2 item 5.4: the server "MUST" answer with "the base64-encoded SHA-1 of the
 * concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded) with the string
 * '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'". The key is hashed as the bytes received (latin1).
 */
export function acceptKey(key: string): string {
  if (typeof key !== 'string')
    throw new UsageError('WS_ERR_INVALID_KEY', 'acceptKey: the key must be a string');
  // crypto.hash (Node >= 20.12) is one call with no Hash object to allocate and collect:
  // about 3% of a server's CPU in the handshakes-per-second benchmark went to Hash, update and
  // digest.
  if (oneShotHash !== undefined) {
    if (isValidKey(key)) {
      // The key written in front of the GUID's bytes: no concatenated string to build and
      // flatten per handshake.
      KEY_AND_GUID.write(key, 0, 'latin1');
      return oneShotHash('sha1', KEY_AND_GUID, 'base64');
    }
    return oneShotHash('sha1', Buffer.from(key + GUID, 'latin1'), 'base64');
  }
  return createHash('sha1')
    .update(key + GUID, 'latin1')
    .digest('base64');
}

/** Value of each base64 alphabet character (RFC 4648 4), -1 for the rest. */
const B64 = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
}

/**
 * RFC 6455 4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value
 * that, when decoded, is 16 bytes in length." 16 bytes encode to exactly 22 base64
 * characters and "==". The 22nd character's 4 unused low bits are not required to be zero
 * (RFC 4648 3.5 lets a decoder accept them; they still decode to 16 bytes).
 */
export function isValidKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length !== 24) return false;
  if (key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    if (c >= 128 || B64[c] < 0) return false;
  }
  return true;
}

/**
 * RFC 6455 4.1 item 7: the key is "a randomly selected 16-byte value that has been
 * base64-encoded"; "The nonce MUST be selected randomly for each connection."
 */
export function generateKey(randomFill: (b: Buffer) => void): string {
  if (typeof randomFill !== 'function') {
    throw new UsageError('WS_ERR_INVALID_OPTION', 'generateKey: randomFill must be a function');
  }
  // alloc (zeroed), not allocUnsafe: a randomFill that fills too little must not leak memory.
  const nonce = Buffer.alloc(16);
  randomFill(nonce);
  return nonce.toString('base64');
}
