/**
 * Pooled randomness for masking keys (RFC 6455 5.3) and Sec-WebSocket-Key nonces (4.1).
 *
 * One `crypto.randomFillSync` call fills an 8 KiB pool; each caller copies the bytes it needs
 * out of it. A client sending small messages needs 4 fresh bytes per frame, and a system call
 * per frame would cost more than the frame itself; here it is one call per 2048 masks.
 *
 * RFC 6455 5.3: the masking key "MUST be derived from a strong source of entropy"; the pool is
 * filled by the CSPRNG and every byte is handed out once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8 * 1024;
const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * Fill `length` bytes of `target` from `start` (default: all of it) with cryptographically
 * strong random bytes. Matches core/sender.ts's RandomFill and handshake's generateKey().
 */
export function randomFill(target: Buffer | Uint8Array, start = 0, length = target.length - start): void {
  if (length > POOL_SIZE / 4) {
    randomFillSync(target, start, length);
    return;
  }
  if (offset + length > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  // The offset only moves forward, so no byte is handed out twice.
  for (let i = 0; i < length; i++) target[start + i] = pool[offset + i];
  offset += length;
}
