/**
 * Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 1.3, 4.1, 4.2.2).
 *
 * The accept value's SHA-1 is computed here in JavaScript for every valid key (writeAcceptKey),
 * node:crypto for anything else; randomness is I/O, so generateKey() takes the random source as
 * a parameter (the Node layer passes its pooled crypto source, tests pass a deterministic one).
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { UsageError } from '../core/errors.js';

type OneShotHash = (algorithm: string, data: string | Buffer, outputEncoding: 'base64') => string;
const oneShotHash = (crypto as unknown as { hash?: OneShotHash }).hash;

/** RFC 6455 1.3: the globally unique identifier concatenated with the key. */
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The length of an accept value: 20 bytes of SHA-1 in base64. */
export const ACCEPT_LENGTH = 28;

/**
 * RFC 6455 4.2.2 item 5.4: the server "MUST" answer with "the base64-encoded SHA-1 of the
 * concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded) with the string
 * '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'". The key is hashed as the bytes received (latin1).
 */
export function acceptKey(key: string): string {
  if (typeof key !== 'string')
    throw new UsageError('WS_ERR_INVALID_KEY', 'acceptKey: the key must be a string');
  if (isValidKey(key)) {
    writeAcceptKey(key, SCRATCH, 0);
    return SCRATCH.toString('latin1', 0, ACCEPT_LENGTH);
  }
  // Any other string (a client checking a peer's answer to a key it did not send): the general
  // path. crypto.hash (Node >= 20.12) is one call with no Hash object.
  if (oneShotHash !== undefined) return oneShotHash('sha1', Buffer.from(key + GUID, 'latin1'), 'base64');
  return createHash('sha1')
    .update(key + GUID, 'latin1')
    .digest('base64');
}

const SCRATCH = Buffer.allocUnsafe(ACCEPT_LENGTH);

/**
 * acceptKey(key) for a valid key (isValidKey), written as ACCEPT_LENGTH latin1 bytes into `out`
 * at `at`: the 101 response is built without the accept string.
 *
 * Why not node:crypto: with its SHA-1 of these 60 bytes (crypto.hash, OpenSSL 3) a server spent
 * about 10 % more CPU per handshake under `wsload connect` (bench/ANALYSIS.md, "Handshakes: the
 * accept key in JavaScript"); the input here is always 60 bytes, two SHA-1 blocks, of which the
 * second and most of the first are constant. The hash is not a
 * secret's: RFC 6455 10.1 uses it only to show that the server read the handshake. Tests
 * compare it with node:crypto over random keys.
 */
export function writeAcceptKey(key: string, out: Uint8Array, at: number): void {
  // FIPS 180-4 5.1.1 and 6.1.2. Block 1: the key's 24 bytes (words 0-5), the GUID's 36 (words
  // 6-14), the padding's 0x80 and three zero bytes (word 15): the message is 60 bytes.
  const w = W;
  for (let i = 0; i < 6; i++) {
    const j = i * 4;
    w[i] =
      ((key.charCodeAt(j) << 24) |
        (key.charCodeAt(j + 1) << 16) |
        (key.charCodeAt(j + 2) << 8) |
        key.charCodeAt(j + 3)) >>>
      0;
  }
  for (let i = 6; i < 16; i++) w[i] = BLOCK1_TAIL[i - 6];
  const h = H;
  h[0] = 0x67452301;
  h[1] = 0xefcdab89;
  h[2] = 0x98badcfe;
  h[3] = 0x10325476;
  h[4] = 0xc3d2e1f0;
  compress(h, w);
  // Block 2: zeros, then the message length in bits (60 * 8 = 480) in the last word.
  w.fill(0, 0, 15);
  w[15] = 480;
  compress(h, w);
  // Base64 (RFC 4648 4) of the 20 digest bytes, big-endian words: 6 groups of 3 bytes, then 2
  // bytes and one '='.
  let bits = 0;
  let nbits = 0;
  let o = at;
  for (let i = 0; i < 5; i++) {
    const word = h[i];
    for (let k = 24; k >= 0; k -= 8) {
      bits = (bits << 8) | ((word >>> k) & 0xff);
      nbits += 8;
      while (nbits >= 6) {
        nbits -= 6;
        out[o++] = B64_CHARS[(bits >>> nbits) & 63];
      }
      bits &= (1 << nbits) - 1;
    }
  }
  out[o++] = B64_CHARS[(bits << (6 - nbits)) & 63];
  out[o] = 0x3d;
}

/** The GUID's bytes after the key, as block 1's words 6-15, with the padding's 0x80. */
const BLOCK1_TAIL = new Uint32Array(10);
{
  const tail = Buffer.alloc(40);
  tail.write(GUID, 0, 'latin1');
  tail[36] = 0x80;
  for (let i = 0; i < 10; i++) BLOCK1_TAIL[i] = tail.readUInt32BE(i * 4);
}
const W = new Uint32Array(80);
const H = new Uint32Array(5);
const B64_CHARS = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');

/** FIPS 180-4 6.1.2 step 1-4: one 512-bit block (w[0..15]) into the state h. */
function compress(h: Uint32Array, w: Uint32Array): void {
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = h[0];
  let b = h[1];
  let c = h[2];
  let d = h[3];
  let e = h[4];
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0;
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
